package distributedscaledjob

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/autoscaling"
	"github.com/fleetscale/fleetscale/internal/jobs"
)

// ConditionScheduling says whether clusterScheduling.strategy is carried out as written.
const ConditionScheduling = "Scheduling"

// Condition reasons set here (the trigger-related ones come from internal/autoscaling).
const (
	ReasonInvalidSpec        = v1alpha1.ReasonInvalidSpec
	ReasonNoMemberClusters   = v1alpha1.ReasonNoMemberClusters
	ReasonWaitingForMembers  = v1alpha1.ReasonWaitingForMembers
	ReasonDeletingJobs       = v1alpha1.ReasonDeletingJobs
	ReasonPaused             = v1alpha1.ReasonScaledJobPaused
	ReasonNotPaused          = v1alpha1.ReasonScaledJobNotPaused
	ReasonWeightedRoundRobin = v1alpha1.ReasonWeightedRoundRobin
	ReasonPriorityFailover   = v1alpha1.ReasonPriorityFailover
)

const notPlacedNote = "not created: no member is healthy and untainted"

// cappedNote says that the per-evaluation cap left Jobs for the next evaluations.
func cappedNote(s *scope) string {
	return fmt.Sprintf("%d more Job(s) to create: at most %d are created per evaluation (--max-jobs-per-evaluation), the rest in the next evaluations", s.deferred, s.maxJobs)
}

// summarize turns what the scope observed, decided and did into status. Pure: no I/O.
func (s *scope) summarize() {
	st := &s.dsj.Status
	st.MemberClusterStatuses = map[string]v1alpha1.JobMemberClusterStatus{}
	var healthy, eligible int
	for _, mv := range s.members {
		if mv.departed && mv.access == jobs.Observed && len(mv.jobs) == 0 {
			continue // removed from the whitelist and no Job left there
		}
		ms := s.memberStatus(mv)
		st.MemberClusterStatuses[mv.name] = ms
		if mv.departed {
			continue
		}
		eligible++
		if ms.State == v1alpha1.MemberStateReady && !ms.Excluded {
			healthy++
		}
	}
	running, pending := s.runningJobs()
	st.RunningJobs, st.PendingJobs = running, pending
	st.DesiredJobs = autoscaling.SumReplicas(running, s.createdCount())
	st.Selector = jobs.Selector(s.dsj.UID).String()
	jobsPrint := fmt.Sprintf("%d/%d", st.RunningJobs, st.DesiredJobs)
	st.Print = v1alpha1.JobPrintStatus{
		RunningJobs:  jobsPrint,
		Jobs:         jobsPrint,
		MembersCount: fmt.Sprintf("%d/%d", healthy, eligible),
	}
	if s.triggerStatus != nil {
		st.TriggerMetricsStatus = s.triggerStatus
		st.ScalersTargetAverageValue = s.scalersTargetAverageValue()
	}
	if s.plan != nil {
		st.RoundRobinWeights = s.plan.RRState
	}
	// Refreshed once per polling interval at most: a write per Job event would be noise.
	if s.decided && s.decision.Active && (st.LastActiveTime == nil || s.now.Sub(st.LastActiveTime.Time) >= pollingInterval(s.dsj)) {
		st.LastActiveTime = &metav1.Time{Time: s.now}
	}
	s.setConditions()
}

// memberStatus is one member's line in status.
func (s *scope) memberStatus(mv *memberView) v1alpha1.JobMemberClusterStatus {
	ms := v1alpha1.JobMemberClusterStatus{ID: mv.id, Provider: v1alpha1.ProviderKubeconfig,
		State: v1alpha1.MemberStateNotReady, Description: mv.reason}
	if mv.access == jobs.Observed {
		ms.State = v1alpha1.MemberStateReady
	}
	// An unobserved member keeps its last known counts (they are what it counts with).
	last := mv.lastKnown()
	ms.RunningJobs, ms.PendingJobs, ms.StuckJobs = last.Running, last.Pending, mv.prev.StuckJobs
	taint := s.planMember(mv).Taint.Expire(s.now)
	scopes := mv.prev.HardTaintScopes
	blocked := ""
	if s.plan != nil {
		taint = s.plan.Taints[mv.name]
		scopes = hardTaintScopes(s.plan.Scopes[mv.name])
		blocked = s.plan.Blocked(mv.name)
		if c, ok := s.plan.Counts[mv.name]; ok && mv.access == jobs.Observed {
			ms.RunningJobs, ms.PendingJobs, ms.StuckJobs = c.Running, c.Pending, c.Stuck
		}
	}
	ms.SoftTainted, ms.HardTainted = taint.Soft(s.now), taint.Hard(s.now) || len(scopes) > 0
	ms.SoftTaintedUntil, ms.HardTaintedUntil = timeOrNil(taint.SoftUntil), timeOrNil(taint.HardUntil)
	ms.HardTaintScopes = scopes
	ms.Excluded = mv.departed || mv.access != jobs.Observed || blocked != ""

	ms.LastStatusChangeTime = mv.prev.LastStatusChangeTime
	if !mv.hadPrev || mv.prev.State != ms.State || ms.LastStatusChangeTime == nil {
		ms.LastStatusChangeTime = &metav1.Time{Time: s.now}
	}
	ms.LastScalingProgressTime = mv.prev.LastScalingProgressTime
	if mv.access == jobs.Observed && (ms.StuckJobs == 0 || ms.LastScalingProgressTime == nil) {
		ms.LastScalingProgressTime = &metav1.Time{Time: s.now}
	}
	if mv.access == jobs.Observed {
		ms.Description = describeObserved(ms, blocked, s.policy.GracePeriod)
	}
	if mv.departed {
		ms.Description = strings.TrimSuffix("removed from spec.memberClusters: "+describeDeparted(ms, s.policy.GradualRollout)+"; "+ms.Description, "; ")
	}
	if errs := s.applyErrors[mv.name]; len(errs) > 0 {
		ms.Description = strings.TrimPrefix(ms.Description+"; "+strings.Join(errs, "; "), "; ")
	}
	return ms
}

