package distributedscaledjob

import (
	"context"
	"math"
	"strconv"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/autoscaling"
	"github.com/fleetscale/fleetscale/internal/jobs"
	"github.com/fleetscale/fleetscale/internal/scalers"
)

// evaluate reads the triggers, runs the fleet-wide plan (rollout, history, failover, taints,
// counts), asks KEDA's ScaledJob rules how many Jobs to create, and places them.
func (r *Reconciler) evaluate(ctx context.Context, s *scope) {
	r.readTriggers(ctx, s)
	if s.dsj.Spec.ScaledJobSpec.JobTargetRef == nil {
		// Without a template every Job would look outdated: decide nothing rather than delete.
		s.specError = "scaledJobSpec.jobTargetRef is required"
		return
	}
	r.readPeerScopes(ctx, s)
	s.maxJobs = r.maxJobsPerEvaluation()
	in := jobs.Input{Now: s.now, Policy: s.policy, RRState: s.prev.RoundRobinWeights, Paused: s.paused,
		Strategy: jobs.Strategy(strategy(s.dsj)), Affinity: affinity(s.dsj), PeerScopes: s.peerScopes, MaxFailovers: s.maxJobs}
	for _, mv := range s.members {
		in.Members = append(in.Members, s.planMember(mv))
		in.Jobs = append(in.Jobs, mv.jobs...)
	}
	s.plan = jobs.Evaluate(in)

	spec := s.dsj.Spec.ScaledJobSpec
	ss := spec.ScalingStrategy
	running, pending := s.plan.Running, s.plan.Pending
	if ss.Strategy == autoscaling.JobStrategyPendingAware {
		running, pending = s.plan.DistinctRunning, s.plan.DistinctPending
	}
	s.decision = autoscaling.DecideJobs(autoscaling.ScaledJobInput{
		Triggers:        s.triggers,
		RunningJobs:     running,
		PendingJobs:     pending,
		MinReplicaCount: spec.MinReplicaCount,
		MaxReplicaCount: spec.MaxReplicaCount,
		ScalingStrategy: autoscaling.JobScalingStrategy{
			Strategy:                          ss.Strategy,
			CustomScalingQueueLengthDeduction: ss.CustomScalingQueueLengthDeduction,
			CustomScalingRunningJobPercentage: ss.CustomScalingRunningJobPercentage,
			MultipleScalersCalculation:        ss.MultipleScalersCalculation,
		},
		Paused: s.paused,
	})
	s.decided = true
	if s.specError != "" {
		return
	}
	// However many Jobs the triggers ask for (maxReplicaCount may be 2³¹−1), one evaluation
	// creates at most maxJobs, failover copies included, so the controller's memory and time
	// per evaluation never depend on the spec; the rest are created by the next evaluations.
	// Jobs created by this evaluation fire events that start the next one at once: after a
	// capped evaluation, status.creationHeldUntil keeps the next second free of creations, so
	// the cap bounds the rate as well.
	n := s.decision.JobsToCreate
	st := &s.dsj.Status
	switch room := int64(s.maxJobs - len(s.plan.Failovers)); {
	case n > 0 && st.CreationHeldUntil != nil && s.now.Before(st.CreationHeldUntil.Time):
		s.deferred, n = n, 0
	case n > room:
		s.deferred = n - max(room, 0)
		n = max(room, 0)
		st.CreationHeldUntil = &metav1.Time{Time: s.now.Add(capRequeue)}
	default:
		st.CreationHeldUntil = nil
	}
	s.deferred += int64(s.plan.DeferredFailovers)
	s.placements = s.plan.Place(int(n))
	s.unplaced = int(n) - len(s.placements)
	ctrl.LoggerFrom(ctx).V(1).Info("Jobs decided", "create", n, "placed", len(s.placements), "deferred", s.deferred,
		"failovers", len(s.plan.Failovers), "deletions", len(s.plan.Deletions), "running", running, "pending", pending)
}

// DefaultMaxJobsPerEvaluation is the Jobs-per-evaluation cap when the Reconciler sets none.
const DefaultMaxJobsPerEvaluation = 100

func (r *Reconciler) maxJobsPerEvaluation() int {
	if r.MaxJobsPerEvaluation > 0 {
		return r.MaxJobsPerEvaluation
	}
	return DefaultMaxJobsPerEvaluation
}

// recordTrigger stores one trigger's reading; lastUpdateTime moves only when the reading does,
// lastChangeTime only when the state (Active, Inactive, Error) does. A value read from a
// Secret (sensitive) is shown as scalers.SensitiveValue.
func (s *scope) recordTrigger(key string, t autoscaling.JobTrigger, sensitive bool) {
	prev := s.prev.TriggerMetricsStatus[key]
	ts := v1alpha1.TriggerMetricStatus{}
	switch {
	case t.Err != nil:
		ts.Error = t.Err.Error()
		ts.ConsecutiveFailures = prev.ConsecutiveFailures + 1
		ts.Value, ts.Target = prev.Value, prev.Target
		ts.State, ts.Info = v1alpha1.TriggerStateError, ts.Error
	default:
		ts.Value = strconv.FormatFloat(t.Value, 'f', -1, 64)
		if sensitive {
			ts.Value = scalers.SensitiveValue
		}
		ts.Target = strconv.FormatFloat(t.Target, 'f', -1, 64)
		ts.Active = t.Active
		ts.State = v1alpha1.TriggerStateInactive
		ts.Info = "value " + ts.Value + " is not above the activation threshold"
		if t.Active {
			ts.State, ts.Info = v1alpha1.TriggerStateActive, ""
		}
	}
	ts.LastUpdateTime = prev.LastUpdateTime
	if ts.Value != prev.Value || ts.Active != prev.Active || ts.Error != prev.Error || ts.LastUpdateTime == nil {
		ts.LastUpdateTime = &metav1.Time{Time: s.now}
	}
	ts.LastChangeTime = prev.LastChangeTime
	if ts.State != prev.State || ts.LastChangeTime == nil {
		ts.LastChangeTime = &metav1.Time{Time: s.now}
	}
	s.triggerStatus[key] = ts
}

// scalersTargetAverageValue is KEDA's getTargetAverageValue (pkg/scaling/scaledjob/metrics.go):
// the mean target over the triggers' metrics, as a quantity; nil when no trigger has a target.
func (s *scope) scalersTargetAverageValue() *resource.Quantity {
	var sum float64
	n := 0
	for _, t := range s.triggers {
		if t.Err == nil || t.Target != 0 {
			sum += t.Target
			n++
		}
	}
	milli := math.Round(sum / float64(n) * 1000)
	if n == 0 || sum == 0 || math.IsNaN(milli) || math.Abs(milli) >= math.MaxInt64 {
		return nil
	}
	return resource.NewMilliQuantity(int64(milli), resource.DecimalSI)
}
