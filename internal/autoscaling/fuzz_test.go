package autoscaling

import (
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

// fuzzBehavior picks one of a few behaviors that cover the legacy rules,
// the defaults, windows, every policy type and every selectPolicy.
func fuzzBehavior(mode uint8) *autoscalingv2.HorizontalPodAutoscalerBehavior {
	switch mode % 7 {
	case 1:
		return &autoscalingv2.HorizontalPodAutoscalerBehavior{}
	case 2:
		return &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(30, "", pods(2, 60)), ScaleDown: rules(0, "", percent(50, 30))}
	case 3:
		return &autoscalingv2.HorizontalPodAutoscalerBehavior{
			ScaleUp:   rules(0, autoscalingv2.MinChangePolicySelect, pods(3, 15), percent(20, 45)),
			ScaleDown: rules(60, autoscalingv2.MinChangePolicySelect, pods(1, 15), percent(30, 60)),
		}
	case 4:
		return &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(0, autoscalingv2.DisabledPolicySelect), ScaleDown: rules(0, "")}
	case 5:
		return &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(0, ""), ScaleDown: rules(0, autoscalingv2.DisabledPolicySelect)}
	case 6:
		// No policies at all: the HPA cannot move in either direction.
		return &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(0, "", []autoscalingv2.HPAScalingPolicy{}...), ScaleDown: rules(0, "", []autoscalingv2.HPAScalingPolicy{}...)}
	}
	return nil
}

func FuzzDecideTotal(f *testing.F) {
	f.Add(int32(3), int32(3), uint8(1), uint8(10), int8(-1), 20.0, 0.0, 5.0, 0.0, uint8(0), uint8(0), uint8(3), uint8(6), uint8(0), uint8(0), int32(-60), uint8(4))
	f.Add(int32(0), int32(0), uint8(0), uint8(10), int8(-1), 50.0, 3.0, 5.0, 1.0, uint8(2), uint8(1), uint8(0), uint8(4), uint8(2), uint8(0), int32(-400), uint8(6))
	f.Add(int32(12), int32(5), uint8(2), uint8(10), int8(0), 0.0, 0.0, 1.0, 0.0, uint8(3), uint8(0), uint8(0), uint8(0), uint8(3), uint8(3), int32(-3600), uint8(3))
	f.Add(int32(4), int32(2), uint8(0), uint8(100), int8(-1), 1e300, -5.0, 0.001, 0.0, uint8(1), uint8(4), uint8(1), uint8(200), uint8(1), uint8(4), int32(0), uint8(8))
	f.Add(int32(7), int32(7), uint8(3), uint8(3), int8(1), 5.0, 5.0, 2.0, 0.0, uint8(3), uint8(0), uint8(0), uint8(0), uint8(4), uint8(5), int32(-10), uint8(2))
	f.Fuzz(func(t *testing.T, current, ready int32, minR, maxR uint8, idle int8,
		v1, v2, target, activation float64, errMask, fallbackMode, threshold, fbReplicas, behaviorMode, pauseMode uint8,
		lastActiveOffset int32, steps uint8,
	) {
		in := ScaledObjectInput{
			Triggers: []Trigger{
				{Name: "a", Value: v1, Target: target, ActivationTarget: activation},
				{Name: "b", Value: v2, Target: target, MetricType: autoscalingv2.ValueMetricType},
			},
			CurrentReplicas: current,
			ReadyReplicas:   ready,
			MinReplicaCount: ptr(int32(minR % 20)),
			MaxReplicaCount: ptr(int32(maxR)),
			CreationTime:    t0.Add(-time.Hour),
			Behavior:        fuzzBehavior(behaviorMode),
		}
		if idle >= 0 {
			in.IdleReplicaCount = ptr(int32(idle % 4))
		}
		if errMask&1 != 0 {
			in.Triggers[0].Err = errUnreachable
		}
		if errMask&2 != 0 {
			in.Triggers[1].Err = errUnreachable
		}
		allFail := errMask&3 == 3
		if fallbackMode%5 != 0 {
			behaviors := []FallbackBehavior{FallbackStatic, FallbackCurrentReplicas, FallbackCurrentReplicasIfHigher, FallbackCurrentReplicasIfLower}
			in.Fallback = &Fallback{FailureThreshold: int32(threshold % 4), Replicas: int32(fbReplicas), Behavior: behaviors[fallbackMode%5-1]}
		}
		if errMask&4 != 0 {
			in.ScalingModifiers = &ScalingModifiers{Formula: "a + b / 2", Target: "3", ActivationTarget: "1"}
		}
		switch pauseMode % 6 {
		case 1:
			in.Pause.Paused = true
		case 2:
			in.Pause.Replicas = ptr(int32(fbReplicas))
		case 3:
			in.Pause.ScaleIn = true
		case 4:
			in.Pause.ScaleOut = true
		case 5:
			in.Pause.ScaleIn, in.Pause.ScaleOut = true, true
		}
		if lastActiveOffset != 0 {
			in.State.LastActiveTime = mtime(time.Duration(lastActiveOffset) * time.Second)
		}
		maxTotal := int32(maxR)
		now := t0
		for step := 0; step <= int(steps%8); step++ {
			cur := max(in.CurrentReplicas, 0)
			d, err := DecideTotal(in, now)
			if err != nil {
				if !errors.Is(err, ErrInvalidSpec) {
					t.Fatalf("error %v does not wrap ErrInvalidSpec", err)
				}
				if d.DesiredReplicas != cur {
					t.Fatalf("an invalid spec must keep the total: %d → %d", cur, d.DesiredReplicas)
				}
				return
			}
			again, _ := DecideTotal(in, now)
			if !reflect.DeepEqual(d, again) {
				t.Fatalf("not deterministic:\n%+v\n%+v", d, again)
			}
			if d.DesiredReplicas < 0 {
				t.Fatalf("negative total %d (%s)", d.DesiredReplicas, d.Reason)
			}
			pinned := in.Pause.Replicas != nil
			frozen := in.Pause.Paused && d.DesiredReplicas == cur
			if !pinned && !frozen && d.DesiredReplicas > maxTotal {
				t.Fatalf("total %d above max %d (current %d): %s", d.DesiredReplicas, maxTotal, cur, d.Reason)
			}
			if allFail && in.Fallback == nil && !in.Pause.frozen() && d.DesiredReplicas < min(cur, maxTotal) {
				t.Fatalf("failing triggers without fallback scaled down %d → %d: %s", cur, d.DesiredReplicas, d.Reason)
			}
			if in.Pause.ScaleIn && !in.Pause.frozen() && d.DesiredReplicas < min(cur, maxTotal) {
				t.Fatalf("paused-scale-in scaled down %d → %d: %s", cur, d.DesiredReplicas, d.Reason)
			}
			if in.Pause.ScaleOut && !in.Pause.frozen() && d.DesiredReplicas > max(cur, int32(minR%20)) {
				t.Fatalf("paused-scale-out scaled up %d → %d: %s", cur, d.DesiredReplicas, d.Reason)
			}
			if d.RequeueAfter < 0 {
				t.Fatalf("negative requeue %v", d.RequeueAfter)
			}
			h := d.State.History
			// At most 2 recommendations per second of the longest window (3600 s) and one event
			// per second of the longest period (1800 s), see history.go.
			if len(h.Recommendations) > 2*3600+1 || len(h.ScaleUpEvents) > 1801 || len(h.ScaleDownEvents) > 1801 {
				t.Fatalf("history not bounded: %d/%d/%d", len(h.Recommendations), len(h.ScaleUpEvents), len(h.ScaleDownEvents))
			}
			in.State = d.State
			in.CurrentReplicas, in.ReadyReplicas = d.DesiredReplicas, d.DesiredReplicas
			now = now.Add(HPASyncPeriod)
		}
	})
}

