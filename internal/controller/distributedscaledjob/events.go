package distributedscaledjob

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/jobs"
)

// Event reasons.
const (
	EventJobsCreated        = "JobsCreated"
	EventJobsDeleted        = "JobsDeleted"
	EventFailedOver         = "FailedOver"
	EventMemberTainted      = "MemberTainted"
	EventMemberUntainted    = "MemberUntainted"
	EventMemberUnhealthy    = "MemberUnhealthy"
	EventMemberRecovered    = "MemberRecovered"
	EventNoMemberAvailable  = "NoMemberAvailable"
	EventTriggerError       = "TriggerError"
	EventJobOperationFailed = "JobOperationFailed"
	EventMemberRemoved      = "MemberRemoved"
	EventInvalidSpec        = "InvalidSpec"
)

// emitEvents records what changed in this evaluation, comparing with the status as read.
func (r *Reconciler) emitEvents(s *scope) {
	if r.Recorder == nil {
		return
	}
	dsj := s.dsj
	if n := s.newJobsCount(); n > 0 {
		capped := ""
		if s.deferred > 0 {
			capped = "; " + cappedNote(s)
		}
		r.Recorder.Eventf(dsj, nil, corev1.EventTypeNormal, EventJobsCreated, "Create",
			"Created %d Job(s): %s; %s%s", n, perMember(s.created), s.decision.Reason, capped)
	}
	if s.specError != "" && readyMessage(s.prev) != s.specError {
		r.Recorder.Eventf(dsj, nil, corev1.EventTypeWarning, EventInvalidSpec, "Evaluate", "%s", s.specError)
	}
	for _, f := range s.failedOver {
		r.Recorder.Eventf(dsj, nil, corev1.EventTypeWarning, EventFailedOver, "Failover",
			"Job %s/%s in %s pending for more than %s: re-created in %s as %s/%s", f.Source.Namespace, f.Source.Name,
			f.Source.Member, s.policy.GracePeriod, f.Target, s.memberView(f.Target).namespace, f.name)
	}
	if len(s.deleted) > 0 {
		r.Recorder.Eventf(dsj, nil, corev1.EventTypeNormal, EventJobsDeleted, "Delete", "Deleted %s", describeDeletions(s.deleted))
	}
	if s.unplaced > 0 && !strings.Contains(readyMessage(s.prev), notPlacedNote) {
		r.Recorder.Eventf(dsj, nil, corev1.EventTypeWarning, EventNoMemberAvailable, "Place",
			"%d Job(s) %s", s.unplaced, notPlacedNote)
	}
	for _, mv := range s.members {
		r.memberEvents(s, mv)
	}
	for key, t := range s.dsj.Status.TriggerMetricsStatus {
		if t.Error != "" && t.Error != s.prev.TriggerMetricsStatus[key].Error {
			r.Recorder.Eventf(dsj, nil, corev1.EventTypeWarning, EventTriggerError, "Evaluate", "Trigger %s (%s): %s", key, s.triggerTypes[key], t.Error)
		}
	}
	for _, name := range sortedKeys(s.applyErrors) {
		r.Recorder.Eventf(dsj, nil, corev1.EventTypeWarning, EventJobOperationFailed, "Apply", "Member %s: %s", name, strings.Join(s.applyErrors[name], "; "))
	}
}

func (r *Reconciler) memberEvents(s *scope, mv *memberView) {
	now := s.dsj.Status.MemberClusterStatuses[mv.name]
	prev := mv.prev
	switch {
	case now.State == v1alpha1.MemberStateNotReady && (!mv.hadPrev || prev.State == v1alpha1.MemberStateReady):
		r.Recorder.Eventf(s.dsj, nil, corev1.EventTypeWarning, EventMemberUnhealthy, "Observe", "Member %s: %s", mv.name, now.Description)
	case now.State == v1alpha1.MemberStateReady && prev.State == v1alpha1.MemberStateNotReady:
		r.Recorder.Eventf(s.dsj, nil, corev1.EventTypeNormal, EventMemberRecovered, "Observe", "Member %s is reachable again", mv.name)
	}
	if mv.departed && mv.hadPrev && !strings.HasPrefix(prev.Description, "removed from spec.memberClusters") {
		r.Recorder.Eventf(s.dsj, nil, corev1.EventTypeNormal, EventMemberRemoved, "Observe", "Member %s %s", mv.name, now.Description)
	}
	for _, sc := range now.HardTaintScopes {
		if !slices.ContainsFunc(prev.HardTaintScopes, func(p v1alpha1.HardTaintScope) bool {
			return p.Class == sc.Class && ptr.Equal(p.Priority, sc.Priority) && ptr.Equal(p.Size, sc.Size)
		}) {
			r.Recorder.Eventf(s.dsj, nil, corev1.EventTypeWarning, EventMemberTainted, "Taint",
				"Member %s hard-tainted for workload class %q at priority %d, sizes ≥ %d, until %s: its Jobs stayed Pending; Jobs go to the next priority",
				mv.name, sc.Class, ptr.Deref(sc.Priority, 0), ptr.Deref(sc.Size, 0), stamp(sc.Until.Time))
		}
	}
	switch {
	case now.HardTainted && len(now.HardTaintScopes) > 0:
		// reported per scope above
	case now.HardTainted && !prev.HardTainted:
		r.Recorder.Eventf(s.dsj, nil, corev1.EventTypeWarning, EventMemberTainted, "Taint",
			"Member %s hard-tainted until %s: another Job failed over while it was tainted; no new Jobs", mv.name, stamp(now.HardTaintedUntil.Time))
	case now.SoftTainted && !prev.SoftTainted && !prev.HardTainted:
		r.Recorder.Eventf(s.dsj, nil, corev1.EventTypeWarning, EventMemberTainted, "Taint",
			"Member %s soft-tainted until %s: a Job failed over; no new Jobs", mv.name, stamp(now.SoftTaintedUntil.Time))
	case !now.SoftTainted && !now.HardTainted && (prev.SoftTainted || prev.HardTainted):
		r.Recorder.Eventf(s.dsj, nil, corev1.EventTypeNormal, EventMemberUntainted, "Taint", "Member %s untainted: it gets new Jobs again", mv.name)
	}
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func readyMessage(st v1alpha1.DistributedScaledJobStatus) string {
	for _, c := range st.Conditions {
		if c.Type == v1alpha1.ConditionReady {
			return c.Message
		}
	}
	return ""
}

func perMember(counts map[string]int) string {
	parts := make([]string, 0, len(counts))
	for _, name := range sortedKeys(counts) {
		parts = append(parts, fmt.Sprintf("%s=%d", name, counts[name]))
	}
	return strings.Join(parts, ", ")
}

// describeDeletions says e.g. "3 Job(s): 2 outdated (rollout), 1 beyond the history limits".
func describeDeletions(ds []jobs.Deletion) string {
	by := map[jobs.DeletionReason]int{}
	for _, d := range ds {
		by[d.Reason]++
	}
	words := map[jobs.DeletionReason]string{
		jobs.ReasonRollout:       "outdated (rollout)",
		jobs.ReasonHistory:       "finished beyond the history limits",
		jobs.ReasonDuplication:   "failover duplicate(s) (duplicationPolicy)",
		jobs.ReasonMemberRemoved: "in member(s) removed from the whitelist",
	}
	var parts []string
	for reason, n := range by {
		parts = append(parts, fmt.Sprintf("%d %s", n, words[reason]))
	}
	sort.Strings(parts)
	return fmt.Sprintf("%d Job(s): %s", len(ds), strings.Join(parts, ", "))
}
