package distributedscaledjob

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/jobs"
	"github.com/fleetscale/fleetscale/internal/member"
	"github.com/fleetscale/fleetscale/internal/scalers"
)

// triggerRefIndex indexes DSJs by the hub objects their triggers read ("ConfigMap/ns/name").
const triggerRefIndex = "fleetscale.dsj.triggerRefs"

// SetupWithManager watches DSJs, the hub objects their triggers read (a ConfigMap change is
// evaluated at once), the registry's member events (health, registrations), and the DSJs'
// Jobs and pods in the members (a Job that finishes or a pod that starts is evaluated at once).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.setDefaults()
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.DistributedScaledJob{}, triggerRefIndex,
		func(o client.Object) []string {
			dsj := o.(*v1alpha1.DistributedScaledJob)
			var refs []string
			for _, t := range dsj.Spec.ScaledJobSpec.Triggers {
				if ref, ok := scalers.Reference(t, dsj.Namespace); ok {
					refs = append(refs, refKey(ref.Kind, ref.Namespace, ref.Name))
				}
			}
			return refs
		}); err != nil {
		return fmt.Errorf("index trigger references: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("distributedscaledjob").
		For(&v1alpha1.DistributedScaledJob{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.forHubObject(scalers.KindConfigMap))).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.forHubObject(scalers.KindSecret))).
		WatchesRawSource(source.Channel(r.Registry.Subscribe(), handler.TypedEnqueueRequestsFromMapFunc(r.forMemberEvent))).
		WatchesRawSource(source.Channel(r.Jobs.Events(), handler.TypedEnqueueRequestsFromMapFunc(r.forJobEvent))).
		Complete(r)
}

func refKey(kind, namespace, name string) string { return kind + "/" + namespace + "/" + name }

func (r *Reconciler) forHubObject(kind string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		var list v1alpha1.DistributedScaledJobList
		if err := r.List(ctx, &list, client.MatchingFields{triggerRefIndex: refKey(kind, o.GetNamespace(), o.GetName())}); err != nil {
			return nil
		}
		return requests(list.Items, func(*v1alpha1.DistributedScaledJob) bool { return true })
	}
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
		return nil
	}
	var list v1alpha1.DistributedScaledJobList
	if err := r.List(ctx, &list); err != nil {
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
