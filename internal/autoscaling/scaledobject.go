package autoscaling

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

// ErrInvalidSpec marks a decision that cannot be made because the spec is
// wrong; retrying will not help until the spec changes.
var ErrInvalidSpec = errors.New("invalid autoscaling spec")

// KEDA's ScaledObject defaults (apis/keda/v1alpha1/scaledobject_types.go,
// pkg/scaling/executor/scale_executor.go).
const (
	DefaultMinReplicaCount       int32 = 0
	DefaultMaxReplicaCount       int32 = 100
	DefaultCooldownPeriod              = 300 * time.Second
	DefaultInitialCooldownPeriod       = 0 * time.Second
)

// CompositeMetricName names the scalingModifiers formula result, as in KEDA.
const CompositeMetricName = "composite-metric"

// FallbackBehavior selects what a failing trigger is replaced with.
type FallbackBehavior string

// The fallback behaviors KEDA supports (pkg/fallback/fallback.go). KEDA's
// fifth behavior, scalingModifiers, is not supported.
const (
	FallbackStatic                  FallbackBehavior = "static"
	FallbackCurrentReplicas         FallbackBehavior = "currentReplicas"
	FallbackCurrentReplicasIfHigher FallbackBehavior = "currentReplicasIfHigher"
	FallbackCurrentReplicasIfLower  FallbackBehavior = "currentReplicasIfLower"
)

// Fallback is spec.fallback.
type Fallback struct {
	// FailureThreshold: the fallback replaces a trigger once it has failed
	// more than this many times in a row (KEDA counts failures > threshold).
	FailureThreshold int32
	Replicas         int32
	// Behavior defaults to static.
	Behavior FallbackBehavior
}

// ScalingModifiers is spec.advanced.scalingModifiers: a formula over the
// trigger values (by trigger name) that replaces them with one metric.
type ScalingModifiers struct {
	Formula string
	// Target and ActivationTarget are decimal strings, as in the CRD.
	Target           string
	ActivationTarget string
	// MetricType defaults to AverageValue.
	MetricType autoscalingv2.MetricTargetType
}

// Trigger is one trigger's reading for this evaluation.
type Trigger struct {
	// Name identifies the trigger in formulas and in the failure counts;
	// unnamed or repeated names (one trigger read as several metrics) are
	// keyed by name and position. Names must be unique with a formula.
	Name string
	// MetricType is AverageValue (default) or Value.
	MetricType autoscalingv2.MetricTargetType
	// Value is the metric value, summed over whatever the trigger measures.
	Value float64
	// Target is the trigger's target value (> 0).
	Target float64
	// ActivationTarget: the trigger is active when Value > ActivationTarget.
	ActivationTarget float64
	// Err is non-nil when the value could not be read; Value is then ignored.
	Err error
}

// ScaledObjectState is what DecideTotal needs from its previous call. The
// caller stores it in the object's status so it survives a restart or a
// leader change, and passes it back unchanged on the next call.
type ScaledObjectState struct {
	// LastActiveTime is when a trigger was last seen active.
	LastActiveTime *metav1.Time `json:"lastActiveTime,omitempty"`
	// TriggerFailures counts consecutive read failures per trigger (only
	// while a fallback is configured, like KEDA's status.health).
	TriggerFailures map[string]int32 `json:"triggerFailures,omitempty"`
	// History is the HPA's stabilisation and rate-limit memory.
	History History `json:"history,omitzero"`
}

// ScaledObjectInput is everything DecideTotal looks at. Optional spec fields
// are pointers, nil meaning the KEDA default.
type ScaledObjectInput struct {
	Triggers         []Trigger
	ScalingModifiers *ScalingModifiers

	// CurrentReplicas is the target's spec.replicas (for a DSO: summed over
	// the eligible members); ReadyReplicas the ready pods (summed likewise).
	CurrentReplicas int32
	ReadyReplicas   int32

	MinReplicaCount  *int32
	MaxReplicaCount  *int32
	IdleReplicaCount *int32
	// CooldownPeriod and InitialCooldownPeriod are in seconds, as in the CRD.
	CooldownPeriod        *int32
	InitialCooldownPeriod *int32

	Fallback *Fallback
	// Behavior is spec.advanced.horizontalPodAutoscalerConfig.behavior.
	Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior
	Pause    Pause
	// ForceActivation is the autoscaling.keda.sh/force-activation annotation
	// (ForceActivation reads it): the object counts as active whatever the
	// triggers say.
	ForceActivation bool

	// CreationTime is the object's creationTimestamp; it starts the initial
	// cooldown of an object that was never active.
	CreationTime time.Time
	State        ScaledObjectState
	// SyncPeriod is the HPA's sync period (--horizontal-pod-autoscaler-sync-period; the
	// controller's --hpa-sync-period): a total held back by a rate limit is re-evaluated
	// after it. 0 means HPASyncPeriod.
	SyncPeriod time.Duration
}

