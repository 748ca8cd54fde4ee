package distributedscaledobject

import (
	"context"
	"fmt"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/autoscaling"
	"github.com/fleetscale/fleetscale/internal/scalers"
)

// evaluateTotal reads the triggers and decides the total with KEDA's and the HPA's rules.
// "Current" is the sum of spec.replicas over members that are not excluded, so a new DSO
// starts from what runs.
func (r *Reconciler) evaluateTotal(ctx context.Context, s *scope) {
	spec := s.dso.Spec.ScaledObjectSpec
	// Summed in int64 and saturated: members of up to 2³¹−1 replicas each never wrap.
	var current, ready int32
	for _, mv := range s.members {
		if mv.prevExcluded {
			continue
		}
		c := mv.current
		if prev := s.prev.MemberClusterStatuses[mv.name]; prev.Capacity != nil {
			// A slow member is asked for a probe replica beyond its share; the total counts
			// its share, or the probe would creep into the total.
			c = min(c, prev.DesiredReplicas)
		}
		current = autoscaling.SumReplicas(current, c)
		ready = autoscaling.SumReplicas(ready, mv.ready)
	}
	s.prevTotal = current
	if s.prev.LastEvaluationTime != nil {
		s.prevTotal = s.prev.TotalDesiredReplicas
	}

	pause, err := autoscaling.PauseFromAnnotations(s.dso.Annotations)
	if err != nil {
		s.specError = err.Error()
	}
	triggers := r.readTriggers(ctx, s)
	in := autoscaling.ScaledObjectInput{
		Triggers:              triggers,
		CurrentReplicas:       current,
		ReadyReplicas:         ready,
		MinReplicaCount:       spec.MinReplicaCount,
		MaxReplicaCount:       spec.MaxReplicaCount,
		IdleReplicaCount:      spec.IdleReplicaCount,
		CooldownPeriod:        spec.CooldownPeriod,
		InitialCooldownPeriod: spec.InitialCooldownPeriod,
		Pause:                 pause,
		ForceActivation:       autoscaling.ForceActivation(s.dso.Annotations),
		CreationTime:          s.dso.CreationTimestamp.Time,
		State:                 stateFromStatus(&s.prev),
		SyncPeriod:            r.syncPeriod(),
	}
	if spec.Fallback != nil {
		in.Fallback = &autoscaling.Fallback{FailureThreshold: spec.Fallback.FailureThreshold,
			Replicas: spec.Fallback.Replicas, Behavior: autoscaling.FallbackBehavior(spec.Fallback.Behavior)}
	}
	if adv := spec.Advanced; adv != nil {
		if adv.HorizontalPodAutoscalerConfig != nil {
			in.Behavior = adv.HorizontalPodAutoscalerConfig.Behavior
		}
		if m := adv.ScalingModifiers; m.Formula != "" {
			in.ScalingModifiers = &autoscaling.ScalingModifiers{Formula: m.Formula, Target: m.Target,
				ActivationTarget: m.ActivationTarget, MetricType: m.MetricType}
		}
	}
	d, err := autoscaling.DecideTotal(in, s.now)
	if err != nil {
		s.specError = err.Error()
	}
	d = r.holdWithinSyncPeriod(s, in.State, d)
	s.decision, s.total, s.totalDecided = d, d.DesiredReplicas, true
	// The reason names triggers and rules, never a value read from a Secret.
	ctrl.LoggerFrom(ctx).V(1).Info("Total decided", "total", d.DesiredReplicas, "previous", s.prevTotal,
		"active", d.Active, "reason", d.Reason, "requeueAfter", d.RequeueAfter)
	storeState(&s.dso.Status, d, s.now, s.sensitive)
	s.dso.Status.LastEvaluationTime = &metav1.Time{Time: s.now}
}

// holdWithinSyncPeriod reproduces the HPA's cadence for rate limits: the HPA evaluates once
// per sync period, so a limit such as max(2×current, 4) allows one step per period. We
// evaluate on every event, so after a rate-limited step the total stays until the period
// has passed (status.rateLimitedUntil), and the HPA history is not advanced meanwhile.
func (r *Reconciler) holdWithinSyncPeriod(s *scope, prevState autoscaling.ScaledObjectState, d autoscaling.ScaledObjectDecision) autoscaling.ScaledObjectDecision {
	held := s.prev.RateLimitedUntil
	if held != nil && s.now.Before(held.Time) && s.prev.LastEvaluationTime != nil && d.DesiredReplicas != s.prev.TotalDesiredReplicas {
		wait := held.Sub(s.now)
		d.Reason = fmt.Sprintf("%d held until the next HPA sync period (in %s); the triggers ask for %d", s.prev.TotalDesiredReplicas, wait.Round(time.Millisecond), d.DesiredReplicas)
		d.DesiredReplicas, d.State, d.RateLimited = s.prev.TotalDesiredReplicas, prevState, true
		d.RequeueAfter = wait
		s.dso.Status.RateLimitedUntil = held
		return d
	}
	s.dso.Status.RateLimitedUntil = nil
	if d.RateLimited && d.DesiredReplicas != s.prevTotal {
		s.dso.Status.RateLimitedUntil = &metav1.MicroTime{Time: s.now.Add(r.syncPeriod())}
		d.RequeueAfter = r.syncPeriod()
	}
	return d
}

