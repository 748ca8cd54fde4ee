package autoscaling

import (
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The rules below are where an outside check against KEDA's and the HPA's own code found
// fleetscale deciding differently; each case names the upstream rule it reproduces (kedacore/keda
// main 2026-08, kubernetes/kubernetes v1.37.2).

// KEDA pkg/fallback/fallback.go GetMetricsWithFallback: without a (valid) fallback it returns
// before it touches status.health, so the stored failure count is neither reset nor increased;
// a fallback configured later starts from that count.
func TestRuleFailureCountKeptWithoutFallback(t *testing.T) {
	stored := map[string]int32{"cm": 4}
	for _, readErr := range []error{nil, errUnreachable} {
		in := walkthrough()
		in.Triggers[0].Err = readErr
		in.State.TriggerFailures = stored
		d, err := DecideTotal(in, t0)
		if err != nil {
			t.Fatal(err)
		}
		if !equalCounts(d.State.TriggerFailures, stored) {
			t.Errorf("read error %v: failures %v, want the stored %v untouched", readErr, d.State.TriggerFailures, stored)
		}
	}
	in := walkthrough()
	in.Triggers[0].Err = errUnreachable
	in.State.TriggerFailures = stored
	in.Fallback = &Fallback{FailureThreshold: 4, Replicas: 7}
	d, _ := DecideTotal(in, t0)
	if d.State.TriggerFailures["cm"] != 5 || d.Conditions.Fallback.Status != metav1.ConditionTrue || d.DesiredReplicas != 6 {
		t.Errorf("fallback enabled later: failures %v, Fallback %s, total %d: want 5, True and 6 (7, limited by the scale-up rule)",
			d.State.TriggerFailures, d.Conditions.Fallback.Status, d.DesiredReplicas)
	}
}

// KEDA pkg/scaling/executor/scale_scaledobjects.go RequestScale: handlePaused returns before
// SetActiveCondition, and the controller (handlePause) does not set it either, so paused and
// paused-replicas leave Active as it was. Fallback likewise, while a valid fallback exists.
func TestRulePausedLeavesActiveAsItWas(t *testing.T) {
	for _, pause := range []Pause{{Replicas: ptr(int32(2))}, {Paused: true}} {
		in := walkthrough()
		in.Pause = pause
		in.Fallback = &Fallback{FailureThreshold: 3, Replicas: 2}
		d, err := DecideTotal(in, t0)
		if err != nil {
			t.Fatal(err)
		}
		if d.Conditions.Active != (Condition{}) || d.Conditions.Fallback != (Condition{}) {
			t.Errorf("%+v: Active %+v Fallback %+v, want both left unset (unchanged)", pause, d.Conditions.Active, d.Conditions.Fallback)
		}
		if d.Conditions.Paused.Status != metav1.ConditionTrue {
			t.Errorf("%+v: Paused %+v", pause, d.Conditions.Paused)
		}
	}
	// Without a valid fallback the controller sets Fallback False (scaledobject_controller.go).
	in := walkthrough()
	in.Pause = Pause{Paused: true}
	d, _ := DecideTotal(in, t0)
	if d.Conditions.Fallback.Status != metav1.ConditionFalse {
		t.Errorf("paused without fallback: Fallback %+v, want False", d.Conditions.Fallback)
	}
}

// KEDA pkg/fallback/fallback.go HasValidFallback: with scalingModifiers the target must parse
// as an integer > 0 (strconv.ParseInt), or the fallback is ignored altogether (no counting, no
// replacement); the executor still sees spec.fallback set, so an inactive, failing object keeps
// its total and stays Ready (scale_scaledobjects.go, first inactive case).
func TestRuleFallbackNeedsAnIntegerModifiersTarget(t *testing.T) {
	for _, tc := range []struct {
		target    string
		applies   bool
		wantCount int32
	}{
		{target: "2", applies: true, wantCount: 4},
		{target: "2.5", wantCount: 3},
		{target: "2.0", wantCount: 3},
	} {
		in := walkthrough()
		in.CurrentReplicas, in.ReadyReplicas = 4, 4
		in.Triggers[0].Err = errUnreachable
		in.ScalingModifiers = &ScalingModifiers{Formula: "cm", Target: tc.target}
		in.Fallback = &Fallback{FailureThreshold: 3, Replicas: 6}
		in.State = ScaledObjectState{TriggerFailures: map[string]int32{"cm": 3}, History: oldHistory}
		d, err := DecideTotal(in, t0)
		if err != nil {
			t.Fatalf("target %q: %v", tc.target, err)
		}
		if got := d.Conditions.Fallback.Status == metav1.ConditionTrue; got != tc.applies {
			t.Errorf("target %q: fallback applied %v, want %v (%s)", tc.target, got, tc.applies, d.Conditions.Fallback.Message)
		}
		if d.State.TriggerFailures["cm"] != tc.wantCount {
			t.Errorf("target %q: failures %v, want %d", tc.target, d.State.TriggerFailures, tc.wantCount)
		}
		if !tc.applies {
			if d.DesiredReplicas != 4 || d.Conditions.Ready.Status != metav1.ConditionTrue {
				t.Errorf("target %q: total %d, Ready %s: want 4 kept and Ready (spec.fallback is set)", tc.target, d.DesiredReplicas, d.Conditions.Ready.Status)
			}
			if !strings.Contains(d.Conditions.Fallback.Message, "integer target") {
				t.Errorf("target %q: the Fallback condition must say why: %q", tc.target, d.Conditions.Fallback.Message)
			}
		}
	}
}

// KEDA apis/keda/v1alpha1 NeedToForceActivation (getBoolAnnotation: present but not a boolean
// counts as true) and scale_scaledobjects.go RequestScale: forced activation counts as active,
// with its own Active message, activates from zero and refreshes lastActiveTime, so the object
// never cools down to zero while the annotation is there.
func TestRuleForceActivation(t *testing.T) {
	for _, tc := range []struct {
		value  string
		forced bool
	}{{"true", true}, {"yes", true}, {"false", false}} {
		if got := ForceActivation(map[string]string{AnnotationForceActivation: tc.value}); got != tc.forced {
			t.Errorf("ForceActivation(%q) = %v, want %v", tc.value, got, tc.forced)
		}
	}
	idle := func(current int32) ScaledObjectInput {
		in := walkthrough()
		in.MinReplicaCount = nil
		in.Triggers[0].Value = 0
		in.CurrentReplicas, in.ReadyReplicas = current, current
		in.State = ScaledObjectState{LastActiveTime: mtime(-time.Hour), History: oldHistory}
		in.ForceActivation = true
		return in
	}
	d, _ := DecideTotal(idle(0), t0)
	if d.DesiredReplicas != 1 || !d.Active || d.Conditions.Active.Message != "Scaling is performed because activation is being forced by annotation" ||
		d.State.LastActiveTime == nil || !d.State.LastActiveTime.Time.Equal(t0) {
		t.Errorf("forced at 0: %d active=%v %+v lastActive=%v", d.DesiredReplicas, d.Active, d.Conditions.Active, d.State.LastActiveTime)
	}
	d, _ = DecideTotal(idle(3), t0)
	if d.DesiredReplicas == 0 || !d.Active {
		t.Errorf("forced at 3 past the cooldown: %d active=%v (%s), want no scale to zero", d.DesiredReplicas, d.Active, d.Reason)
	}
	in := idle(3)
	in.ForceActivation = false
	if d, _ := DecideTotal(in, t0); d.DesiredReplicas != 0 {
		t.Errorf("not forced: %d, want 0 after the cooldown", d.DesiredReplicas)
	}
}

// Kubernetes pkg/controller/podautoscaler/horizontal.go computeReplicasForMetrics passes the
// scale's status.replicas to AverageValue metrics (GetExternalPerPodMetricReplicas: the usage
// ratio and the within-tolerance result are status.replicas) and spec.replicas to Value
// metrics. fleetscale's "current" is Σ spec.replicas over the members for both: in one cluster
// the two differ only while pods are created or removed, and the HPA's stabilisation window
// hides that; across members a member that cannot create its pods (quota, capacity) would keep
// status below spec for as long as that lasts, and "keep status.replicas" would read its missing
// capacity as a wish to scale the whole total down. Missing capacity is handled by slow-progress
// rebalancing instead (internal/distribution). This table shows where the two rules part.
func TestRuleSpecReplicasNotStatusReplicas(t *testing.T) {
	tol := defaultTolerances()
	m := func(valueMilli int64) hpaMetric {
		return hpaMetric{targetType: autoscalingv2.AverageValueMetricType, valueMilli: valueMilli, targetMilli: 10000}
	}
	for _, tc := range []struct {
		name                 string
		spec, status         int32
		valueMilli           int64
		fleetscale, upstream int32
	}{
		{name: "no pods missing: the same", spec: 10, status: 10, valueMilli: 104000, fleetscale: 10, upstream: 10},
		{name: "outside both tolerances: the same", spec: 10, status: 6, valueMilli: 150000, fleetscale: 15, upstream: 15},
		{name: "4 pods missing, within tolerance of status: the HPA proposes 6", spec: 10, status: 6, valueMilli: 64000, fleetscale: 7, upstream: 6},
		{name: "4 pods missing, within tolerance of spec: fleetscale keeps 10", spec: 10, status: 6, valueMilli: 95000, fleetscale: 10, upstream: 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := metricProposal(m(tc.valueMilli), tc.spec, tc.status, tol); got != tc.fleetscale {
				t.Errorf("fleetscale proposes %d, want %d", got, tc.fleetscale)
			}
			if got := metricProposal(m(tc.valueMilli), tc.status, tc.status, tol); got != tc.upstream {
				t.Errorf("the HPA's rule (status.replicas) gives %d, want %d", got, tc.upstream)
			}
		})
	}
}

// The reference's strategy names: basic is KEDA's default, pendingAware is KEDA's accurate
// (over the distinct running/pending counts its caller passes).
func TestJobStrategyAliases(t *testing.T) {
	for _, args := range [][5]int64{{3, 2, 0, 5, 1}, {5, 4, 2, 5, 1}, {20, 15, 10, 20, 1}, {3, 3, 3, 5, 1}} {
		for alias, of := range map[string]string{JobStrategyBasic: JobStrategyDefault, JobStrategyPendingAware: JobStrategyAccurate} {
			e1, s1 := jobStrategyEffectiveMax(JobScalingStrategy{Strategy: alias}, args[0], args[1], args[2], args[3], args[4])
			e2, s2 := jobStrategyEffectiveMax(JobScalingStrategy{Strategy: of}, args[0], args[1], args[2], args[3], args[4])
			if e1 != e2 || s1 != s2 {
				t.Errorf("%s%v = (%d, %d), %s gives (%d, %d)", alias, args, e1, s1, of, e2, s2)
			}
		}
	}
}
