package distributedscaledobject

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/tenancy"
)

// EventRestoreSkipped: on deletion, a member's workload was not restored because the DSO may
// no longer act on its namespace.
const EventRestoreSkipped = "RestoreSkipped"

// admit holds the DSO to the hub admin's TenantPolicies before anything reads or writes a
// member: every whitelisted member's target namespace must be allowed for the DSO's hub
// namespace (an empty whitelist targets the DSO's own namespace everywhere, always allowed).
// A refusal refuses the whole DSO: Ready=False with the refusal's reason, one Warning Event
// per new message, and nothing is done in any member.
func (r *Reconciler) admit(ctx context.Context, s *scope) (bool, error) {
	rules, err := r.Tenancy.Rules(ctx, s.dso.Namespace)
	if err != nil {
		return false, err
	}
	refusal := firstRefusal(rules, s.dso)
	if refusal == nil {
		return true, nil
	}
	prev := meta.FindStatusCondition(s.prev.Conditions, v1alpha1.ConditionReady)
	meta.SetStatusCondition(&s.dso.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse,
		Reason: refusal.Reason, Message: refusal.Message, ObservedGeneration: s.observedGeneration()})
	if r.Recorder != nil && (prev == nil || prev.Reason != refusal.Reason || prev.Message != refusal.Message) {
		r.Recorder.Eventf(s.dso, nil, corev1.EventTypeWarning, refusal.Reason, "Admit", "%s", refusal.Message)
	}
	return false, nil
}

// firstRefusal checks every member's target namespace and describes the first refusal,
// counting the others (the message stays short whatever the whitelist's length).
func firstRefusal(rules *tenancy.Rules, dso *v1alpha1.DistributedScaledObject) *tenancy.Refusal {
	var first *tenancy.Refusal
	more := 0
	for _, m := range dso.Spec.MemberClusters {
		err := rules.TargetNamespace(m.TargetNamespaceOr(dso.Namespace))
		if err == nil {
			continue
		}
		if first != nil {
			more++
			continue
		}
		first = &tenancy.Refusal{Reason: tenancy.ReasonOf(err), Message: "member cluster " + m.Name + ": " + err.Error()}
	}
	if first != nil && more > 0 {
		first.Message += fmt.Sprintf(" (and %d more member(s) refused)", more)
	}
	return first
}