// syncPeriod is SyncPeriod or its default.
func (in ScaledObjectInput) syncPeriod() time.Duration {
	if in.SyncPeriod > 0 {
		return in.SyncPeriod
	}
	return HPASyncPeriod
}

// Condition is one condition-like fact; the caller turns it into a
// metav1.Condition.
type Condition struct {
	Status  metav1.ConditionStatus
	Reason  string
	Message string
}

// Conditions are the facts KEDA reports on a ScaledObject.
type Conditions struct {
	Ready    Condition
	Active   Condition
	Fallback Condition
	Paused   Condition
}

// Condition reasons, as KEDA spells them (defined in api/v1alpha1/reasons.go).
const (
	ReasonReady               = v1alpha1.ReasonScaledObjectReady
	ReasonTriggerError        = v1alpha1.ReasonTriggerError
	ReasonPartialTriggerError = v1alpha1.ReasonPartialTriggerError
	ReasonInvalidSpec         = v1alpha1.ReasonInvalidSpec
	ReasonScalerActive        = v1alpha1.ReasonScalerActive
	ReasonScalerNotActive     = v1alpha1.ReasonScalerNotActive
	ReasonScalerCooldown      = v1alpha1.ReasonScalerCooldown
	ReasonFallbackExists      = v1alpha1.ReasonFallbackExists
	ReasonNoFallbackFound     = v1alpha1.ReasonNoFallbackFound
	ReasonPaused              = v1alpha1.ReasonScaledObjectPaused
	ReasonNotPaused           = v1alpha1.ReasonScaledObjectNotPaused
)

// TriggerStatus is one trigger as evaluated, for display.
type TriggerStatus struct {
	Name       string
	MetricType autoscalingv2.MetricTargetType
	// Value is what was read, or what the fallback substituted.
	Value               float64
	Target              float64
	Active              bool
	Error               string
	ConsecutiveFailures int32
	FallbackActive      bool
}

// ScaledObjectDecision is the outcome of one evaluation.
type ScaledObjectDecision struct {
	// DesiredReplicas is the total to apply.
	DesiredReplicas int32
	// Active: at least one trigger (or the formula) is active.
	Active bool
	// State must be stored and passed back on the next call.
	State      ScaledObjectState
	Conditions Conditions
	// Triggers lists every trigger, then the formula result when
	// scalingModifiers are used.
	Triggers []TriggerStatus
	// RateLimited: an HPA scale-up limit or Pods/Percent policy held the total
	// short of where the metrics and stabilisation put it, and will allow more
	// on a later evaluation; Stabilized: a stabilisation window held it.
	RateLimited bool
	Stabilized  bool
	// Reason says in one line why the total is what it is.
	Reason string
	// RequeueAfter is when evaluating again can change the outcome without
	// any input changing (end of a cooldown, next HPA period); 0 means never.
	RequeueAfter time.Duration
}

// soSpec is the input with defaults applied and strings parsed.
type soSpec struct {
	min, max        int32
	idle            *int32
	cooldown        time.Duration
	initialCooldown time.Duration
	// fallback is the fallback when it is valid (KEDA's HasValidFallback):
	// only then are failures counted and values replaced. configured is the
	// fallback as written, valid or not: KEDA's scale executor only asks
	// whether spec.fallback is set. invalidFallback says why it is ignored.
	fallback        *Fallback
	configured      *Fallback
	invalidFallback string
	modifiers       *modifiersSpec
	behavior        *effectiveBehavior
}

type modifiersSpec struct {
	program    *vm.Program
	target     float64
	activation float64
	metricType autoscalingv2.MetricTargetType
}

