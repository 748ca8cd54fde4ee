// Package triggerwatch makes trigger evaluation watch-driven for any kind with KEDA triggers:
// a field index lists the hub objects (ConfigMaps, Secrets) an object's triggers read, and
// watches on those kinds enqueue the objects that read the one that changed.
package triggerwatch

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/scalers"
)

// indexField is per kind in the cache, so one name serves every kind.
const indexField = "fleetscale.triggerRefs"

func key(kind, namespace, name string) string { return kind + "/" + namespace + "/" + name }

// Index registers the field index for obj's kind; triggersOf returns an object's triggers.
func Index(mgr ctrl.Manager, obj client.Object, triggersOf func(client.Object) []v1alpha1.ScaleTriggers) error {
	err := mgr.GetFieldIndexer().IndexField(context.Background(), obj, indexField, func(o client.Object) []string {
		var refs []string
		for _, t := range triggersOf(o) {
			if ref, ok := scalers.Reference(t, o.GetNamespace()); ok {
				refs = append(refs, key(ref.Kind, ref.Namespace, ref.Name))
			}
		}
		return refs
	})
	if err != nil {
		return fmt.Errorf("index trigger references: %w", err)
	}
	return nil
}

// Watches adds watches on ConfigMaps and Secrets that enqueue the objects (listed with
// newList, indexed with Index) whose triggers read the changed object.
func Watches(b *builder.Builder, c client.Reader, newList func() client.ObjectList) *builder.Builder {
	return b.
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(readers(c, newList, scalers.KindConfigMap))).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(readers(c, newList, scalers.KindSecret)))
}

func readers(c client.Reader, newList func() client.ObjectList, kind string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		list := newList()
		if err := c.List(ctx, list, client.MatchingFields{indexField: key(kind, o.GetNamespace(), o.GetName())}); err != nil {
			return nil
		}
		items, err := meta.ExtractList(list)
		if err != nil {
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
}
