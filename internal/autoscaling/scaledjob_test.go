package autoscaling

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDecideJobs(t *testing.T) {
	queue := func(value, target float64) []JobTrigger {
		return []JobTrigger{{Name: "q", Value: value, Target: target, Active: value > 0}}
	}
	three := []JobTrigger{
		{Name: "a", Value: 10, Target: 1, Active: true},
		{Name: "b", Value: 4, Target: 1, Active: true},
		{Name: "c", Value: 20, Target: 1, Active: false},
	}
	tests := []struct {
		name       string
		in         ScaledJobInput
		want       int64
		active     bool
		queue, max int64
	}{
		// Default strategy: create maxScale − running.
		{name: "walkthrough value 20 target 5: 4 Jobs", in: ScaledJobInput{Triggers: queue(20, 5)}, want: 4, active: true, queue: 20, max: 4},
		{name: "running Jobs count against maxScale", in: ScaledJobInput{Triggers: queue(20, 5), RunningJobs: 1}, want: 3, active: true, queue: 20, max: 4},
		{name: "enough running: none", in: ScaledJobInput{Triggers: queue(20, 5), RunningJobs: 4}, want: 0, active: true, queue: 20, max: 4},
		{name: "more running than needed: none", in: ScaledJobInput{Triggers: queue(20, 5), RunningJobs: 6}, want: 0, active: true, queue: 20, max: 4},
		{name: "fractional max value rounds up", in: ScaledJobInput{Triggers: queue(7, 2)}, want: 4, active: true, queue: 7, max: 4},
		{name: "inactive trigger: none", in: ScaledJobInput{Triggers: []JobTrigger{{Name: "q", Value: 20, Target: 5}}}, want: 0, active: false, queue: 0, max: 0},
		{name: "paused: none", in: ScaledJobInput{Triggers: queue(20, 5), Paused: true}, want: 0, active: true, queue: 20, max: 4},

		// minReplicaCount: running below min creates min − running; effective max = max − min.
		{name: "below min creates the difference", in: ScaledJobInput{Triggers: queue(0, 5), MinReplicaCount: ptr(int32(2))}, want: 2, active: true},
		{name: "below min with some running", in: ScaledJobInput{Triggers: queue(20, 5), MinReplicaCount: ptr(int32(2)), RunningJobs: 1}, want: 1, active: true, queue: 20, max: 4},
		{name: "min keeps the object active", in: ScaledJobInput{Triggers: queue(0, 5), MinReplicaCount: ptr(int32(1)), RunningJobs: 1}, want: 0, active: true},
		{name: "running above min are subtracted", in: ScaledJobInput{Triggers: queue(20, 5), MinReplicaCount: ptr(int32(2)), MaxReplicaCount: ptr(int32(10)), RunningJobs: 3}, want: 3, active: true, queue: 20, max: 4},
		{name: "max value capped at max − min", in: ScaledJobInput{Triggers: queue(100, 1), MinReplicaCount: ptr(int32(2)), MaxReplicaCount: ptr(int32(10)), RunningJobs: 2}, want: 8, active: true, queue: 100, max: 8},
		{name: "max unset: effective max is 100 whatever min is (KEDA)", in: ScaledJobInput{Triggers: queue(200, 1), MinReplicaCount: ptr(int32(5)), RunningJobs: 5}, want: 100, active: true, queue: 200, max: 100},
		{name: "min above max is cut to max", in: ScaledJobInput{Triggers: queue(0, 1), MinReplicaCount: ptr(int32(5)), MaxReplicaCount: ptr(int32(3))}, want: 3, active: true},

		// custom: min(maxScale − deduction − int(R × percentage), max − min).
		{name: "custom", in: ScaledJobInput{Triggers: queue(10, 1), MaxReplicaCount: ptr(int32(20)), RunningJobs: 4, ScalingStrategy: JobScalingStrategy{
			Strategy: JobStrategyCustom, CustomScalingQueueLengthDeduction: ptr(int32(1)), CustomScalingRunningJobPercentage: "0.5"}}, want: 7, active: true, queue: 10, max: 10},
		{name: "custom truncates R × percentage", in: ScaledJobInput{Triggers: queue(10, 1), MaxReplicaCount: ptr(int32(20)), RunningJobs: 3, ScalingStrategy: JobScalingStrategy{
			Strategy: JobStrategyCustom, CustomScalingRunningJobPercentage: "0.5"}}, want: 9, active: true, queue: 10, max: 10},
		{name: "custom capped at max − min", in: ScaledJobInput{Triggers: queue(10, 1), MaxReplicaCount: ptr(int32(5)), ScalingStrategy: JobScalingStrategy{
			Strategy: JobStrategyCustom, CustomScalingQueueLengthDeduction: ptr(int32(-10)), CustomScalingRunningJobPercentage: "0"}}, want: 5, active: true, queue: 10, max: 5},
		{name: "custom without a percentage is the default strategy", in: ScaledJobInput{Triggers: queue(10, 1), MaxReplicaCount: ptr(int32(20)), RunningJobs: 4, ScalingStrategy: JobScalingStrategy{
			Strategy: JobStrategyCustom, CustomScalingQueueLengthDeduction: ptr(int32(1))}}, want: 6, active: true, queue: 10, max: 10},
		{name: "custom with a bad percentage is the default strategy", in: ScaledJobInput{Triggers: queue(10, 1), MaxReplicaCount: ptr(int32(20)), RunningJobs: 4, ScalingStrategy: JobScalingStrategy{
			Strategy: JobStrategyCustom, CustomScalingRunningJobPercentage: "half"}}, want: 6, active: true, queue: 10, max: 10},

		// accurate: (maxScale + R − pending > max) ? max − R : maxScale − pending.
		{name: "accurate under the max", in: ScaledJobInput{Triggers: queue(5, 1), MaxReplicaCount: ptr(int32(10)), RunningJobs: 3, PendingJobs: 1,
			ScalingStrategy: JobScalingStrategy{Strategy: JobStrategyAccurate}}, want: 4, active: true, queue: 5, max: 5},
		{name: "accurate over the max", in: ScaledJobInput{Triggers: queue(10, 1), MaxReplicaCount: ptr(int32(10)), RunningJobs: 3, PendingJobs: 1,
			ScalingStrategy: JobScalingStrategy{Strategy: JobStrategyAccurate}}, want: 7, active: true, queue: 10, max: 10},

		// eager: min(max − R − pending, maxScale), scaleTo = max.
		{name: "eager fills free slots", in: ScaledJobInput{Triggers: queue(3, 1), MaxReplicaCount: ptr(int32(10)), RunningJobs: 2,
			ScalingStrategy: JobScalingStrategy{Strategy: JobStrategyEager}}, want: 3, active: true, queue: 3, max: 3},
		{name: "default for the same input", in: ScaledJobInput{Triggers: queue(3, 1), MaxReplicaCount: ptr(int32(10)), RunningJobs: 2}, want: 1, active: true, queue: 3, max: 3},
		{name: "eager limited by free slots", in: ScaledJobInput{Triggers: queue(8, 1), MaxReplicaCount: ptr(int32(10)), RunningJobs: 3, PendingJobs: 2,
			ScalingStrategy: JobScalingStrategy{Strategy: JobStrategyEager}}, want: 5, active: true, queue: 8, max: 8},

		// multipleScalersCalculation over the active triggers only.
		{name: "max (default)", in: ScaledJobInput{Triggers: three}, want: 10, active: true, queue: 10, max: 10},
		{name: "min", in: ScaledJobInput{Triggers: three, ScalingStrategy: JobScalingStrategy{MultipleScalersCalculation: CalculationMin}}, want: 4, active: true, queue: 4, max: 4},
		{name: "avg", in: ScaledJobInput{Triggers: three, ScalingStrategy: JobScalingStrategy{MultipleScalersCalculation: CalculationAvg}}, want: 7, active: true, queue: 7, max: 7},
		{name: "sum", in: ScaledJobInput{Triggers: three, ScalingStrategy: JobScalingStrategy{MultipleScalersCalculation: CalculationSum}}, want: 14, active: true, queue: 14, max: 14},
		{name: "min skips an empty queue (KEDA)", in: ScaledJobInput{Triggers: []JobTrigger{{Name: "a", Value: 0, Target: 1, Active: true}, {Name: "b", Value: 4, Target: 1, Active: true}},
			ScalingStrategy: JobScalingStrategy{MultipleScalersCalculation: CalculationMin}}, want: 4, active: true, queue: 4, max: 4},
		{name: "max ignores an active empty queue: inactive (KEDA)", in: ScaledJobInput{Triggers: []JobTrigger{{Name: "a", Value: 0, Target: 1, Active: true}}}, want: 0, active: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := DecideJobs(tt.in)
			if d.JobsToCreate != tt.want || d.Active != tt.active || d.QueueLength != tt.queue || d.MaxScale != tt.max {
				t.Errorf("got create=%d active=%v queue=%d maxScale=%d, want %d %v %d %d (%s)",
					d.JobsToCreate, d.Active, d.QueueLength, d.MaxScale, tt.want, tt.active, tt.queue, tt.max, d.Reason)
			}
		})
	}
}

