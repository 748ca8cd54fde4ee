package distributedscaledobject

import (
	"context"
	"slices"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/fleetscale/fleetscale/internal/distribution"
)

// distribute runs the failover state machine and one rebalancing step (internal/distribution).
func (r *Reconciler) distribute(s *scope) {
	policy := distribution.Policy{
		GracePeriod:            distribution.DefaultGracePeriod,
		MaxRebalancePercentage: distribution.DefaultMaxRebalancePercentage,
		StepInterval:           r.syncPeriod(),
	}
	if rp := s.dso.Spec.RebalancingPolicy; rp != nil {
		policy.GracePeriod = rp.GracePeriod.Duration(metav1.Duration{Duration: distribution.DefaultGracePeriod}).Duration
		if rp.MaxRebalancePercentage != nil {
			policy.MaxRebalancePercentage = *rp.MaxRebalancePercentage
		}
	}
	policy.StabilizationPeriod = policy.GracePeriod
	in := distribution.Input{Now: s.now, Total: s.total, Seed: string(s.dso.UID), Policy: policy}
	if t := s.prev.LastRebalanceTime; t != nil {
		in.LastStep = endOfSecond(t.Time)
	}
	target := s.dso.Spec.ScaledObjectSpec.ScaleTargetRef
	kind := targetGVK(s.dso).Kind
	for _, mv := range s.members {
		mi := distribution.MemberInput{Name: mv.name, Weight: mv.weight, Healthy: mv.healthy(),
			Reason: mv.unhealthyReason(kind, target.Name)}
		if prev, ok := s.prev.MemberClusterStatuses[mv.name]; ok {
			mi.State, mi.Desired = distribution.State(prev.State), prev.DesiredReplicas
			if prev.LastStatusChangeTime != nil {
				mi.Since = endOfSecond(prev.LastStatusChangeTime.Time)
			}
			if prev.LastScalingProgressTime != nil {
				mi.Progress = prev.LastScalingProgressTime.Time
			}
			if prev.ReadyReplicas != nil {
				mi.LastReady, mi.LastReadyKnown = *prev.ReadyReplicas, true
			}
			mi.Capacity = prev.Capacity
		}
		if mv.observed && mv.targetExists {
			mi.ReadyKnown, mi.Ready, mi.Current = mv.readyKnown, mv.ready, mv.current
		}
		in.Members = append(in.Members, mi)
	}
	s.split = distribution.Evaluate(in)
	for i, mv := range s.members {
		mv.result = s.split.Members[i]
	}
	if !s.split.LastStep.IsZero() && !s.split.LastStep.Equal(in.LastStep) {
		s.dso.Status.LastRebalanceTime = &metav1.Time{Time: s.split.LastStep}
	}
}

// endOfSecond reads back a time stored in status. metav1.Time keeps whole seconds, rounded
// down, so a grace period, stabilisation period or step interval counted from it would end up
// to 1s early; counted from the end of that second it lasts up to 1s longer instead, never
// shorter: nothing moves inside a grace period (test/fault).
func endOfSecond(t time.Time) time.Time {
	if t.Nanosecond() != 0 {
		return t
	}
	return t.Add(time.Second - time.Nanosecond)
}

// persistShares writes the status, with the shares just decided, before apply scales any
// member to them. Decisions rest on the stored shares while the total counts what members
// run: a controller killed between the member writes and the status write (or a leader that
// lost its lease there) would leave its successor counting the moved replicas twice (on the
// member that got them and on the excluded one that still holds them in status), keeping that
// total within the HPA's tolerance and taking the same step again (test/fault). Only when a
// member is about to be written: a steady state costs no extra status write.
func (r *Reconciler) persistShares(ctx context.Context, s *scope) error {
	if s.frozen() || !slices.ContainsFunc(s.members, (*memberView).writePending) {
		return nil
	}
	s.summarize()
	if err := r.patchStatus(ctx, s); err != nil {
		return err
	}
	// The deferred status patch is computed against what is stored now: diffing against the
	// object as first read would carry this patch's resourceVersion and conflict with the
	// spec mirror written in between.
	s.orig = s.dso.DeepCopy()
	return nil
}

// writePending: apply will write this member's share.
func (mv *memberView) writePending() bool {
	return mv.result.Apply && mv.observed && mv.current != mv.result.Write
}

// apply writes each Ready member's share through its target's /scale, in parallel, only where
// it differs. Every call is bounded by that member's timeout, so a hung member delays no other.
// A failed write is recorded in s.applyErrors (status, ScaleFailed Event, a retry after the
// sync period), not returned. While the triggers are broken and no fallback applies, nothing is
// written: a trigger error never scales a healthy member down.
func (r *Reconciler) apply(ctx context.Context, s *scope) {
	if s.frozen() {
		return
	}
	gvk := targetGVK(s.dso)
	name := s.dso.Spec.ScaledObjectSpec.ScaleTargetRef.Name
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, mv := range s.members {
		if !mv.writePending() {
			continue
		}
		m, ok := r.Registry.Get(mv.name)
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := m.SetReplicas(ctx, gvk, mv.namespace, name, mv.result.Write)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				s.applyErrors[mv.name] = err.Error()
				return
			}
			ctrl.LoggerFrom(ctx).V(1).Info("Share written", "member", mv.name, "namespace", mv.namespace,
				"replicas", mv.result.Write, "state", mv.result.State)
			mv.applied, mv.replicasAfter = true, mv.result.Write
		}()
	}
	wg.Wait()
}

// frozen: the total could not be computed from any trigger and no fallback replaced it.
func (s *scope) frozen() bool {
	return s.specError != "" || s.decision.Conditions.Ready.Status == metav1.ConditionFalse
}
