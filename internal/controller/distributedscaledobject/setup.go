package distributedscaledobject

import (
	"context"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/controller/policywatch"
	"github.com/fleetscale/fleetscale/internal/controller/triggerwatch"
	"github.com/fleetscale/fleetscale/internal/member"
)

// SetupWithManager watches DSOs, the hub objects their triggers read (so a ConfigMap change
// is evaluated at once), TenantPolicies and hub Namespace labels (policywatch), and the
// registry's member events (health, registrations, targets).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := triggerwatch.Index(mgr, &v1alpha1.DistributedScaledObject{}, func(o client.Object) []v1alpha1.ScaleTriggers {
		return o.(*v1alpha1.DistributedScaledObject).Spec.ScaledObjectSpec.Triggers
	}); err != nil {
		return err
	}
	// A target event concerns the DSOs naming that target: at 1,000 DSOs, listing (and
	// copying) all of them for each member's target events would cost more than the event.
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.DistributedScaledObject{}, targetIndex,
		func(o client.Object) []string {
			dso := o.(*v1alpha1.DistributedScaledObject)
			if dso.Spec.ScaledObjectSpec.ScaleTargetRef == nil {
				return nil
			}
			return []string{targetIndexKey(targetGVK(dso), dso.Spec.ScaledObjectSpec.ScaleTargetRef.Name)}
		}); err != nil {
		return fmt.Errorf("index scale targets: %w", err)
	}
	triggers := r.triggerCache()
	if err := mgr.Add(triggers); err != nil {
		return fmt.Errorf("add trigger cache: %w", err)
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("distributedscaledobject").
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		For(&v1alpha1.DistributedScaledObject{}, builder.WithPredicates(
			predicate.Or[client.Object](evaluatedSpecChanged(), predicate.AnnotationChangedPredicate{})))
	newList := func() client.ObjectList { return &v1alpha1.DistributedScaledObjectList{} }
	b = policywatch.Watches(b, r.Client, newList)
	b, err := triggerwatch.Watches(mgr, b, r.Client, newList, r.Namespace)
	if err != nil {
		return err
	}
	return b.
		WatchesRawSource(source.Channel(r.Registry.Subscribe(), handler.TypedEnqueueRequestsFromMapFunc(r.forMemberEvent))).
		// A trigger read that outlived the worker's wait, or a push, enqueues its DSO.
		WatchesRawSource(triggers.Source()).
		Complete(r)
}

// forMemberEvent maps a member event to the DSOs it concerns: every DSO that may use the
// member, and for target changes only those whose target it is.
func (r *Reconciler) forMemberEvent(ctx context.Context, e member.Event) []reconcile.Request {
	var list v1alpha1.DistributedScaledObjectList
	var opts []client.ListOption
	if e.Type == member.EventTargetChanged {
		opts = append(opts, client.MatchingFields{targetIndex: targetIndexKey(e.GVK, e.Name)})
	}
	if err := r.List(ctx, &list, opts...); err != nil {
		// Dropped: the DSOs it concerns are evaluated again at their next poll.
		ctrl.LoggerFrom(ctx).Error(err, "Member event dropped: cannot list DistributedScaledObjects", "member", e.Member, "event", e.Type)
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

// targetIndex indexes DSOs by the kind and name of their scale target (the member namespace
// may differ per member: forMemberEvent checks it).
const targetIndex = "fleetscale.target"

func targetIndexKey(gvk schema.GroupVersionKind, name string) string {
	return gvk.Group + "/" + gvk.Kind + "/" + name
}

// evaluatedSpecChanged passes updates that change what an evaluation reads: the spec other
// than spec.totalTargetReplicas (which the controller itself mirrors the total into, like an
// HPA writing a Deployment's replicas: evaluating that echo again would queue a full
// evaluation behind every change), or the start of a deletion. Status writes pass nothing.
func evaluatedSpecChanged() predicate.Funcs {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		o, ok1 := e.ObjectOld.(*v1alpha1.DistributedScaledObject)
		n, ok2 := e.ObjectNew.(*v1alpha1.DistributedScaledObject)
		if !ok1 || !ok2 {
			return true
		}
		if o.DeletionTimestamp.IsZero() != n.DeletionTimestamp.IsZero() {
			return true
		}
		if o.Generation == n.Generation {
			return false
		}
		os, ns := o.Spec.DeepCopy(), n.Spec.DeepCopy()
		os.TotalTargetReplicas, ns.TotalTargetReplicas = nil, nil
		return !equality.Semantic.DeepEqual(os, ns)
	}}
}
