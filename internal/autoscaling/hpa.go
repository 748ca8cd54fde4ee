package autoscaling

import (
	"fmt"
	"math"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

// HPA constants, as in the kube-controller-manager defaults.
const (
	// HPASyncPeriod is how often the HPA re-evaluates by default (the
	// controller's --hpa-sync-period default); its rate limits apply per
	// evaluation, so a result held back by them is worth re-evaluating after
	// this long (ScaledObjectInput.SyncPeriod overrides it).
	HPASyncPeriod = 15 * time.Second
	// defaultTolerance is --horizontal-pod-autoscaler-tolerance.
	defaultTolerance = 0.1
	// defaultDownscaleStabilization is
	// --horizontal-pod-autoscaler-downscale-stabilization; it is also the
	// scale-down window when a behavior leaves it unset.
	defaultDownscaleStabilization = 300 * time.Second
	// Without a behavior, one evaluation may grow to at most
	// max(scaleUpLimitFactor × current, scaleUpLimitMinimum).
	scaleUpLimitFactor  = 2.0
	scaleUpLimitMinimum = 4.0
)

// Reasons the HPA gives for its ScalingLimited condition.
const (
	limitNone           = "DesiredWithinRange"
	limitScaleUp        = "ScaleUpLimit"
	limitScaleDown      = "ScaleDownLimit"
	limitTooMany        = "TooManyReplicas"
	limitTooFew         = "TooFewReplicas"
	limitInvalidMetrics = "InvalidMetrics"
)

// hpaMetric is one metric as the HPA sees it: an external metric with a Value
// or AverageValue target, in milli-units like the metrics API.
type hpaMetric struct {
	name        string
	targetType  autoscalingv2.MetricTargetType
	valueMilli  int64
	targetMilli int64
	// invalid marks a metric that could not be read this evaluation.
	invalid bool
}

// hpaInput is one HPA evaluation.
type hpaInput struct {
	current int32 // the target's spec.replicas (for a DSO: summed over members)
	ready   int32 // ready pods of the target, used by Value metrics
	min     int32 // HPA minReplicas: max(minReplicaCount, 1) for KEDA
	max     int32
	metrics []hpaMetric
	// behavior is nil for the legacy rules; otherwise fully defaulted.
	behavior *effectiveBehavior
	history  History
}

// hpaResult is what one evaluation decided.
type hpaResult struct {
	desired int32
	// unconstrained is what the metrics asked for, bounded to [min, max]:
	// where the HPA would land without stabilisation and rate limits.
	unconstrained int32
	// metricName is the metric that produced the highest proposal.
	metricName string
	// limitReason is the HPA's ScalingLimited reason.
	limitReason string
	// rateLimited: a scale-up limit or a Pods/Percent policy held the result
	// short of the (stabilised) recommendation and will allow more on a later
	// evaluation.
	rateLimited bool
	// stabilized: a stabilisation window held the result back.
	stabilized bool
	history    History
	reason     string
}

// bound clamps a count to the HPA's [min, max].
func (in hpaInput) bound(replicas int32) int32 { return min(max(replicas, in.min), in.max) }

// heldBack reports whether a later evaluation with the same inputs would move
// further, so the caller should come back after HPASyncPeriod.
func (r hpaResult) heldBack() bool { return r.rateLimited || r.stabilized }

// evaluateHPA reproduces one reconcileAutoscaler pass of the Kubernetes HPA
// (pkg/controller/podautoscaler/horizontal.go) for a target whose current
// size is above zero: bounds first, then the largest metric proposal, then
// stabilisation and rate limits, then the scale event is recorded.
func evaluateHPA(in hpaInput, now time.Time) hpaResult {
	hist := in.history.DeepCopy()
	hist.seedRecommendation(in.current, now)
	res := hpaResult{desired: in.current, unconstrained: in.current, limitReason: limitNone}

	// The HPA corrects out-of-bounds sizes before it looks at any metric.
	switch {
	case in.current > in.max:
		res.desired, res.unconstrained = in.max, in.max
		res.reason = fmt.Sprintf("current %d above maxReplicas %d", in.current, in.max)
	case in.current < in.min:
		res.desired, res.unconstrained = in.min, in.min
		res.reason = fmt.Sprintf("current %d below minReplicas %d", in.current, in.min)
	default:
		proposal, metricName, ok := proposeReplicas(in)
		if !ok {
			res.limitReason = limitInvalidMetrics
			res.reason = "metrics unavailable: keeping current size"
			res.history = hist
			return res
		}
		res.metricName = metricName
		res.unconstrained = in.bound(proposal)
		var stabilized int32
		if in.behavior == nil {
			stabilized, res.desired, res.limitReason = normalizeLegacy(in, proposal, &hist, now)
		} else {
			stabilized, res.desired, res.limitReason = normalizeWithBehavior(in, proposal, &hist, now)
		}
		// Bounds are not holding anything back; compare after applying them.
		res.stabilized = in.bound(stabilized) != res.unconstrained
		res.rateLimited = res.desired != in.bound(stabilized) && in.behavior.allowsMore(res.limitReason)
		res.reason = describeHPA(in.current, proposal, res)
	}
	if in.behavior != nil {
		hist.storeScaleEvent(*in.behavior, in.current, res.desired, now)
	}
	res.history = hist
	return res
}

// proposeReplicas reproduces computeReplicasForMetrics: every readable metric
// proposes a count and the largest wins. When no metric can be read, or some
// cannot and the readable ones would scale down, the HPA refuses to act (an
// unreadable metric must never cause a scale-down).
func proposeReplicas(in hpaInput) (replicas int32, metricName string, ok bool) {
	tol := in.behavior.tolerances()
	invalid := 0
	for _, m := range in.metrics {
		if m.invalid {
			invalid++
			continue
		}
		p := metricProposal(m, in.current, in.ready, tol)
		if replicas == 0 || p > replicas {
			replicas, metricName = p, m.name
		}
	}
	if invalid >= len(in.metrics) || (invalid > 0 && replicas < in.current) {
		return 0, "", false
	}
	return replicas, metricName, true
}

// tolerances is the HPA's per-direction dead band around a usage ratio of 1.
type tolerances struct{ down, up float64 }

func (t tolerances) within(ratio float64) bool {
	return 1-t.down <= ratio && ratio <= 1+t.up
}

// metricProposal reproduces the replica calculator for external metrics
// (replica_calculator.go): GetExternalPerPodMetricReplicas for AverageValue
// and GetExternalMetricReplicas/getUsageRatioReplicaCount for Value.
func metricProposal(m hpaMetric, current, ready int32, tol tolerances) int32 {
	value, target := float64(m.valueMilli), float64(m.targetMilli)
	if m.targetType == autoscalingv2.ValueMetricType {
		ratio := value / target
		if current == 0 {
			return ceilReplicas(ratio)
		}
		if tol.within(ratio) {
			return current
		}
		return ceilReplicas(ratio * float64(ready))
	}
	ratio := value / (target * float64(current))
	if tol.within(ratio) {
		return current
	}
	return ceilReplicas(value / target)
}

// ceilReplicas rounds a replica count up, saturating at the int32 range like
// the HPA does for huge metric values.
func ceilReplicas(x float64) int32 {
	switch {
	case math.IsNaN(x) || x <= 0:
		return 0
	case x >= math.MaxInt32:
		return math.MaxInt32
	}
	return int32(math.Ceil(x))
}

// normalizeLegacy reproduces normalizeDesiredReplicas (no behavior): the
// highest recommendation of the last 300 s wins, then the result is bounded to
// [min, min(max, max(2×current, 4))].
// It returns the stabilised recommendation and the final count.
func normalizeLegacy(in hpaInput, proposal int32, hist *History, now time.Time) (stabilized, desired int32, limitReason string) {
	cutoff := now.Add(-defaultDownscaleStabilization)
	stabilized = proposal
	for _, rec := range hist.Recommendations {
		if !rec.Timestamp.Time.Before(cutoff) && rec.Replicas > stabilized {
			stabilized = rec.Replicas
		}
	}
	hist.addRecommendation(proposal, now, defaultDownscaleStabilization)

	scaleUpLimit := ceilReplicas(math.Max(scaleUpLimitFactor*float64(in.current), scaleUpLimitMinimum))
	maxAllowed, reason := in.max, limitTooMany
	if in.max > scaleUpLimit {
		maxAllowed, reason = scaleUpLimit, limitScaleUp
	}
	switch {
	case stabilized < in.min:
		return stabilized, in.min, limitTooFew
	case stabilized > maxAllowed:
		return stabilized, maxAllowed, reason
	}
	return stabilized, stabilized, limitNone
}

// normalizeWithBehavior reproduces normalizeDesiredReplicasWithBehaviors:
// stabilizeRecommendationWithBehaviors (up = min over the scale-up window,
// down = max over the scale-down window, result = min(max(current, up), down))
// followed by convertDesiredReplicasWithBehaviorRate. It returns the
// stabilised recommendation and the final count.
func normalizeWithBehavior(in hpaInput, proposal int32, hist *History, now time.Time) (stabilized, desired int32, limitReason string) {
	b := in.behavior
	upCutoff, downCutoff := now.Add(-b.up.window), now.Add(-b.down.window)
	upRec, downRec := proposal, proposal
	for _, rec := range hist.Recommendations {
		if rec.Timestamp.Time.After(upCutoff) {
			upRec = min(upRec, rec.Replicas)
		}
		if rec.Timestamp.Time.After(downCutoff) {
			downRec = max(downRec, rec.Replicas)
		}
	}
	stabilized = min(max(in.current, upRec), downRec)
	hist.addRecommendation(proposal, now, max(b.up.window, b.down.window))

	desired, limitReason = applyBehaviorRate(in, stabilized, *hist, now)
	return stabilized, desired, limitReason
}

// applyBehaviorRate reproduces convertDesiredReplicasWithBehaviorRate.
func applyBehaviorRate(in hpaInput, stabilized int32, hist History, now time.Time) (int32, string) {
	b := in.behavior
	switch {
	case stabilized > in.current:
		limit := b.up.scaleUpLimit(in.current, hist, now)
		if limit < int64(in.current) {
			// Earlier scale-ups already used the budget of this period.
			limit = int64(in.current)
		}
		maxAllowed, reason := int64(in.max), limitTooMany
		if maxAllowed > limit {
			maxAllowed, reason = limit, limitScaleUp
		}
		if int64(stabilized) > maxAllowed {
			return int32(maxAllowed), reason
		}
	case stabilized < in.current:
		limit := b.down.scaleDownLimit(in.current, hist, now)
		if limit > int64(in.current) {
			limit = int64(in.current)
		}
		minAllowed, reason := int64(in.min), limitTooFew
		if minAllowed < limit {
			minAllowed, reason = limit, limitScaleDown
		}
		if int64(stabilized) < minAllowed {
			return int32(minAllowed), reason
		}
	}
	return stabilized, limitNone
}

func describeHPA(current, proposal int32, res hpaResult) string {
	var msg string
	switch {
	case proposal > current:
		msg = fmt.Sprintf("metric %q above target: wants %d", res.metricName, proposal)
	case proposal < current:
		msg = fmt.Sprintf("all metrics below target: wants %d", proposal)
	default:
		msg = fmt.Sprintf("metrics within tolerance of target at %d", current)
	}
	switch {
	case res.rateLimited:
		msg += fmt.Sprintf(", rate limited to %d (%s)", res.desired, res.limitReason)
	case res.stabilized:
		msg += fmt.Sprintf(", stabilisation window holds %d", res.desired)
	case res.limitReason == limitTooMany || res.limitReason == limitTooFew:
		msg += fmt.Sprintf(", bounded to %d", res.desired)
	}
	return msg
}

// scalingRules is one direction of a behavior after API defaulting.
type scalingRules struct {
	window    time.Duration
	selectPol autoscalingv2.ScalingPolicySelect
	policies  []autoscalingv2.HPAScalingPolicy
	tolerance float64
}

// effectiveBehavior is an HPA behavior with every default filled in.
type effectiveBehavior struct{ up, down scalingRules }

// resolveBehavior reproduces the API defaulting of an HPA behavior
// (pkg/apis/autoscaling/v2/defaults.go GenerateHPAScaleUpRules /
// GenerateHPAScaleDownRules) and the controller's scale-down window default
// (maybeInitScaleDownStabilizationWindow). A nil behavior stays nil: the HPA
// then uses its legacy rules.
func resolveBehavior(b *autoscalingv2.HorizontalPodAutoscalerBehavior) *effectiveBehavior {
	if b == nil {
		return nil
	}
	up := scalingRules{
		window:    0,
		selectPol: autoscalingv2.MaxChangePolicySelect,
		policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		},
		tolerance: defaultTolerance,
	}
	down := scalingRules{
		window:    defaultDownscaleStabilization,
		selectPol: autoscalingv2.MaxChangePolicySelect,
		policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		},
		tolerance: defaultTolerance,
	}
	overrideRules(&up, b.ScaleUp)
	overrideRules(&down, b.ScaleDown)
	return &effectiveBehavior{up: up, down: down}
}