// DecideTotal decides the total replica count of a scaled object from its
// trigger readings, the way KEDA and the HPA together would in one cluster:
// KEDA's activation, cooldown, idle, fallback and pause rules
// (pkg/scaling/executor/scale_scaledobjects.go, pkg/scaling/scale_handler.go,
// pkg/fallback/fallback.go) around the HPA's replica math and rate limits.
//
// The only error is ErrInvalidSpec (wrapped); the decision then keeps the
// current total and the state unchanged.
func DecideTotal(in ScaledObjectInput, now time.Time) (ScaledObjectDecision, error) {
	current, ready := max(in.CurrentReplicas, 0), max(in.ReadyReplicas, 0)
	spec, err := resolveSpec(in)
	if err != nil {
		return invalidSpecDecision(in, current, err), err
	}
	trig := evaluateTriggers(in, spec, current, ready)
	d := readyDecision(in, spec, trig, current)
	if in.Pause.frozen() {
		return decidePaused(in, spec, current, d), nil
	}
	if in.ForceActivation {
		forceActivation(&trig, &d)
	}
	if in.Pause.ScaleIn || in.Pause.ScaleOut {
		d.Conditions.Paused = Condition{Status: metav1.ConditionTrue, Reason: ReasonPaused, Message: pausedDirections(in.Pause)}
	}
	var runHPA bool
	if trig.active {
		runHPA = decideActive(in, spec, trig, current, now, &d)
	} else {
		runHPA = decideInactive(in, spec, trig, current, now, &d)
	}
	if runHPA && current > 0 {
		applyHPA(in, spec, trig, current, ready, now, &d)
	}
	if d.DesiredReplicas != current {
		d.Reason = fmt.Sprintf("%d → %d: %s", current, d.DesiredReplicas, d.Reason)
	}
	return d, nil
}

// readyDecision is the decision before any rule runs: keep the current total, carry
// the state over, and report the conditions of a ready object with these triggers.
func readyDecision(in ScaledObjectInput, spec soSpec, trig triggerResult, current int32) ScaledObjectDecision {
	d := ScaledObjectDecision{
		DesiredReplicas: current,
		Active:          trig.active,
		State: ScaledObjectState{
			LastActiveTime:  in.State.LastActiveTime,
			TriggerFailures: trig.failures,
			History:         in.State.History.DeepCopy(),
		},
		Triggers: trig.statuses,
		Conditions: Conditions{
			Ready:    Condition{Status: metav1.ConditionTrue, Reason: ReasonReady, Message: "ScaledObject is defined correctly and is ready for scaling"},
			Fallback: fallbackCondition(trig, spec),
			Paused:   Condition{Status: metav1.ConditionFalse, Reason: ReasonNotPaused, Message: "ScaledObject is not paused"},
		},
	}
	if trig.active {
		d.Conditions.Active = Condition{Status: metav1.ConditionTrue, Reason: ReasonScalerActive, Message: "Scaling is performed because triggers are active"}
	} else {
		d.Conditions.Active = Condition{Status: metav1.ConditionFalse, Reason: ReasonScalerNotActive, Message: "Scaling is not performed because triggers are not active"}
	}
	return d
}

// forceActivation applies the force-activation annotation: KEDA (scale_scaledobjects.go
// RequestScale) treats the object as active and says so, whatever the triggers read.
func forceActivation(trig *triggerResult, d *ScaledObjectDecision) {
	trig.active = true
	d.Active = true
	d.Conditions.Active = Condition{Status: metav1.ConditionTrue, Reason: ReasonScalerActive, Message: "Scaling is performed because activation is being forced by annotation"}
	if len(trig.activeNames) == 0 {
		trig.activeNames = []string{"annotation " + AnnotationForceActivation}
	}
}

// decideActive is KEDA's scale executor with an active trigger: it activates a target at
// zero (or below minReplicaCount with idleReplicaCount) itself and leaves the rest to the
// HPA. It reports whether the HPA's rules run.
func decideActive(in ScaledObjectInput, spec soSpec, trig triggerResult, current int32, now time.Time, d *ScaledObjectDecision) bool {
	switch {
	case (spec.idle != nil && current < spec.min) || current == 0:
		// KEDA activates the target itself; the HPA only works above zero.
		if in.Pause.ScaleOut {
			d.Reason = fmt.Sprintf("triggers active but scale-out is paused: keeping %d", current)
			return false
		}
		d.DesiredReplicas = max(spec.min, 1)
		d.State.LastActiveTime = ptrTime(now)
		d.Reason = fmt.Sprintf("triggers active (%s): activating", strings.Join(trig.activeNames, ", "))
		d.RequeueAfter = in.syncPeriod() // the HPA math takes over on its next period
		return false
	case trig.anyError:
		// KEDA leaves lastActiveTime alone when some trigger failed.
		d.Conditions.Ready = Condition{Status: metav1.ConditionUnknown, Reason: ReasonPartialTriggerError, Message: "Some triggers are not working correctly: " + trig.firstError}
		return true
	default:
		d.State.LastActiveTime = ptrTime(now)
		return true
	}
}