func describeObserved(ms v1alpha1.JobMemberClusterStatus, blocked string, grace time.Duration) string {
	var parts []string
	switch {
	case strings.HasPrefix(blocked, "hard-tainted for") || strings.HasPrefix(blocked, "hard-tainted by"):
		parts = append(parts, blocked+": no new Jobs of this workload")
	case ms.HardTaintedUntil != nil && ms.HardTainted:
		parts = append(parts, "hard-tainted until "+ms.HardTaintedUntil.UTC().Format(time.RFC3339)+" after repeated failovers: no new Jobs")
	case ms.SoftTainted:
		parts = append(parts, "soft-tainted until "+ms.SoftTaintedUntil.UTC().Format(time.RFC3339)+" after a failover: no new Jobs")
	}
	if ms.StuckJobs > 0 {
		parts = append(parts, fmt.Sprintf("%d Job(s) pending for more than %s", ms.StuckJobs, grace))
	}
	return strings.Join(parts, "; ")
}

// describeDeparted says what happens to the Jobs of a member that left the whitelist.
func describeDeparted(ms v1alpha1.JobMemberClusterStatus, gradual bool) string {
	if gradual {
		return fmt.Sprintf("%d running Job(s) left to finish (rollout gradual), no new Jobs", ms.RunningJobs)
	}
	return "its Jobs are deleted (rollout default), no new Jobs"
}

// hardTaintScopes is the status form of a member's scopes.
func hardTaintScopes(in []jobs.TaintScope) []v1alpha1.HardTaintScope {
	if len(in) == 0 {
		return nil
	}
	out := make([]v1alpha1.HardTaintScope, 0, len(in))
	for _, s := range in {
		out = append(out, v1alpha1.HardTaintScope{Class: s.Class, Priority: ptr.To(s.Priority), Size: ptr.To(s.Size),
			Until: &metav1.Time{Time: s.Until}})
	}
	return out
}

func timeOrNil(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	return &metav1.Time{Time: t}
}

// setWaiting reports that the first evaluation waits for members to be read.
func (s *scope) setWaiting() {
	meta.SetStatusCondition(&s.dsj.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionReady,
		Status: metav1.ConditionUnknown, Reason: ReasonWaitingForMembers, ObservedGeneration: s.dsj.Generation,
		Message: "waiting to list the Jobs in member(s) " + strings.Join(s.waitingFor, ", ")})
}

func (s *scope) setConditions() {
	st := &s.dsj.Status
	gen := s.dsj.Generation
	set := func(t string, c autoscaling.Condition) {
		if c.Status == "" {
			return
		}
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: t, Status: c.Status, Reason: c.Reason, Message: c.Message, ObservedGeneration: gen})
	}
	ready := s.decision.Ready
	switch {
	case s.specError != "":
		ready = autoscaling.Condition{Status: metav1.ConditionFalse, Reason: ReasonInvalidSpec, Message: s.specError}
	case len(s.members) == 0:
		ready = autoscaling.Condition{Status: metav1.ConditionFalse, Reason: ReasonNoMemberClusters,
			Message: "no member cluster is registered or whitelisted; register one with `kubectl fleetscale mc setup-member`"}
	case ready.Status == metav1.ConditionTrue:
		var notes []string
		if s.triggerError != "" {
			notes = append(notes, s.triggerError)
		}
		if s.unplaced > 0 {
			notes = append(notes, fmt.Sprintf("%d Job(s) %s", s.unplaced, notPlacedNote))
		}
		if s.deferred > 0 {
			notes = append(notes, cappedNote(s))
		}
		if len(notes) > 0 {
			ready.Message = strings.Join(notes, "; ")
		}
	case s.triggerError != "" && ready.Reason == autoscaling.ReasonTriggerError:
		// Name every failing trigger by index, type and name (the autoscaler names the first).
		ready.Message = "Triggers are not working correctly: " + s.triggerError
	case s.triggerError != "" && ready.Reason == autoscaling.ReasonPartialTriggerError:
		ready.Message = "Some triggers are not working correctly: " + s.triggerError
	}
	set(v1alpha1.ConditionReady, ready)
	set(v1alpha1.ConditionActive, s.decision.ActiveCond)
	if s.paused {
		set(v1alpha1.ConditionPaused, autoscaling.Condition{Status: metav1.ConditionTrue, Reason: ReasonPaused,
			Message: "no Jobs are created while annotation " + v1alpha1.AnnotationPaused + " is set"})
	} else {
		set(v1alpha1.ConditionPaused, autoscaling.Condition{Status: metav1.ConditionFalse, Reason: ReasonNotPaused, Message: "ScaledJob is not paused"})
	}
	set(ConditionScheduling, schedulingCondition(s.dsj))
}

func schedulingCondition(dsj *v1alpha1.DistributedScaledJob) autoscaling.Condition {
	if strategy(dsj) == StrategyPriorityFailover {
		a := affinity(dsj)
		return autoscaling.Condition{Status: metav1.ConditionTrue, Reason: ReasonPriorityFailover,
			Message: fmt.Sprintf("Jobs go to the highest-priority healthy member not tainted for workload class %q (size %d)", a.Class, a.Size)}
	}
	return autoscaling.Condition{Status: metav1.ConditionTrue, Reason: ReasonWeightedRoundRobin,
		Message: "Jobs are spread by smooth weighted round-robin over healthy, untainted members"}
}
