package distributedscaledobject

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/autoscaling"
	"github.com/fleetscale/fleetscale/internal/distribution"
)

// Condition reasons set here (the trigger-related ones come from internal/autoscaling).
const (
	ReasonInvalidSpec       = v1alpha1.ReasonInvalidSpec
	ReasonNoMemberClusters  = v1alpha1.ReasonNoMemberClusters
	ReasonWaitingForMembers = v1alpha1.ReasonWaitingForMembers
)

// summarize turns what the scope observed and decided into status. Pure: no I/O.
func (s *scope) summarize() {
	st := &s.dso.Status
	st.MemberClusterStatuses = map[string]v1alpha1.ScaledMemberStatus{}
	var healthy, current int32
	for _, mv := range s.members {
		prev := s.prev.MemberClusterStatuses[mv.name]
		ms := v1alpha1.ScaledMemberStatus{
			ID:               mv.id,
			Provider:         v1alpha1.ProviderKubeconfig,
			CurrentReplicas:  mv.current,
			DesiredReplicas:  mv.result.Desired,
			State:            string(mv.result.State),
			Excluded:         mv.result.Excluded,
			Description:      mv.result.Description,
			OriginalReplicas: prev.OriginalReplicas,
			// Kept while the target cannot be read, so a blip forgets no progress.
			LastScalingProgressTime: prev.LastScalingProgressTime,
			ReadyReplicas:           prev.ReadyReplicas,
			Capacity:                mv.result.Capacity,
		}
		if !mv.result.Progress.IsZero() {
			ms.LastScalingProgressTime = &metav1.Time{Time: mv.result.Progress}
		}
		if mv.observed && mv.targetExists {
			ms.ReadyReplicas = nil
			if mv.readyKnown {
				ms.ReadyReplicas = ptr.To(mv.ready)
			}
		}
		if !mv.result.Since.IsZero() {
			ms.LastStatusChangeTime = &metav1.Time{Time: mv.result.Since}
		}
		if mv.observed && mv.targetExists && ms.OriginalReplicas == nil {
			ms.OriginalReplicas = ptr.To(mv.current)
		}
		if mv.applied {
			ms.CurrentReplicas = mv.replicasAfter
		}
		if e, ok := s.applyErrors[mv.name]; ok {
			ms.Description = "scaling failed: " + e
		}
		if mv.result.State == distribution.StateReady {
			healthy++
		}
		if !mv.result.Excluded {
			// A slow member's probe replica is not part of the total (evaluateTotal).
			c := ms.CurrentReplicas
			if ms.Capacity != nil {
				c = min(c, ms.DesiredReplicas)
			}
			current = autoscaling.SumReplicas(current, c)
		}
		if st.Selector == "" && mv.selector != "" {
			st.Selector = mv.selector
		}
		st.MemberClusterStatuses[mv.name] = ms
	}
	st.MembersHealthyCount = healthy
	st.MembersTotalCount = int32(len(s.members))
	st.TotalCurrentReplicas = current
	st.TotalDesiredReplicas = s.total
	st.Print = v1alpha1.PrintStatus{
		TotalReplicas: fmt.Sprintf("%d/%d", current, s.total),
		MembersCount:  fmt.Sprintf("%d/%d", healthy, len(s.members)),
	}
	s.setConditions()
}

// setInvalidSpec reports a spec that cannot be evaluated at all; the rest of status stays.
func (s *scope) setInvalidSpec(problem string) {
	s.specError = problem
	meta.SetStatusCondition(&s.dso.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionReady,
		Status: metav1.ConditionFalse, Reason: ReasonInvalidSpec, ObservedGeneration: s.observedGeneration(), Message: problem})
}

// setWaiting reports that the first evaluation waits for members to be read. Once a DSO
// has been evaluated, a short wait (a controller restart) leaves its conditions as they are.
func (s *scope) setWaiting() {
	if s.prev.LastEvaluationTime != nil {
		return
	}
	meta.SetStatusCondition(&s.dso.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionReady,
		Status: metav1.ConditionUnknown, Reason: ReasonWaitingForMembers, ObservedGeneration: s.observedGeneration(),
		Message: "waiting to read the target in member(s) " + strings.Join(s.waitingFor, ", ")})
}

func (s *scope) setConditions() {
	st := &s.dso.Status
	gen := s.observedGeneration()
	c := s.decision.Conditions
	set := func(t string, cond autoscaling.Condition) {
		if cond.Status == "" {
			return
		}
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: t, Status: cond.Status, Reason: cond.Reason,
			Message: cond.Message, ObservedGeneration: gen})
	}
	ready := c.Ready
	switch {
	case s.specError != "":
		ready = autoscaling.Condition{Status: metav1.ConditionFalse, Reason: ReasonInvalidSpec, Message: s.specError}
	case len(s.members) == 0:
		ready = autoscaling.Condition{Status: metav1.ConditionFalse, Reason: ReasonNoMemberClusters,
			Message: "no member cluster is registered or whitelisted; register one with `kubectl fleetscale mc setup-member`"}
	case s.triggerError != "" && ready.Status == metav1.ConditionTrue:
		ready.Message = s.triggerError
	case s.triggerError != "":
		ready.Message = triggerErrorMessage(ready.Reason, ready.Message, s.triggerError)
	}
	set(v1alpha1.ConditionReady, ready)
	set(v1alpha1.ConditionScaledObjectActive, c.Active)
	set(v1alpha1.ConditionPaused, c.Paused)
	set(v1alpha1.ConditionFallback, c.Fallback)
}

// triggerErrorMessage names every failing trigger by index, type and name (the autoscaler's
// message names only the first, by name).
func triggerErrorMessage(reason, message, triggerError string) string {
	switch reason {
	case autoscaling.ReasonTriggerError:
		return "Triggers are not working correctly: " + triggerError
	case autoscaling.ReasonPartialTriggerError:
		return "Some triggers are not working correctly: " + triggerError
	}
	return message
}
