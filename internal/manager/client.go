package manager

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// newClient is the manager's client: cached reads with read-your-writes consistency, except
// for Secrets and ConfigMaps, which are read from and written to the API server directly (no
// cache holds their data; see Run). controller-runtime's consistency layer would otherwise
// start a full informer for any kind a call touches, DisableFor notwithstanding, so every call
// on those two kinds opts out of it (client.DisableReadYourWritesConsistency).
func newClient(cfg *rest.Config, o client.Options) (client.Client, error) {
	c, err := client.New(cfg, o)
	if err != nil {
		return nil, err
	}
	return dataUncached{c}, nil
}

// dataUncached adds client.DisableReadYourWritesConsistency to every call on a Secret or a
// ConfigMap (typed, lists included).
type dataUncached struct{ client.Client }

func uncachedKind(o runtime.Object) bool {
	switch o.(type) {
	case *corev1.Secret, *corev1.SecretList, *corev1.ConfigMap, *corev1.ConfigMapList:
		return true
	}
	return false
}

func (c dataUncached) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if uncachedKind(obj) {
		opts = append(opts, client.DisableReadYourWritesConsistency)
	}
	return c.Client.Get(ctx, key, obj, opts...)
}

func (c dataUncached) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if uncachedKind(list) {
		opts = append(opts, client.DisableReadYourWritesConsistency)
	}
	return c.Client.List(ctx, list, opts...)
}

func (c dataUncached) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	if uncachedKind(obj) {
		opts = append(opts, client.DisableReadYourWritesConsistency)
	}
	return c.Client.Create(ctx, obj, opts...)
}

func (c dataUncached) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	if uncachedKind(obj) {
		opts = append(opts, client.DisableReadYourWritesConsistency)
	}
	return c.Client.Update(ctx, obj, opts...)
}

func (c dataUncached) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	if uncachedKind(obj) {
		opts = append(opts, client.DisableReadYourWritesConsistency)
	}
	return c.Client.Patch(ctx, obj, patch, opts...)
}

func (c dataUncached) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	if uncachedKind(obj) {
		opts = append(opts, client.DisableReadYourWritesConsistency)
	}
	return c.Client.Delete(ctx, obj, opts...)
}
