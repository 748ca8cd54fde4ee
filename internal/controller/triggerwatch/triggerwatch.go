// Package triggerwatch makes trigger evaluation watch-driven for any kind with KEDA triggers:
// a field index lists the hub objects an object's triggers read (ConfigMaps and Secrets of
// kubernetes-resource triggers, TriggerAuthentications and ClusterTriggerAuthentications),
// another lists the Secrets and ConfigMaps each TriggerAuthentication reads, and watches on
// those kinds enqueue the objects that read the one that changed, directly or through a
// TriggerAuthentication. A rotated credential or a fixed reference is evaluated at once.
package triggerwatch

import (
	"context"
	"fmt"
	"sync"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
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
			for _, ref := range scalers.References(t, o.GetNamespace()) {
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
// newList, indexed with Index) whose triggers read the changed object, and, when KEDA's CRDs
// are installed in the hub, on TriggerAuthentications and ClusterTriggerAuthentications
// (clusterNamespace holds the Secrets of the latter). The ConfigMap and Secret watches hold
// metadata only (builder.OnlyMetadata): a mapping needs a name, and the hub's unrelated
// Secrets and ConfigMaps must cost no memory. Triggers read the referenced ones directly from
// the API server (manager.Run disables the cache for both kinds): a change is one watch event
// and one GET.
func Watches(mgr ctrl.Manager, b *builder.Builder, c client.Reader, newList func() client.ObjectList, clusterNamespace string) (*builder.Builder, error) {
	auth, err := kedaInstalled(mgr)
	if err != nil {
		return nil, err
	}
	m := &mapper{c: c, newList: newList, clusterNamespace: clusterNamespace, auth: auth}
	b = b.
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(m.forObject(scalers.KindConfigMap)), builder.OnlyMetadata).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(m.forObject(scalers.KindSecret)), builder.OnlyMetadata)
	if !auth {
		ctrl.Log.WithName("triggerwatch").Info("KEDA's TriggerAuthentication CRDs are not installed in the hub: authenticationRef changes are seen at the next polling interval")
		return b, nil
	}
	if err := indexAuthentications(mgr); err != nil {
		return nil, err
	}
	return b.
		Watches(&kedav1alpha1.TriggerAuthentication{}, handler.EnqueueRequestsFromMapFunc(m.forObject(scalers.KindTriggerAuthentication))).
		Watches(&kedav1alpha1.ClusterTriggerAuthentication{}, handler.EnqueueRequestsFromMapFunc(m.forObject(scalers.KindClusterTriggerAuthentication))), nil
}

func kedaInstalled(mgr ctrl.Manager) (bool, error) {
	_, err := mgr.GetRESTMapper().RESTMapping(kedav1alpha1.SchemeGroupVersion.WithKind(scalers.KindTriggerAuthentication).GroupKind(),
		kedav1alpha1.SchemeGroupVersion.Version)
	switch {
	case err == nil:
		return true, nil
	case meta.IsNoMatchError(err):
		return false, nil
	default:
		return false, fmt.Errorf("look up KEDA's TriggerAuthentication kind: %w", err)
	}
}

// indexed remembers the managers whose caches have the authentication indexes: both
// controllers watch them, an index is registered once.
var indexed = struct {
	sync.Mutex
	m map[ctrl.Manager]bool
}{m: map[ctrl.Manager]bool{}}

// indexAuthentications indexes TriggerAuthentications and ClusterTriggerAuthentications by the
// Secrets and ConfigMaps they read (a ClusterTriggerAuthentication's with an empty namespace:
// they live in the cluster namespace).
func indexAuthentications(mgr ctrl.Manager) error {
	indexed.Lock()
	defer indexed.Unlock()
	if indexed.m[mgr] {
		return nil
	}
	refs := func(namespace string, spec *kedav1alpha1.TriggerAuthenticationSpec) []string {
		var out []string
		for _, r := range spec.SecretTargetRef {
			out = append(out, key(scalers.KindSecret, namespace, r.Name))
		}
		for _, r := range spec.ConfigMapTargetRef {
			out = append(out, key(scalers.KindConfigMap, namespace, r.Name))
		}
		if o := spec.OAuth2; o != nil && o.ClientSecret.ValueFrom.SecretKeyRef.Name != "" {
			out = append(out, key(scalers.KindSecret, namespace, o.ClientSecret.ValueFrom.SecretKeyRef.Name))
		}
		if sp := spec.AzureServicePrincipal; sp != nil {
			for _, c := range []*kedav1alpha1.AzureServicePrincipalCredential{sp.ClientSecret, sp.ClientCertificate, sp.ClientCertificatePassword} {
				if c != nil {
					out = append(out, key(scalers.KindSecret, namespace, c.ValueFrom.SecretKeyRef.Name))
				}
			}
		}
		return out
	}
	ctx := context.Background()
	if err := mgr.GetFieldIndexer().IndexField(ctx, &kedav1alpha1.TriggerAuthentication{}, indexField, func(o client.Object) []string {
		return refs(o.GetNamespace(), &o.(*kedav1alpha1.TriggerAuthentication).Spec)
	}); err != nil {
		return fmt.Errorf("index TriggerAuthentication references: %w", err)
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &kedav1alpha1.ClusterTriggerAuthentication{}, indexField, func(o client.Object) []string {
		return refs("", &o.(*kedav1alpha1.ClusterTriggerAuthentication).Spec)
	}); err != nil {
		return fmt.Errorf("index ClusterTriggerAuthentication references: %w", err)
	}
	indexed.m[mgr] = true
	return nil
}

type mapper struct {
	c                client.Reader
	newList          func() client.ObjectList
	clusterNamespace string
	auth             bool
}

// forObject maps a changed object of kind to the objects whose triggers read it, directly or
// through an authentication that reads it.
func (m *mapper) forObject(kind string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		namespace := o.GetNamespace()
		if kind == scalers.KindClusterTriggerAuthentication {
			namespace = ""
		}
		reqs := m.readers(ctx, key(kind, namespace, o.GetName()))
		if !m.auth || (kind != scalers.KindSecret && kind != scalers.KindConfigMap) {
			return reqs
		}
		var tas kedav1alpha1.TriggerAuthenticationList
		if err := m.c.List(ctx, &tas, client.MatchingFields{indexField: key(kind, o.GetNamespace(), o.GetName())}); err == nil {
			for _, ta := range tas.Items {
				reqs = append(reqs, m.readers(ctx, key(scalers.KindTriggerAuthentication, ta.Namespace, ta.Name))...)
			}
		}
		if o.GetNamespace() == m.clusterNamespace {
			var ctas kedav1alpha1.ClusterTriggerAuthenticationList
			if err := m.c.List(ctx, &ctas, client.MatchingFields{indexField: key(kind, "", o.GetName())}); err == nil {
				for _, cta := range ctas.Items {
					reqs = append(reqs, m.readers(ctx, key(scalers.KindClusterTriggerAuthentication, "", cta.Name))...)
				}
			}
		}
		return reqs
	}
}

// readers lists the objects whose index holds ref.
func (m *mapper) readers(ctx context.Context, ref string) []reconcile.Request {
	list := m.newList()
	if err := m.c.List(ctx, list, client.MatchingFields{indexField: ref}); err != nil {
		// Dropped: the readers see the change at their next polling interval.
		ctrl.LoggerFrom(ctx).Error(err, "Trigger source change dropped: cannot list its readers", "ref", ref)
		return nil
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Trigger source change dropped: cannot read its readers", "ref", ref)
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
