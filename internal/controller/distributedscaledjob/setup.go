package distributedscaledjob

import (
	"context"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/controller/policywatch"
	"github.com/fleetscale/fleetscale/internal/controller/triggerwatch"
	"github.com/fleetscale/fleetscale/internal/jobs"
	"github.com/fleetscale/fleetscale/internal/member"
)

// SetupWithManager watches DSJs, the hub objects their triggers read (a ConfigMap change is
// evaluated at once), TenantPolicies and hub Namespace labels (policywatch), the registry's
// member events (health, registrations), and the DSJs' Jobs and pods in the members (a Job
// that finishes or a pod that starts is evaluated at once).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.setDefaults()
	if err := triggerwatch.Index(mgr, &v1alpha1.DistributedScaledJob{}, func(o client.Object) []v1alpha1.ScaleTriggers {
		return o.(*v1alpha1.DistributedScaledJob).Spec.ScaledJobSpec.Triggers
	}); err != nil {
		return err
	}
	triggers := r.triggerCache()
	if err := mgr.Add(triggers); err != nil {
		return fmt.Errorf("add trigger cache: %w", err)
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("distributedscaledjob").
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		For(&v1alpha1.DistributedScaledJob{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{})))
	newList := func() client.ObjectList { return &v1alpha1.DistributedScaledJobList{} }
	b = policywatch.Watches(b, r.Client, newList)
	b, err := triggerwatch.Watches(mgr, b, r.Client, newList, r.Namespace)
	if err != nil {
		return err
	}
	return b.
		WatchesRawSource(source.Channel(r.Registry.Subscribe(), handler.TypedEnqueueRequestsFromMapFunc(r.forMemberEvent))).
		WatchesRawSource(source.Channel(r.Jobs.Events(), handler.TypedEnqueueRequestsFromMapFunc(r.forJobEvent))).
		// A trigger read that outlived the worker's wait, or a push, enqueues its DSJ.
		WatchesRawSource(triggers.Source()).
		Complete(r)
}

// forMemberEvent maps a registration or health change of a member to the DSJs that may use it,
// and to those being deleted (an unregistered member releases their finalizer). Target changes
// published by other controllers' watches are not about Jobs.
func (r *Reconciler) forMemberEvent(ctx context.Context, e member.Event) []reconcile.Request {
	if e.Type == member.EventTargetChanged {
		return nil
	}
	var list v1alpha1.DistributedScaledJobList
	if err := r.List(ctx, &list); err != nil {
		// Dropped: the DSJs it concerns are evaluated again at their next poll.
		ctrl.LoggerFrom(ctx).Error(err, "Member event dropped: cannot list DistributedScaledJobs", "member", e.Member, "event", e.Type)
		return nil
	}
	return requests(list.Items, func(dsj *v1alpha1.DistributedScaledJob) bool {
		return !dsj.DeletionTimestamp.IsZero() || len(dsj.Spec.MemberClusters) == 0 ||
			slices.ContainsFunc(dsj.Spec.MemberClusters, func(m v1alpha1.JobMemberClusterRef) bool { return m.Name == e.Member })
	})
}

// forJobEvent maps a change of a Job or pod in a member to the DSJ whose UID it is labelled with.
func (r *Reconciler) forJobEvent(ctx context.Context, e member.Event) []reconcile.Request {
	uid := types.UID(e.Labels[jobs.LabelDSJUID])
	if uid == "" {
		ctrl.LoggerFrom(ctx).V(1).Info("Job event dropped: no "+jobs.LabelDSJUID+" label", "member", e.Member, "namespace", e.Namespace, "name", e.Name)
		return nil
	}
	var list v1alpha1.DistributedScaledJobList
	if err := r.List(ctx, &list); err != nil {
		// Dropped: the DSJ is evaluated again at its next poll.
		ctrl.LoggerFrom(ctx).Error(err, "Job event dropped: cannot list DistributedScaledJobs", "member", e.Member, "namespace", e.Namespace, "name", e.Name)
		return nil
	}
	return requests(list.Items, func(dsj *v1alpha1.DistributedScaledJob) bool { return dsj.UID == uid })
}

func requests(items []v1alpha1.DistributedScaledJob, keep func(*v1alpha1.DistributedScaledJob) bool) []reconcile.Request {
	var reqs []reconcile.Request
	for i := range items {
		if keep(&items[i]) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&items[i])})
		}
	}
	return reqs
}