// decideInactive is KEDA's scale executor with no active trigger: fallback on failures,
// scale to minReplicaCount or idleReplicaCount once the cooldown has passed, raise a total
// below minReplicaCount. It reports whether the HPA's rules run.
func decideInactive(in ScaledObjectInput, spec soSpec, trig triggerResult, current int32, now time.Time, d *ScaledObjectDecision) bool {
	switch {
	case trig.anyError && spec.configured != nil && spec.configured.Replicas != 0:
		// The fallback takes over once the failure threshold is passed;
		// until then nothing may scale in because of the failure.
		d.Reason = fmt.Sprintf("trigger failing (%s); fallback to %d replicas after %d failures", trig.firstError, spec.configured.Replicas, spec.configured.FailureThreshold)
		if spec.invalidFallback != "" {
			d.Reason = fmt.Sprintf("trigger failing (%s); keeping %d: %s", trig.firstError, current, spec.invalidFallback)
		}
		return true
	case trig.anyError && spec.configured == nil:
		d.Conditions.Ready = Condition{Status: metav1.ConditionFalse, Reason: ReasonTriggerError, Message: "Triggers are not working correctly: " + trig.firstError}
		d.Reason = fmt.Sprintf("triggers failing (%s): keeping %d", trig.firstError, current)
		return true
	case (spec.idle != nil && current > *spec.idle) || (current > 0 && spec.min == 0):
		return decideCooldown(in, spec, current, now, d)
	case spec.idle == nil && current < spec.min:
		d.DesiredReplicas = spec.min
		d.Reason = fmt.Sprintf("triggers inactive: raising %d to minReplicaCount %d", current, spec.min)
		return false
	default:
		d.Reason = fmt.Sprintf("triggers inactive: keeping %d", current)
		// At or below idleReplicaCount the HPA would fight KEDA (it
		// raises anything below its minimum), so the idle total holds.
		return spec.idle == nil || current > *spec.idle
	}
}

// decideCooldown scales an inactive target to minReplicaCount (or idleReplicaCount) once
// the cooldown has passed; until then the HPA's rules still run. It reports whether they do.
func decideCooldown(in ScaledObjectInput, spec soSpec, current int32, now time.Time, d *ScaledObjectDecision) bool {
	if in.Pause.ScaleIn {
		d.Reason = "triggers inactive but scale-in is paused"
		return true
	}
	end := cooldownEnd(in, spec)
	if end.Before(now) {
		d.DesiredReplicas = spec.min
		target := "minReplicaCount"
		if spec.idle != nil {
			d.DesiredReplicas, target = *spec.idle, "idleReplicaCount"
		}
		d.Reason = fmt.Sprintf("triggers inactive past the cooldown: scaling to %s %d", target, d.DesiredReplicas)
		return false
	}
	d.Conditions.Active = Condition{Status: metav1.ConditionFalse, Reason: ReasonScalerCooldown, Message: "Scaler cooling down because triggers are not active"}
	// KEDA compares with Before, so the end instant itself still cools down.
	d.RequeueAfter = end.Sub(now) + time.Millisecond
	d.Reason = fmt.Sprintf("triggers inactive, cooling down until %s", end.UTC().Format(time.RFC3339))
	return true
}

// applyHPA runs the HPA's replica math, stabilisation and rate limits on the metrics
// (the HPA never runs at zero replicas).
func applyHPA(in ScaledObjectInput, spec soSpec, trig triggerResult, current, ready int32, now time.Time, d *ScaledObjectDecision) {
	res := evaluateHPA(hpaInput{
		current:  current,
		ready:    ready,
		min:      max(spec.min, 1),
		max:      spec.max,
		metrics:  trig.metrics,
		behavior: spec.behavior,
		history:  d.State.History,
	}, now)
	d.DesiredReplicas = res.desired
	d.State.History = res.history
	d.RateLimited, d.Stabilized = res.rateLimited, res.stabilized
	if res.heldBack() {
		d.RequeueAfter = shorterRequeue(d.RequeueAfter, in.syncPeriod())
	}
	if res.limitReason != limitInvalidMetrics || d.Reason == "" {
		d.Reason = joinReasons(d.Reason, res.reason)
	}
}

// decidePaused applies the pause annotations that stop scaling: KEDA stops
// the scale loop and deletes the HPA, so the HPA memory is dropped (a new HPA
// starts empty) while lastActiveTime and the failure counts stay as they were.
// KEDA returns before it touches the Active condition (RequestScale's
// handlePaused) or, with a valid fallback, the Fallback condition, so both
// are left as they were: an empty Condition means "unchanged".
func decidePaused(in ScaledObjectInput, spec soSpec, current int32, d ScaledObjectDecision) ScaledObjectDecision {
	d.State = ScaledObjectState{
		LastActiveTime:  in.State.LastActiveTime,
		TriggerFailures: maps.Clone(in.State.TriggerFailures),
	}
	d.Conditions.Active = Condition{}
	if spec.fallback != nil {
		d.Conditions.Fallback = Condition{}
	}
	d.Conditions.Paused = Condition{Status: metav1.ConditionTrue, Reason: ReasonPaused, Message: "ScaledObject is paused"}
	if in.Pause.Replicas != nil {
		d.DesiredReplicas = *in.Pause.Replicas
		d.Reason = fmt.Sprintf("paused at %d replicas by annotation %s", d.DesiredReplicas, AnnotationPausedReplicas)
	} else {
		d.DesiredReplicas = current
		d.Reason = fmt.Sprintf("paused by annotation %s: keeping %d", AnnotationPaused, current)
	}
	return d
}