// overrideRules copies every field the user set, like copyHPAScalingRules.
func overrideRules(to *scalingRules, from *autoscalingv2.HPAScalingRules) {
	if from == nil {
		return
	}
	if from.StabilizationWindowSeconds != nil {
		to.window = time.Duration(*from.StabilizationWindowSeconds) * time.Second
	}
	if from.SelectPolicy != nil {
		to.selectPol = *from.SelectPolicy
	}
	if from.Policies != nil {
		to.policies = from.Policies
	}
	if from.Tolerance != nil {
		to.tolerance = from.Tolerance.AsApproximateFloat64()
	}
}

// tolerances is tolerancesForHpa: 10 % both ways unless the behavior sets a
// per-direction tolerance (Kubernetes ≥ 1.33).
func (b *effectiveBehavior) tolerances() tolerances {
	if b == nil {
		return tolerances{down: defaultTolerance, up: defaultTolerance}
	}
	return tolerances{down: b.down.tolerance, up: b.up.tolerance}
}

// allowsMore reports whether a limit with this reason lifts on a later
// evaluation. A Disabled direction never lifts, so it is no reason to come
// back early.
func (b *effectiveBehavior) allowsMore(reason string) bool {
	switch reason {
	case limitScaleUp:
		return b == nil || b.up.selectPol != autoscalingv2.DisabledPolicySelect
	case limitScaleDown:
		return b != nil && b.down.selectPol != autoscalingv2.DisabledPolicySelect
	}
	return false
}

