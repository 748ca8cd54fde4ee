package distributedscaledjob

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/jobs"
	"github.com/fleetscale/fleetscale/internal/tenancy"
)

// EventJobsLeft: on deletion, Jobs in a namespace the DSJ may no longer act on were left alone.
const EventJobsLeft = "JobsLeft"

// admit holds the DSJ to the hub admin's TenantPolicies before anything reads or writes a
// member: every whitelisted member's target namespace must be allowed for the DSJ's hub
// namespace, and the Job pod template each member would get (podOverrides merged) must meet
// the namespace's Pod Security level. A refusal refuses the whole DSJ: Ready=False with the
// refusal's reason, one Warning Event per new message, and no Job is created or deleted
// anywhere. The rules are kept in the scope: apply deletes no Job outside what they allow.
func (r *Reconciler) admit(ctx context.Context, s *scope) (bool, error) {
	rules, err := r.Tenancy.Rules(ctx, s.dsj.Namespace)
	if err != nil {
		return false, err
	}
	s.rules = rules
	refusal := firstRefusal(rules, s.dsj, s.id)
	if refusal == nil {
		return true, nil
	}
	prev := meta.FindStatusCondition(s.prev.Conditions, v1alpha1.ConditionReady)
	meta.SetStatusCondition(&s.dsj.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse,
		Reason: refusal.Reason, Message: refusal.Message, ObservedGeneration: s.dsj.Generation})
	if r.Recorder != nil && (prev == nil || prev.Reason != refusal.Reason || prev.Message != refusal.Message) {
		r.Recorder.Eventf(s.dsj, nil, corev1.EventTypeWarning, refusal.Reason, "Admit", "%s", refusal.Message)
	}
	return false, nil
}

// firstRefusal checks the target namespaces first (a Job in a foreign namespace is refused
// whatever its template), then each member's rendered pod template, and describes the first
// refusal, counting the others.
func firstRefusal(rules *tenancy.Rules, dsj *v1alpha1.DistributedScaledJob, id jobs.Identity) *tenancy.Refusal {
	refs := dsj.Spec.MemberClusters
	every := len(refs) == 0
	if every {
		// Every registered member, each in the DSJ's own namespace, without overrides.
		refs = []v1alpha1.JobMemberClusterRef{{}}
	}
	where := func(ref v1alpha1.JobMemberClusterRef) string {
		if every {
			return "every member cluster: "
		}
		return "member cluster " + ref.Name + ": "
	}
	var first *tenancy.Refusal
	more := 0
	note := func(ref v1alpha1.JobMemberClusterRef, err error) {
		if first != nil {
			more++
			return
		}
		first = &tenancy.Refusal{Reason: tenancy.ReasonOf(err), Message: where(ref) + err.Error()}
	}
	for _, ref := range refs {
		if err := rules.TargetNamespace(ref.TargetNamespaceOr(dsj.Namespace)); err != nil {
			note(ref, err)
		}
	}
	if first == nil && dsj.Spec.ScaledJobSpec.JobTargetRef != nil {
		for _, ref := range refs {
			job, _ := jobs.Render(id, dsj.Spec.ScaledJobSpec.JobTargetRef, ref.PodOverrides, ref.TargetNamespaceOr(dsj.Namespace))
			if err := rules.PodTemplate(&job.Spec.Template); err != nil {
				note(ref, err)
			}
		}
	}
	if first != nil && more > 0 {
		first.Message += fmt.Sprintf(" (and %d more refusal(s))", more)
	}
	return first
}