func invalidSpecDecision(in ScaledObjectInput, current int32, err error) ScaledObjectDecision {
	return ScaledObjectDecision{
		DesiredReplicas: current,
		State: ScaledObjectState{
			LastActiveTime:  in.State.LastActiveTime,
			TriggerFailures: maps.Clone(in.State.TriggerFailures),
			History:         in.State.History.DeepCopy(),
		},
		Conditions: Conditions{
			Ready:    Condition{Status: metav1.ConditionFalse, Reason: ReasonInvalidSpec, Message: err.Error()},
			Active:   Condition{Status: metav1.ConditionUnknown, Reason: ReasonInvalidSpec},
			Fallback: Condition{Status: metav1.ConditionUnknown, Reason: ReasonInvalidSpec},
			Paused:   Condition{Status: metav1.ConditionUnknown, Reason: ReasonInvalidSpec},
		},
		Reason: fmt.Sprintf("invalid spec: keeping %d: %v", current, err),
	}
}

// resolveSpec applies KEDA's defaults and its admission checks.
func resolveSpec(in ScaledObjectInput) (soSpec, error) {
	spec := soSpec{
		min:             valueOr(in.MinReplicaCount, DefaultMinReplicaCount),
		max:             valueOr(in.MaxReplicaCount, DefaultMaxReplicaCount),
		idle:            in.IdleReplicaCount,
		cooldown:        secondsOr(in.CooldownPeriod, DefaultCooldownPeriod),
		initialCooldown: secondsOr(in.InitialCooldownPeriod, DefaultInitialCooldownPeriod),
	}
	switch {
	case spec.min < 0 || spec.max < 1:
		return spec, fmt.Errorf("%w: minReplicaCount %d must be ≥ 0 and maxReplicaCount %d ≥ 1", ErrInvalidSpec, spec.min, spec.max)
	case spec.min > spec.max:
		return spec, fmt.Errorf("%w: minReplicaCount %d is greater than maxReplicaCount %d", ErrInvalidSpec, spec.min, spec.max)
	case spec.idle != nil && (*spec.idle < 0 || *spec.idle >= spec.min):
		return spec, fmt.Errorf("%w: idleReplicaCount %d must be ≥ 0 and less than minReplicaCount %d", ErrInvalidSpec, *spec.idle, spec.min)
	case spec.cooldown < 0 || spec.initialCooldown < 0:
		return spec, fmt.Errorf("%w: cooldownPeriod and initialCooldownPeriod must not be negative", ErrInvalidSpec)
	case in.Pause.Replicas != nil && *in.Pause.Replicas < 0:
		return spec, fmt.Errorf("%w: paused replicas %d must not be negative", ErrInvalidSpec, *in.Pause.Replicas)
	}
	seen := map[string]bool{}
	names := make([]string, 0, len(in.Triggers))
	for _, t := range in.Triggers {
		switch t.MetricType {
		case "", autoscalingv2.AverageValueMetricType, autoscalingv2.ValueMetricType:
		default:
			return spec, fmt.Errorf("%w: trigger %q: metricType %q is not AverageValue or Value", ErrInvalidSpec, t.Name, t.MetricType)
		}
		if t.Name == "" {
			continue
		}
		if seen[t.Name] && in.ScalingModifiers != nil {
			// The formula refers to triggers by name.
			return spec, fmt.Errorf("%w: trigger name %q is used more than once", ErrInvalidSpec, t.Name)
		}
		seen[t.Name] = true
		names = append(names, t.Name)
	}
	if f := in.Fallback; f != nil {
		fb := *f
		if fb.Behavior == "" {
			fb.Behavior = FallbackStatic
		}
		switch fb.Behavior {
		case FallbackStatic, FallbackCurrentReplicas, FallbackCurrentReplicasIfHigher, FallbackCurrentReplicasIfLower:
		default:
			return spec, fmt.Errorf("%w: fallback behavior %q is not supported", ErrInvalidSpec, fb.Behavior)
		}
		spec.configured = &fb
		spec.invalidFallback = invalidFallback(fb, in.ScalingModifiers)
		if spec.invalidFallback == "" {
			spec.fallback = &fb
		}
	}
	if m := in.ScalingModifiers; m != nil {
		mods, err := resolveModifiers(*m, names)
		if err != nil {
			return spec, err
		}
		spec.modifiers = mods
	}
	if err := validateBehavior(in.Behavior); err != nil {
		return spec, err
	}
	spec.behavior = resolveBehavior(pausedBehavior(in.Behavior, in.Pause))
	return spec, nil
}