func FuzzEvaluateHPA(f *testing.F) {
	f.Add(int32(4), int32(4), int32(1), int32(10), 50.0, 5.0, 3.0, 1.0, uint8(0), uint8(0), int32(8), int32(60), int32(2), int32(10))
	f.Add(int32(10), int32(3), int32(2), int32(20), 1.0, 5.0, 300.0, 7.0, uint8(2), uint8(3), int32(3), int32(200), int32(5), int32(20))
	f.Add(int32(1), int32(0), int32(1), int32(1), 0.0, 1.0, 0.0, 1.0, uint8(1), uint8(4), int32(0), int32(0), int32(0), int32(0))
	f.Fuzz(func(t *testing.T, current, ready, minR, maxR int32, v1, t1, v2, t2 float64, invalidMask, behaviorMode uint8,
		recReplicas, recAge, eventChange, eventAge int32,
	) {
		if current <= 0 || minR < 1 || maxR < minR || ready < 0 || !(t1 > 0.001) || !(t2 > 0.001) || math.IsInf(t1, 0) || math.IsInf(t2, 0) ||
			!isFinite(v1) || !isFinite(v2) || recReplicas < 0 || eventChange < 0 {
			t.Skip()
		}
		in := hpaInput{
			current: current, ready: ready, min: minR, max: maxR,
			metrics: []hpaMetric{avg("a", v1, t1), val("b", v2, t2)},
			history: History{
				Recommendations: []TimestampedReplicas{{Replicas: recReplicas, Timestamp: *mtime(-time.Duration(recAge%4000) * time.Second)}},
				ScaleUpEvents:   []ScaleEvent{{ReplicaChange: eventChange, Timestamp: *mtime(-time.Duration(eventAge%4000) * time.Second)}},
				ScaleDownEvents: []ScaleEvent{{ReplicaChange: eventChange / 2, Timestamp: *mtime(-time.Duration(eventAge%100) * time.Second)}},
			},
		}
		in.metrics[0].invalid = invalidMask&1 != 0
		in.metrics[1].invalid = invalidMask&2 != 0
		raw := fuzzBehavior(behaviorMode)
		in.behavior = resolveBehavior(raw)
		res := evaluateHPA(in, t0)

		inRange := current >= minR && current <= maxR
		if inRange && (res.desired < minR || res.desired > maxR) {
			t.Fatalf("desired %d outside [%d, %d]", res.desired, minR, maxR)
		}
		if !inRange && res.desired != in.bound(current) {
			t.Fatalf("out-of-range current %d must go to the bound, got %d", current, res.desired)
		}
		if invalidMask&3 != 0 && res.desired < min(current, maxR) {
			t.Fatalf("an unreadable metric scaled down %d → %d", current, res.desired)
		}
		if inRange && raw == nil && res.desired > int32(math.Max(2*float64(current), 4)) {
			t.Fatalf("legacy scale-up limit broken: %d → %d", current, res.desired)
		}
		if inRange && in.behavior != nil {
			if in.behavior.up.selectPol == autoscalingv2.DisabledPolicySelect && res.desired > current {
				t.Fatalf("scale-up disabled but %d → %d", current, res.desired)
			}
			if in.behavior.down.selectPol == autoscalingv2.DisabledPolicySelect && res.desired < current {
				t.Fatalf("scale-down disabled but %d → %d", current, res.desired)
			}
		}
		if res.rateLimited && res.limitReason != limitScaleUp && res.limitReason != limitScaleDown {
			t.Fatalf("rate limited with limit reason %s", res.limitReason)
		}
		if raw == nil && len(res.history.ScaleUpEvents)+len(res.history.ScaleDownEvents) != 2 {
			t.Fatalf("legacy rules must not record events: %+v", res.history)
		}
	})
}