func (r scalingRules) longestPeriod() time.Duration {
	var longest int32
	for _, p := range r.policies {
		longest = max(longest, p.PeriodSeconds)
	}
	return time.Duration(longest) * time.Second
}

// periodStart is the size at the beginning of a policy period: the current
// size minus what was added and plus what was removed since.
func periodStart(current int32, period time.Duration, hist History, now time.Time) int64 {
	return int64(current) - replicasChangedWithin(hist.ScaleUpEvents, period, now) +
		replicasChangedWithin(hist.ScaleDownEvents, period, now)
}

// scaleUpLimit reproduces calculateScaleUpLimitWithScalingRules: each policy
// allows start+Pods or ceil(start×(1+Percent/100)); Max picks the most
// permissive, Min the least, Disabled allows nothing.
func (r scalingRules) scaleUpLimit(current int32, hist History, now time.Time) int64 {
	if r.selectPol == autoscalingv2.DisabledPolicySelect {
		return int64(current)
	}
	pickMin := r.selectPol == autoscalingv2.MinChangePolicySelect
	result := int64(math.MinInt32)
	if pickMin {
		result = math.MaxInt32
	}
	for _, p := range r.policies {
		start := periodStart(current, time.Duration(p.PeriodSeconds)*time.Second, hist, now)
		var proposed int64
		switch p.Type {
		case autoscalingv2.PodsScalingPolicy:
			proposed = start + int64(p.Value)
		case autoscalingv2.PercentScalingPolicy:
			// Rounded up so that a small percentage still adds a replica.
			proposed = int64(math.Ceil(float64(start) * (1 + float64(p.Value)/100)))
		}
		if pickMin {
			result = min(result, proposed)
		} else {
			result = max(result, proposed)
		}
	}
	return result
}

// scaleDownLimit reproduces calculateScaleDownLimitWithBehaviors: each policy
// allows start-Pods or floor(start×(1-Percent/100)); Max picks the most
// permissive (lowest), Min the least, Disabled allows nothing.
func (r scalingRules) scaleDownLimit(current int32, hist History, now time.Time) int64 {
	if r.selectPol == autoscalingv2.DisabledPolicySelect {
		return int64(current)
	}
	pickMin := r.selectPol == autoscalingv2.MinChangePolicySelect
	result := int64(math.MaxInt32)
	if pickMin {
		result = math.MinInt32
	}
	for _, p := range r.policies {
		start := periodStart(current, time.Duration(p.PeriodSeconds)*time.Second, hist, now)
		var proposed int64
		switch p.Type {
		case autoscalingv2.PodsScalingPolicy:
			proposed = start - int64(p.Value)
		case autoscalingv2.PercentScalingPolicy:
			proposed = int64(float64(start) * (1 - float64(p.Value)/100))
		}
		if pickMin {
			result = max(result, proposed)
		} else {
			result = min(result, proposed)
		}
	}
	return result
}