// invalidFallback reproduces KEDA's HasValidFallback (pkg/fallback/fallback.go):
// a fallback needs failureThreshold ≥ 0, replicas ≥ 0 and, with
// scalingModifiers, a target that parses as an integer > 0 (strconv.ParseInt:
// "2.5" and "2.0" are refused although the formula accepts them). KEDA then
// neither counts failures nor falls back; it returns "" when the fallback is
// valid, else why it is ignored.
func invalidFallback(fb Fallback, m *ScalingModifiers) string {
	switch {
	case fb.FailureThreshold < 0 || fb.Replicas < 0:
		return fmt.Sprintf("fallback ignored: failureThreshold %d and replicas %d must not be negative", fb.FailureThreshold, fb.Replicas)
	case m != nil:
		if v, err := strconv.ParseInt(m.Target, 10, 64); err != nil || v <= 0 {
			return fmt.Sprintf("fallback ignored: with scalingModifiers KEDA needs an integer target > 0, not %q", m.Target)
		}
	}
	return ""
}

func resolveModifiers(m ScalingModifiers, triggerNames []string) (*modifiersSpec, error) {
	// The HPA reads metrics in milli-units: a target below 0.001 would round to 0 (a
	// division by zero in the replica math), so it is refused rather than changed.
	target, err := strconv.ParseFloat(m.Target, 64)
	if err != nil || !(target >= 0.001) || math.IsInf(target, 0) {
		return nil, fmt.Errorf("%w: scalingModifiers.target %q must be a number of at least 0.001 (metrics are in milli-units; a smaller target rounds to 0)", ErrInvalidSpec, m.Target)
	}
	activation := 0.0
	if m.ActivationTarget != "" {
		activation, err = strconv.ParseFloat(m.ActivationTarget, 64)
		if err != nil || math.IsNaN(activation) {
			return nil, fmt.Errorf("%w: scalingModifiers.activationTarget %q is not a number", ErrInvalidSpec, m.ActivationTarget)
		}
	}
	metricType := m.MetricType
	switch metricType {
	case "":
		metricType = autoscalingv2.AverageValueMetricType
	case autoscalingv2.AverageValueMetricType, autoscalingv2.ValueMetricType:
	default:
		return nil, fmt.Errorf("%w: scalingModifiers.metricType %q is not AverageValue or Value", ErrInvalidSpec, m.MetricType)
	}
	program, err := compileFormula(m.Formula, triggerNames)
	if err != nil {
		return nil, err
	}
	return &modifiersSpec{program: program, target: target, activation: activation, metricType: metricType}, nil
}

// pausedBehavior reproduces how KEDA builds the HPA for paused-scale-in /
// paused-scale-out (controllers/keda/hpa.go): that direction's selectPolicy
// becomes Disabled, creating a behavior if there was none, which also moves
// the HPA from its legacy rules to the behavior defaults.
func pausedBehavior(b *autoscalingv2.HorizontalPodAutoscalerBehavior, p Pause) *autoscalingv2.HorizontalPodAutoscalerBehavior {
	if !p.ScaleIn && !p.ScaleOut {
		return b
	}
	out := &autoscalingv2.HorizontalPodAutoscalerBehavior{}
	if b != nil {
		out = b.DeepCopy()
	}
	disabled := autoscalingv2.DisabledPolicySelect
	if p.ScaleIn {
		if out.ScaleDown == nil {
			out.ScaleDown = &autoscalingv2.HPAScalingRules{}
		}
		out.ScaleDown.SelectPolicy = &disabled
	}
	if p.ScaleOut {
		if out.ScaleUp == nil {
			out.ScaleUp = &autoscalingv2.HPAScalingRules{}
		}
		out.ScaleUp.SelectPolicy = &disabled
	}
	return out
}

// triggerResult is the triggers of one evaluation after fallback and formula.
type triggerResult struct {
	statuses       []TriggerStatus
	metrics        []hpaMetric
	active         bool
	activeNames    []string
	anyError       bool
	firstError     string
	fallbackActive bool
	failures       map[string]int32
}