func FuzzDecideJobs(f *testing.F) {
	f.Add(20.0, 5.0, true, 3.0, 1.0, false, false, int64(0), int64(0), int16(-1), int16(-1), uint8(0), uint8(0), int16(1), "0.5", false)
	f.Add(100.0, 1.0, true, 7.0, 2.0, true, true, int64(3), int64(1), int16(2), int16(10), uint8(1), uint8(2), int16(-3), "2", false)
	f.Add(1e18, 1e-9, true, -5.0, 0.0, true, false, int64(50), int64(60), int16(5), int16(3), uint8(2), uint8(3), int16(0), "x", true)
	f.Add(8.0, 1.0, true, 8.0, 1.0, true, false, int64(3), int64(2), int16(0), int16(10), uint8(3), uint8(1), int16(0), "", false)
	f.Fuzz(func(t *testing.T, v1, t1 float64, a1 bool, v2, t2 float64, a2, err2 bool, running, pending int64, minR, maxR int16,
		strategy, calculation uint8, deduction int16, percentage string, paused bool,
	) {
		in := ScaledJobInput{
			Triggers:    []JobTrigger{{Name: "a", Value: v1, Target: t1, Active: a1}, {Name: "b", Value: v2, Target: t2, Active: a2}},
			RunningJobs: running,
			PendingJobs: pending,
			ScalingStrategy: JobScalingStrategy{
				Strategy:                          []string{"", JobStrategyCustom, JobStrategyAccurate, JobStrategyEager, "bogus"}[strategy%5],
				MultipleScalersCalculation:        []string{"", CalculationMin, CalculationAvg, CalculationSum, CalculationMax}[calculation%5],
				CustomScalingQueueLengthDeduction: ptr(int32(deduction)),
				CustomScalingRunningJobPercentage: percentage,
			},
			Paused: paused,
		}
		if err2 {
			in.Triggers[1].Err = errUnreachable
		}
		// Like the CRD: min ≥ 0, max ≥ 1.
		if minR >= 0 {
			in.MinReplicaCount = ptr(int32(minR))
		}
		if maxR >= 1 {
			in.MaxReplicaCount = ptr(int32(maxR))
		}
		d := DecideJobs(in)
		if again := DecideJobs(in); !reflect.DeepEqual(d, again) {
			t.Fatalf("not deterministic")
		}
		if d.JobsToCreate < 0 {
			t.Fatalf("negative Jobs to create: %d", d.JobsToCreate)
		}
		if (paused || !d.Active) && d.JobsToCreate != 0 {
			t.Fatalf("created %d Jobs while paused=%v active=%v", d.JobsToCreate, paused, d.Active)
		}
		// Independent restatement of the bounds: min cut to max, effective
		// max = max − min (100 when max is unset).
		minCount, effMax := int64(0), int64(100)
		if in.MinReplicaCount != nil {
			minCount = int64(*in.MinReplicaCount)
		}
		if in.MaxReplicaCount != nil {
			maxCount := int64(*in.MaxReplicaCount)
			minCount = min(minCount, maxCount)
			effMax = maxCount - minCount
			if in.MinReplicaCount != nil && int64(*in.MinReplicaCount) > maxCount {
				effMax = maxCount
			}
		}
		run := max(running, 0)
		switch {
		case run < minCount && !paused:
			if d.JobsToCreate != minCount-run {
				t.Fatalf("below min: created %d, want %d", d.JobsToCreate, minCount-run)
			}
		case d.JobsToCreate > effMax:
			t.Fatalf("created %d Jobs above the effective max %d (%s)", d.JobsToCreate, effMax, d.Reason)
		}
	})
}
