package distributedscaledjob

import (
	"context"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
	in := jobs.Input{Now: s.now, Policy: s.policy, RRState: s.prev.RoundRobinWeights, Paused: s.paused}
	for _, mv := range s.members {
		in.Members = append(in.Members, s.planMember(mv))
		in.Jobs = append(in.Jobs, mv.jobs...)
	}
	s.plan = jobs.Evaluate(in)

	spec := s.dsj.Spec.ScaledJobSpec
	ss := spec.ScalingStrategy
	s.decision = autoscaling.DecideJobs(autoscaling.ScaledJobInput{
		Triggers:        s.triggers,
		RunningJobs:     s.plan.Running,
		PendingJobs:     s.plan.Pending,
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
	n := int(s.decision.JobsToCreate)
	s.placements = s.plan.Place(n)
	s.unplaced = n - len(s.placements)
}

func triggerKey(name, fallback string) string {
	if name != "" {
		return name
	}
	return fallback
}

// recordTrigger stores one trigger's reading; lastUpdateTime moves only when the reading does.
// A value read from a Secret (sensitive) is shown as scalers.SensitiveValue.
func (s *scope) recordTrigger(key string, t autoscaling.JobTrigger, sensitive bool) {
	prev := s.prev.TriggerMetricsStatus[key]
	ts := v1alpha1.TriggerMetricStatus{}
	if t.Err != nil {
		ts.Error = t.Err.Error()
		ts.ConsecutiveFailures = prev.ConsecutiveFailures + 1
		ts.Value, ts.Target = prev.Value, prev.Target
	} else {
		ts.Value = strconv.FormatFloat(t.Value, 'f', -1, 64)
		if sensitive {
			ts.Value = scalers.SensitiveValue
		}
		ts.Target = strconv.FormatFloat(t.Target, 'f', -1, 64)
		ts.Active = t.Active
	}
	ts.LastUpdateTime = prev.LastUpdateTime
	if ts.Value != prev.Value || ts.Active != prev.Active || ts.Error != prev.Error || ts.LastUpdateTime == nil {
		ts.LastUpdateTime = &metav1.Time{Time: s.now}
	}
	s.triggerStatus[key] = ts
}