// evaluateTriggers reproduces getScaledObjectState and the fallback of the
// metrics adapter: every trigger is read, a failing trigger past the failure
// threshold is replaced by a value that makes the HPA land on the fallback
// count (and counts as active), and with scalingModifiers the formula turns
// the values into the one composite metric.
func evaluateTriggers(in ScaledObjectInput, spec soSpec, current, ready int32) triggerResult {
	res := triggerResult{}
	if spec.fallback != nil {
		// Like KEDA's status.health, counts move only with a valid fallback.
		// Rebuilt from the current triggers, so a removed trigger or a
		// success leaves no count behind.
		res.failures = map[string]int32{}
	} else {
		// Without one KEDA leaves status.health as stored (GetMetricsWithFallback
		// returns before it touches it), so a fallback enabled later starts
		// from the count it had.
		res.failures = maps.Clone(in.State.TriggerFailures)
	}
	values := map[string]float64{}
	var fallbackMilli []int64
	keys := triggerKeys(in.Triggers)
	for i, t := range in.Triggers {
		metricType := t.MetricType
		if metricType == "" {
			metricType = autoscalingv2.AverageValueMetricType
		}
		st := TriggerStatus{Name: t.Name, MetricType: metricType, Value: t.Value, Target: t.Target}
		m := hpaMetric{name: t.Name, targetType: metricType, targetMilli: toMilli(t.Target)}
		if spec.modifiers != nil {
			// The fallback of a trigger feeding a formula is normalised to
			// the formula's target and type.
			m.targetType, m.targetMilli = spec.modifiers.metricType, toMilli(spec.modifiers.target)
		}
		err := readingError(t, spec.modifiers == nil)
		key := keys[i]
		if err == nil {
			st.Active = t.Value > t.ActivationTarget
			m.valueMilli = toMilli(t.Value)
			if t.Name != "" {
				values[t.Name] = t.Value
			}
		} else {
			st.Error = err.Error()
			replaced := false
			if spec.fallback != nil {
				res.failures[key] = in.State.TriggerFailures[key] + 1
				st.ConsecutiveFailures = res.failures[key]
				if st.ConsecutiveFailures > spec.fallback.FailureThreshold {
					if v, ok := fallbackValueMilli(*spec.fallback, m, current, ready); ok {
						replaced = true
						m.valueMilli, st.Value = v, float64(v)/1000
						st.Active, st.FallbackActive = true, true
						res.fallbackActive = true
						fallbackMilli = append(fallbackMilli, v)
					}
				}
			}
			if !replaced {
				m.invalid = true
				res.anyError = true
				if res.firstError == "" {
					res.firstError = fmt.Sprintf("%s: %v", displayName(t, i), err)
				}
			}
		}
		if st.Active {
			res.activeNames = append(res.activeNames, displayName(t, i))
		}
		res.statuses = append(res.statuses, st)
		res.metrics = append(res.metrics, m)
	}

	if spec.modifiers == nil {
		res.active = len(res.activeNames) > 0
		return res
	}
	composite, st := evaluateComposite(spec, res, values, fallbackMilli)
	res.metrics = []hpaMetric{composite}
	res.statuses = append(res.statuses, st)
	// With a formula only the formula decides activity, and any failing
	// trigger makes the whole object inactive.
	res.activeNames = nil
	res.active = !res.anyError && st.Active
	if res.active {
		res.activeNames = []string{CompositeMetricName}
	}
	return res
}

// evaluateComposite reproduces HandleScalingModifiers: while a fallback is
// active the composite metric is the fallback value; otherwise the formula is
// run over the trigger values (a nil result means the fallback replicas).
func evaluateComposite(spec soSpec, res triggerResult, values map[string]float64, fallbackMilli []int64) (hpaMetric, TriggerStatus) {
	mods := spec.modifiers
	m := hpaMetric{name: CompositeMetricName, targetType: mods.metricType, targetMilli: toMilli(mods.target)}
	st := TriggerStatus{Name: CompositeMetricName, MetricType: mods.metricType, Target: mods.target}
	switch {
	case res.fallbackActive:
		m.valueMilli = fallbackMilli[0]
		st.FallbackActive = true
	case res.anyError:
		m.invalid = true
		st.Error = "a trigger of the formula is failing"
		return m, st
	default:
		out, isNil, err := runFormula(mods.program, values)
		switch {
		case err != nil:
			m.invalid, st.Error = true, err.Error()
			return m, st
		case isNil && spec.fallback == nil:
			m.invalid, st.Error = true, "formula returned nil and no fallback is configured"
			return m, st
		case isNil:
			out = float64(spec.fallback.Replicas) * mods.target
		case math.IsNaN(out) || math.IsInf(out, 0):
			m.invalid, st.Error = true, fmt.Sprintf("formula returned %v", out)
			return m, st
		}
		// KEDA stores the result as a milli-quantity, truncating.
		m.valueMilli = truncMilli(out)
	}
	st.Value = float64(m.valueMilli) / 1000
	st.Active = st.Value > mods.activation
	return m, st
}

