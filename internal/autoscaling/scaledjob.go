package autoscaling

import (
	"fmt"
	"math"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KEDA's ScaledJob defaults (apis/keda/v1alpha1/scaledjob_types.go).
const (
	DefaultJobMinReplicaCount int32 = 0
	DefaultJobMaxReplicaCount int32 = 100
)

// Scaling strategies and multiple-scalers calculations of a ScaledJob.
const (
	JobStrategyDefault  = "default"
	JobStrategyCustom   = "custom"
	JobStrategyAccurate = "accurate"
	JobStrategyEager    = "eager"
	// JobStrategyBasic is the reference's name for KEDA's default strategy.
	JobStrategyBasic = "basic"
	// JobStrategyPendingAware is the reference's strategy for priorityFailover:
	// KEDA's accurate strategy over distinct units of work. The caller passes
	// running and pending counts in which a stuck Job and its failover copy
	// count once (jobs.Plan.DistinctRunning/DistinctPending), so a failover
	// under duplicationPolicy keepAll neither hides a queued message nor makes
	// one look covered twice.
	JobStrategyPendingAware = "pendingAware"

	CalculationMax = "max"
	CalculationMin = "min"
	CalculationAvg = "avg"
	CalculationSum = "sum"
)

// JobScalingStrategy is spec.scalingStrategy of a ScaledJob. Unknown values
// select the defaults, as in KEDA.
type JobScalingStrategy struct {
	// Strategy is default (when empty), custom, accurate or eager, or the
	// reference's basic (= default) and pendingAware (= accurate over
	// distinct units of work, see JobStrategyPendingAware).
	Strategy string
	// CustomScalingQueueLengthDeduction and CustomScalingRunningJobPercentage
	// parameterise the custom strategy; KEDA uses the default strategy when
	// the percentage is not a number (including when it is empty).
	CustomScalingQueueLengthDeduction *int32
	CustomScalingRunningJobPercentage string
	// MultipleScalersCalculation is max (when empty), min, avg or sum.
	MultipleScalersCalculation string
}

// JobTrigger is one ScaledJob trigger's reading.
type JobTrigger struct {
	Name string
	// Value is the queue length: the sum of the trigger's metric values.
	Value float64
	// Target is the trigger's target average value (jobs per Value unit).
	Target float64
	// Active is the scaler's own activity verdict.
	Active bool
	// Err is non-nil when the trigger could not be read; it is then skipped.
	Err error
}

// ScaledJobInput is everything DecideJobs looks at.
type ScaledJobInput struct {
	Triggers []JobTrigger
	// RunningJobs are the object's Jobs without a Complete or Failed
	// condition; PendingJobs the running ones none of whose pods has started.
	RunningJobs int64
	PendingJobs int64

	MinReplicaCount *int32
	MaxReplicaCount *int32
	ScalingStrategy JobScalingStrategy
	// Paused (annotation autoscaling.keda.sh/paused) stops creating Jobs.
	Paused bool
}

// ScaledJobDecision is the outcome of one ScaledJob evaluation.
type ScaledJobDecision struct {
	// JobsToCreate is how many new Jobs to start now.
	JobsToCreate int64
	Active       bool
	// QueueLength is ceil of the combined queue length (KEDA's scaleTo
	// before the strategy), MaxScale ceil of the combined max value.
	QueueLength int64
	MaxScale    int64
	// Ready and Active as KEDA sets them on the ScaledJob.
	Ready      Condition
	ActiveCond Condition
	Reason     string
}

// jobScalerMetrics is one trigger as KEDA's ScalerMetrics.
type jobScalerMetrics struct {
	queueLength, maxValue float64
	active                bool
}

// DecideJobs decides how many Jobs a ScaledJob creates now, reproducing KEDA
// (pkg/scaling/scaledjob/metrics.go for the trigger maths,
// pkg/scaling/executor/scale_jobs.go for the strategies).
func DecideJobs(in ScaledJobInput) ScaledJobDecision {
	minCount, effMaxCount := jobReplicaBounds(in.MinReplicaCount, in.MaxReplicaCount)
	// Job counts are far below 2³¹; clamping keeps the strategy sums exact.
	running := min(max(in.RunningJobs, 0), math.MaxInt32)
	pending := min(max(in.PendingJobs, 0), math.MaxInt32)

	var metrics []jobScalerMetrics
	var firstError string
	for i, t := range in.Triggers {
		err := t.Err
		if err == nil && (!isFinite(t.Value) || !isFinite(t.Target)) {
			err = fmt.Errorf("value %v or target %v is not a finite number", t.Value, t.Target)
		}
		if err != nil {
			if firstError == "" {
				firstError = fmt.Sprintf("%s: %v", jobTriggerName(t, i), err)
			}
			continue
		}
		m := jobScalerMetrics{queueLength: t.Value, active: t.Active}
		if t.Target != 0 {
			m.maxValue = min(t.Value/t.Target, float64(effMaxCount))
		}
		metrics = append(metrics, m)
	}
	active, queueLength, maxScale := combineJobMetrics(metrics, in.ScalingStrategy.MultipleScalersCalculation, minCount, effMaxCount)

	var scaleTo, effMax int64
	if running < minCount {
		scaleTo, effMax = minCount-running, minCount-running
	} else {
		effMax, scaleTo = jobStrategyEffectiveMax(in.ScalingStrategy, maxScale, running-minCount, pending, effMaxCount, queueLength)
	}
	effMax = max(effMax, 0)

	d := ScaledJobDecision{
		Active:      active,
		QueueLength: queueLength,
		MaxScale:    maxScale,
		Ready:       Condition{Status: metav1.ConditionTrue, Reason: "ScaledJobReady", Message: "ScaledJob is defined correctly and is ready for scaling"},
	}
	if active {
		d.ActiveCond = Condition{Status: metav1.ConditionTrue, Reason: ReasonScalerActive, Message: "Scaling is performed because triggers are active"}
	} else {
		d.ActiveCond = Condition{Status: metav1.ConditionFalse, Reason: ReasonScalerNotActive, Message: "Scaling is not performed because triggers are not active"}
	}
	switch {
	case firstError != "" && active:
		d.Ready = Condition{Status: metav1.ConditionUnknown, Reason: ReasonPartialTriggerError, Message: "Some triggers are not working correctly: " + firstError}
	case firstError != "":
		d.Ready = Condition{Status: metav1.ConditionFalse, Reason: ReasonTriggerError, Message: "Triggers are not working correctly: " + firstError}
	}

	switch {
	case in.Paused:
		d.Reason = "paused by annotation " + AnnotationPaused
	case !active:
		d.Reason = "no trigger is active"
	case effMax <= 0:
		d.Reason = fmt.Sprintf("no new Jobs: %d running (%d pending) already cover queue length %d", running, pending, queueLength)
	default:
		d.JobsToCreate = max(min(scaleTo, effMax), 0)
		d.Reason = fmt.Sprintf("creating %d Jobs: queue length %d, %d running (%d pending), room for %d", d.JobsToCreate, queueLength, running, pending, effMax)
	}
	return d
}

// jobReplicaBounds reproduces ScaledJob.MinReplicaCount/MaxReplicaCount: the
// effective max handed to the strategies is max − min; a min above max is
// cut to max; and with max unset the effective max is 100 whatever min is.
func jobReplicaBounds(minP, maxP *int32) (minCount, effMaxCount int64) {
	minCount = int64(DefaultJobMinReplicaCount)
	if minP != nil {
		minCount = max(int64(*minP), 0)
		if maxP != nil && int64(*minP) > int64(*maxP) {
			minCount = max(int64(*maxP), 0)
		}
	}
	if maxP == nil {
		return minCount, int64(DefaultJobMaxReplicaCount)
	}
	if minP != nil && *minP > *maxP {
		return minCount, max(int64(*maxP), 0)
	}
	return minCount, max(int64(*maxP)-minCount, 0)
}

// combineJobMetrics reproduces IsScaledJobActive: the active triggers are
// combined by max (the longest queue), min (the shortest non-empty queue), avg
// or sum; a positive minReplicaCount keeps the object active.
func combineJobMetrics(metrics []jobScalerMetrics, calculation string, minCount, effMaxCount int64) (active bool, queueLength, maxScale int64) {
	var queue, maxValue float64
	switch calculation {
	case CalculationMin:
		for _, m := range metrics {
			if (queue == 0 || m.queueLength < queue) && m.active {
				queue, maxValue, active = m.queueLength, m.maxValue, true
			}
		}
	case CalculationAvg:
		var queueSum, maxSum float64
		n := 0
		for _, m := range metrics {
			if m.active {
				queueSum += m.queueLength
				maxSum += m.maxValue
				active = true
				n++
			}
		}
		if n > 0 {
			queue, maxValue = queueSum/float64(n), maxSum/float64(n)
		}
	case CalculationSum:
		for _, m := range metrics {
			if m.active {
				queue += m.queueLength
				maxValue += m.maxValue
				active = true
			}
		}
	default:
		for _, m := range metrics {
			if m.queueLength > queue && m.active {
				queue, maxValue, active = m.queueLength, m.maxValue, true
			}
		}
	}
	if minCount > 0 {
		active = true
	}
	maxValue = min(maxValue, float64(effMaxCount))
	// A negative max value (negative metric or target) leaves no room in any
	// strategy; the floor only keeps the strategies' int64 sums from wrapping.
	return active, ceilInt64(queue), max(ceilInt64(maxValue), math.MinInt32)
}

// jobStrategyEffectiveMax reproduces the ScalingStrategy implementations:
// how many Jobs may be created (effMax) and the scaleTo to cap it with.
// runningAboveMin is running − minReplicaCount.
func jobStrategyEffectiveMax(s JobScalingStrategy, maxScale, runningAboveMin, pending, effMaxCount, scaleTo int64) (effMax, newScaleTo int64) {
	switch s.Strategy {
	case JobStrategyCustom:
		percentage, err := strconv.ParseFloat(s.CustomScalingRunningJobPercentage, 64)
		if err != nil {
			break // KEDA falls back to the default strategy
		}
		var deduction int64
		if s.CustomScalingQueueLengthDeduction != nil {
			deduction = int64(*s.CustomScalingQueueLengthDeduction)
		}
		// In float so that an extreme percentage saturates instead of wrapping.
		result := float64(maxScale) - float64(deduction) - math.Trunc(float64(runningAboveMin)*percentage)
		return saturateInt64(min(result, float64(effMaxCount))), scaleTo
	case JobStrategyAccurate, JobStrategyPendingAware:
		if maxScale+runningAboveMin-pending > effMaxCount {
			return effMaxCount - runningAboveMin, scaleTo
		}
		return maxScale - pending, scaleTo
	case JobStrategyEager:
		return min(effMaxCount-runningAboveMin-pending, maxScale), effMaxCount
	}
	return maxScale - runningAboveMin, scaleTo
}

func ceilInt64(x float64) int64 { return saturateInt64(math.Ceil(x)) }

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func jobTriggerName(t JobTrigger, index int) string {
	if t.Name != "" {
		return t.Name
	}
	return fmt.Sprintf("trigger %d", index)
}