func TestDecideJobsConditions(t *testing.T) {
	partial := DecideJobs(ScaledJobInput{Triggers: []JobTrigger{
		{Name: "a", Err: errUnreachable},
		{Name: "b", Value: 3, Target: 1, Active: true},
	}})
	if partial.JobsToCreate != 3 || partial.Ready.Status != metav1.ConditionUnknown || partial.Ready.Reason != ReasonPartialTriggerError ||
		partial.ActiveCond.Status != metav1.ConditionTrue {
		t.Errorf("partial error: %+v", partial)
	}
	broken := DecideJobs(ScaledJobInput{Triggers: []JobTrigger{{Name: "a", Err: errUnreachable}, {Name: "b", Value: nan(), Target: 1, Active: true}}})
	if broken.JobsToCreate != 0 || broken.Ready.Status != metav1.ConditionFalse || broken.Ready.Reason != ReasonTriggerError ||
		broken.ActiveCond.Reason != ReasonScalerNotActive {
		t.Errorf("all failing: %+v", broken)
	}
	fine := DecideJobs(ScaledJobInput{Triggers: []JobTrigger{{Name: "a", Value: 1, Target: 1, Active: true}}})
	if fine.Ready.Status != metav1.ConditionTrue || fine.ActiveCond.Reason != ReasonScalerActive {
		t.Errorf("healthy: %+v", fine)
	}
}
