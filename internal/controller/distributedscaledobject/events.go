package distributedscaledobject

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/distribution"
	"github.com/fleetscale/fleetscale/internal/metrics"
)

// Event reasons.
const (
	EventScaled          = "Scaled"
	EventMemberUnhealthy = "MemberUnhealthy"
	EventMemberExcluded  = "MemberExcluded"
	EventRebalanced      = "Rebalanced"
	EventMemberRecovered = "MemberRecovered"
	EventTriggerError    = "TriggerError"
	EventScaleFailed     = "ScaleFailed"
	EventMemberSlow      = "MemberSlow"
	EventMemberProgress  = "MemberProgressing"
	EventInvalidSpec     = "InvalidSpec"
)

// emitInvalidSpec records a spec error once, when it first appears or changes.
func (r *Reconciler) emitInvalidSpec(s *scope) {
	if r.Recorder == nil || s.specError == "" {
		return
	}
	for _, c := range s.prev.Conditions {
		if c.Type == v1alpha1.ConditionReady && c.Reason == ReasonInvalidSpec && c.Message == s.specError {
			return
		}
	}
	r.Recorder.Eventf(s.dso, nil, corev1.EventTypeWarning, EventInvalidSpec, "Evaluate", "%s", s.specError)
}

// emitEvents records what changed in this evaluation, comparing with the status as read.
func (r *Reconciler) emitEvents(s *scope) {
	if r.Recorder == nil {
		return
	}
	dso := s.dso
	if s.totalDecided && s.total != s.prevTotal && !s.frozen() {
		r.Recorder.Eventf(dso, nil, corev1.EventTypeNormal, EventScaled, "Scale",
			"Total %d: %s; shares %s", s.total, s.decision.Reason, shares(s))
	}
	for _, mv := range s.members {
		wasSlow := s.prev.MemberClusterStatuses[mv.name].Capacity != nil
		switch slow := mv.result.Capacity != nil; {
		case slow && !wasSlow:
			r.Recorder.Eventf(dso, nil, corev1.EventTypeWarning, EventMemberSlow, "Rebalance",
				"Member %s makes no scaling progress; the missing part of its share moves to the others: %s", mv.name, mv.result.Description)
		case !slow && wasSlow && mv.result.State == distribution.StateReady:
			r.Recorder.Eventf(dso, nil, corev1.EventTypeNormal, EventMemberProgress, "Rebalance",
				"Member %s makes progress again (%d ready); its share returns", mv.name, mv.ready)
		}
		from, to := distribution.State(mv.prevState), mv.result.State
		if from == to {
			continue
		}
		switch {
		case to == distribution.StateUnhealthy:
			r.Recorder.Eventf(dso, nil, corev1.EventTypeWarning, EventMemberUnhealthy, "Observe",
				"Member %s unhealthy: %s", mv.name, mv.result.Description)
		case to == distribution.StateExcluded:
			r.Recorder.Eventf(dso, nil, corev1.EventTypeWarning, EventMemberExcluded, "Rebalance",
				"Member %s excluded after the grace period; its share moves to the others: %s", mv.name, mv.result.Description)
		case to == distribution.StateReady && from != "":
			r.Recorder.Eventf(dso, nil, corev1.EventTypeNormal, EventMemberRecovered, "Rebalance",
				"Member %s healthy again; its share returns", mv.name)
		}
	}
	if s.rebalanced() {
		r.Recorder.Eventf(dso, nil, corev1.EventTypeNormal, EventRebalanced, "Rebalance", "Shares moved: %s", shares(s))
	}
	for key, t := range s.dso.Status.Triggers {
		if t.Error != "" && t.Error != s.prev.Triggers[key].Error {
			r.Recorder.Eventf(dso, nil, corev1.EventTypeWarning, EventTriggerError, "Evaluate", "Trigger %s (%s): %s", key, s.triggerTypes[key], t.Error)
		}
	}
	for name, e := range s.applyErrors {
		r.Recorder.Eventf(dso, nil, corev1.EventTypeWarning, EventScaleFailed, "Scale", "Member %s: %s", name, e)
	}
	r.emitInvalidSpec(s)
}

func shares(s *scope) string {
	parts := make([]string, 0, len(s.members))
	for _, mv := range s.members {
		parts = append(parts, fmt.Sprintf("%s=%d", mv.name, mv.result.Desired))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// recordMetrics exports what this evaluation decided.
func (r *Reconciler) recordMetrics(s *scope) {
	dso := s.dso
	members := make(map[string]metrics.MemberReplicas, len(dso.Status.MemberClusterStatuses))
	for name, ms := range dso.Status.MemberClusterStatuses {
		members[name] = metrics.MemberReplicas{Desired: ms.DesiredReplicas, Current: ms.CurrentReplicas}
	}
	r.Metrics.ObserveDSO(dso.Namespace, dso.Name, dso.Status.TotalDesiredReplicas, dso.Status.TotalCurrentReplicas, members)
	for _, t := range s.decision.Triggers {
		if s.sensitive[t.Name] && t.Error == "" {
			continue // a value read from a Secret is never exported
		}
		r.Metrics.Trigger("dso", dso.Namespace, dso.Name, t.Name, t.Value, t.Error != "")
	}
	if s.rebalanced() {
		r.Metrics.Rebalanced(dso.Namespace, dso.Name)
	}
}

// rebalanced: this evaluation took a rebalancing step (shares moved between members).
func (s *scope) rebalanced() bool {
	now, before := s.dso.Status.LastRebalanceTime, s.prev.LastRebalanceTime
	return now != nil && (before == nil || !before.Equal(now))
}