// fallbackValueMilli reproduces doFallback: a value that makes the HPA compute
// the fallback count — count × target for AverageValue, count / ready ×
// target for Value (impossible with no ready pods).
func fallbackValueMilli(fb Fallback, m hpaMetric, current, ready int32) (int64, bool) {
	replicas := float64(fb.Replicas)
	switch fb.Behavior {
	case FallbackCurrentReplicas:
		replicas = float64(current)
	case FallbackCurrentReplicasIfHigher:
		replicas = float64(max(current, fb.Replicas))
	case FallbackCurrentReplicasIfLower:
		replicas = float64(min(current, fb.Replicas))
	}
	if m.targetType == autoscalingv2.ValueMetricType {
		if ready == 0 {
			return 0, false
		}
		replicas /= float64(ready)
	}
	if m.targetMilli <= 0 {
		return 0, false
	}
	return truncMilli(float64(m.targetMilli) / 1000 * replicas), true
}

// readingError is the trigger's error, or a reason its reading is unusable.
func readingError(t Trigger, needsTarget bool) error {
	switch {
	case t.Err != nil:
		return t.Err
	case math.IsNaN(t.Value) || math.IsInf(t.Value, 0):
		return fmt.Errorf("value %v is not a finite number", t.Value)
	case needsTarget && (!(t.Target > 0) || math.IsInf(t.Target, 0) || toMilli(t.Target) == 0):
		return fmt.Errorf("target %v must be a finite number ≥ 0.001", t.Target)
	}
	return nil
}

func fallbackCondition(trig triggerResult, spec soSpec) Condition {
	if trig.fallbackActive {
		return Condition{Status: metav1.ConditionTrue, Reason: ReasonFallbackExists, Message: "At least one trigger is falling back on this scaled object"}
	}
	msg := "No fallbacks are active on this scaled object"
	if spec.invalidFallback != "" {
		msg += "; " + spec.invalidFallback
	}
	return Condition{Status: metav1.ConditionFalse, Reason: ReasonNoFallbackFound, Message: msg}
}

// cooldownEnd is when an inactive object may go to idle/min: lastActiveTime +
// cooldownPeriod, or creation + initialCooldownPeriod if it was never active.
func cooldownEnd(in ScaledObjectInput, spec soSpec) time.Time {
	if in.State.LastActiveTime == nil {
		return in.CreationTime.Add(spec.initialCooldown)
	}
	return in.State.LastActiveTime.Add(spec.cooldown)
}

func pausedDirections(p Pause) string {
	switch {
	case p.ScaleIn && p.ScaleOut:
		return "scale-in and scale-out are paused"
	case p.ScaleIn:
		return "scale-in is paused"
	}
	return "scale-out is paused"
}

// triggerKeys key the failure counts: the trigger name when it is unique,
// else the name (possibly empty) and the position, so that a trigger read as
// several metrics keeps one count per metric.
func triggerKeys(triggers []Trigger) []string {
	count := map[string]int{}
	for _, t := range triggers {
		count[t.Name]++
	}
	keys := make([]string, len(triggers))
	for i, t := range triggers {
		keys[i] = t.Name
		if t.Name == "" || count[t.Name] > 1 {
			keys[i] = t.Name + "#" + strconv.Itoa(i)
		}
	}
	return keys
}

func displayName(t Trigger, index int) string {
	if t.Name != "" {
		return t.Name
	}
	return fmt.Sprintf("trigger %d", index)
}

// toMilli converts to the milli-units the metrics API carries; rounding keeps
// decimal inputs such as 1.1 exact (1100) instead of 1100.0000000000002.
func toMilli(v float64) int64 {
	return saturateInt64(math.Round(v * 1000))
}

// truncMilli converts like KEDA's NewMilliQuantity(int64(v*1000)).
func truncMilli(v float64) int64 {
	return saturateInt64(math.Trunc(v * 1000))
}

func saturateInt64(v float64) int64 {
	switch {
	case math.IsNaN(v):
		return 0
	case v >= math.MaxInt64:
		return math.MaxInt64
	case v <= math.MinInt64:
		return math.MinInt64
	}
	return int64(v)
}

func valueOr(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}

func secondsOr(p *int32, def time.Duration) time.Duration {
	if p == nil {
		return def
	}
	return time.Duration(*p) * time.Second
}

func ptrTime(t time.Time) *metav1.Time {
	mt := metav1.NewTime(t)
	return &mt
}

func shorterRequeue(a, b time.Duration) time.Duration {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}

func joinReasons(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
