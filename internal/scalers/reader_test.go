package scalers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// objectReader is a client.Reader that serves the ConfigMaps and Secrets it was given. It
// exists only so the parsing tests need no API server; reading through a real one is covered
// by the integration test.
type objectReader struct {
	configMaps map[client.ObjectKey]*corev1.ConfigMap
	secrets    map[client.ObjectKey]*corev1.Secret
	err        error // returned by every Get when set
}

func newObjectReader(objs ...client.Object) *objectReader {
	r := &objectReader{
		configMaps: map[client.ObjectKey]*corev1.ConfigMap{},
		secrets:    map[client.ObjectKey]*corev1.Secret{},
	}
	for _, o := range objs {
		switch t := o.(type) {
		case *corev1.ConfigMap:
			r.configMaps[client.ObjectKeyFromObject(t)] = t
		case *corev1.Secret:
			r.secrets[client.ObjectKeyFromObject(t)] = t
		default:
			panic(fmt.Sprintf("objectReader: unsupported %T", o))
		}
	}
	return r
}

func (r *objectReader) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	if r.err != nil {
		return r.err
	}
	switch t := obj.(type) {
	case *corev1.ConfigMap:
		cm, ok := r.configMaps[key]
		if !ok {
			return apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, key.Name)
		}
		cm.DeepCopyInto(t)
	case *corev1.Secret:
		s, ok := r.secrets[key]
		if !ok {
			return apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, key.Name)
		}
		s.DeepCopyInto(t)
	default:
		return fmt.Errorf("objectReader: unsupported %T", obj)
	}
	return nil
}

func (r *objectReader) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return fmt.Errorf("objectReader: List is not supported")
}
