package distributedscaledobject

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/member"
	"github.com/fleetscale/fleetscale/internal/scalers"
)

// triggerRefIndex indexes DSOs by the hub objects their triggers read ("ConfigMap/ns/name").
const triggerRefIndex = "fleetscale.triggerRefs"

// SetupWithManager watches DSOs, the hub objects their triggers read (so a ConfigMap change
// is evaluated at once), and the registry's member events (health, registrations, targets).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.DistributedScaledObject{}, triggerRefIndex,
		func(o client.Object) []string {
			dso := o.(*v1alpha1.DistributedScaledObject)
			var refs []string
			for _, t := range dso.Spec.ScaledObjectSpec.Triggers {
				if ref, ok := scalers.Reference(t, dso.Namespace); ok {
					refs = append(refs, refKey(ref.Kind, ref.Namespace, ref.Name))
				}
			}
			return refs
		}); err != nil {
		return fmt.Errorf("index trigger references: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("distributedscaledobject").
		For(&v1alpha1.DistributedScaledObject{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.forHubObject(scalers.KindConfigMap))).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.forHubObject(scalers.KindSecret))).
		WatchesRawSource(source.Channel(r.Registry.Subscribe(), handler.TypedEnqueueRequestsFromMapFunc(r.forMemberEvent))).
		Complete(r)
}

func refKey(kind, namespace, name string) string { return kind + "/" + namespace + "/" + name }

func (r *Reconciler) forHubObject(kind string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		var list v1alpha1.DistributedScaledObjectList
		if err := r.List(ctx, &list, client.MatchingFields{triggerRefIndex: refKey(kind, o.GetNamespace(), o.GetName())}); err != nil {
			return nil
		}
		return requests(list.Items, func(*v1alpha1.DistributedScaledObject) bool { return true })
	}
}

// forMemberEvent maps a member event to the DSOs it concerns: every DSO that may use the
// member, and for target changes only those whose target it is.
func (r *Reconciler) forMemberEvent(ctx context.Context, e member.Event) []reconcile.Request {
	var list v1alpha1.DistributedScaledObjectList
	if err := r.List(ctx, &list); err != nil {
		return nil
	}
	return requests(list.Items, func(dso *v1alpha1.DistributedScaledObject) bool {
		if len(dso.Spec.MemberClusters) > 0 && !slices.ContainsFunc(dso.Spec.MemberClusters,
			func(m v1alpha1.MemberClusterRef) bool { return m.Name == e.Member }) {
			return false
		}
		if e.Type != member.EventTargetChanged {
			return true
		}
		ref := dso.Spec.ScaledObjectSpec.ScaleTargetRef
		return ref != nil && targetGVK(dso) == e.GVK && ref.Name == e.Name && memberTargetNamespace(dso, e.Member) == e.Namespace
	})
}

func requests(items []v1alpha1.DistributedScaledObject, keep func(*v1alpha1.DistributedScaledObject) bool) []reconcile.Request {
	var reqs []reconcile.Request
	for i := range items {
		if keep(&items[i]) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&items[i])})
		}
	}
	return reqs
}
