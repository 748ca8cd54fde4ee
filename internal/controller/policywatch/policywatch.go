// Package policywatch re-reconciles DSOs and DSJs when what internal/tenancy decides from may
// have changed: any TenantPolicy (every object), or the labels of a hub Namespace (the objects
// in it, since a policy may select namespaces by label). A refused object is therefore
// retried the moment an admin allows it, and an allowed one stops at once when the policy
// is withdrawn.
package policywatch

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

// +kubebuilder:rbac:groups=keda.kedify.io,resources=tenantpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// Watches adds the watches to b; newList makes an empty list of the reconciled kind.
func Watches(b *builder.Builder, c client.Reader, newList func() client.ObjectList) *builder.Builder {
	return b.
		Watches(&v1alpha1.TenantPolicy{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
			return list(ctx, c, newList)
		})).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, ns client.Object) []reconcile.Request {
			return list(ctx, c, newList, client.InNamespace(ns.GetName()))
		}), builder.WithPredicates(predicate.LabelChangedPredicate{}))
}

func list(ctx context.Context, c client.Reader, newList func() client.ObjectList, opts ...client.ListOption) []reconcile.Request {
	l := newList()
	if err := c.List(ctx, l, opts...); err != nil {
		// Dropped: the objects are evaluated again at their next poll.
		ctrl.LoggerFrom(ctx).Error(err, "Policy change dropped: cannot list the objects it bounds")
		return nil
	}
	items, err := meta.ExtractList(l)
	if err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Policy change dropped: cannot read the listed objects")
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(items))
	for _, item := range items {
		if obj, ok := item.(client.Object); ok {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(obj)})
		}
	}
	return reqs
}