// stateFromStatus is the autoscaler's memory, kept in status across restarts.
func stateFromStatus(st *v1alpha1.DistributedScaledObjectStatus) autoscaling.ScaledObjectState {
	state := autoscaling.ScaledObjectState{LastActiveTime: st.LastActiveTime, TriggerFailures: st.TriggerFailures}
	if h := st.ScalingHistory; h != nil {
		for _, rec := range h.Recommendations {
			state.History.Recommendations = append(state.History.Recommendations,
				autoscaling.TimestampedReplicas{Replicas: rec.Replicas, Timestamp: rec.Time})
		}
		for _, e := range h.ScaleUpEvents {
			state.History.ScaleUpEvents = append(state.History.ScaleUpEvents, autoscaling.ScaleEvent{ReplicaChange: e.ReplicaChange, Timestamp: e.Time})
		}
		for _, e := range h.ScaleDownEvents {
			state.History.ScaleDownEvents = append(state.History.ScaleDownEvents, autoscaling.ScaleEvent{ReplicaChange: e.ReplicaChange, Timestamp: e.Time})
		}
	}
	return state
}

// storeState keeps the decision's memory and each trigger's reading in status; a value read
// from a Secret (sensitive, by trigger name) is shown as scalers.SensitiveValue.
func storeState(st *v1alpha1.DistributedScaledObjectStatus, d autoscaling.ScaledObjectDecision, now time.Time, sensitive map[string]bool) {
	st.LastActiveTime = d.State.LastActiveTime
	st.TriggerFailures = d.State.TriggerFailures
	h := d.State.History
	if len(h.Recommendations)+len(h.ScaleUpEvents)+len(h.ScaleDownEvents) == 0 {
		st.ScalingHistory = nil
	} else {
		st.ScalingHistory = &v1alpha1.ScalingHistory{}
		for _, rec := range h.Recommendations {
			st.ScalingHistory.Recommendations = append(st.ScalingHistory.Recommendations, v1alpha1.TimestampedReplicas{Time: rec.Timestamp, Replicas: rec.Replicas})
		}
		for _, e := range h.ScaleUpEvents {
			st.ScalingHistory.ScaleUpEvents = append(st.ScalingHistory.ScaleUpEvents, v1alpha1.ScaleEvent{Time: e.Timestamp, ReplicaChange: e.ReplicaChange})
		}
		for _, e := range h.ScaleDownEvents {
			st.ScalingHistory.ScaleDownEvents = append(st.ScalingHistory.ScaleDownEvents, v1alpha1.ScaleEvent{Time: e.Timestamp, ReplicaChange: e.ReplicaChange})
		}
	}
	prev := st.Triggers
	st.Triggers = map[string]v1alpha1.TriggerMetricStatus{}
	for i, t := range d.Triggers {
		key := t.Name
		if key == "" {
			key = "trigger-" + strconv.Itoa(i)
		}
		value := strconv.FormatFloat(t.Value, 'f', -1, 64)
		if sensitive[t.Name] {
			value = scalers.SensitiveValue
		}
		ts := v1alpha1.TriggerMetricStatus{
			Value:               value,
			Target:              strconv.FormatFloat(t.Target, 'f', -1, 64),
			Active:              t.Active,
			Error:               t.Error,
			ConsecutiveFailures: t.ConsecutiveFailures,
			State:               v1alpha1.TriggerStateInactive,
		}
		switch {
		case t.Error != "" && !t.FallbackActive:
			ts.State, ts.Info = v1alpha1.TriggerStateError, t.Error
		case t.Active:
			ts.State = v1alpha1.TriggerStateActive
			if t.FallbackActive {
				ts.Info = "fallback: " + t.Error
			}
		}
		ts.LastChangeTime = prev[key].LastChangeTime
		// A new error text restarts the time too: keptTriggerError keeps a text for a while.
		if ts.State != prev[key].State || ts.Error != prev[key].Error || ts.LastChangeTime == nil {
			ts.LastChangeTime = &metav1.Time{Time: now}
		}
		st.Triggers[key] = ts
	}
}
