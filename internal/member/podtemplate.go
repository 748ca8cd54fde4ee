package member

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// PodTemplate reads the pod template (spec.template) of a target directly from the member's
// API (trigger environment values come from it), bounded by the member's call timeout. It
// returns nil and no error when the target does not exist or has no template.
func (m *Member) PodTemplate(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (*corev1.PodTemplateSpec, error) {
	ctx, cancel := m.CallContext(ctx)
	defer cancel()
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(gvk)
	if err := m.cluster.GetAPIReader().Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("get %s %s/%s in member %s: %w", gvk.Kind, namespace, name, m.name, err)
	}
	raw, found, err := unstructured.NestedMap(obj.Object, "spec", "template")
	if err != nil || !found {
		return nil, nil
	}
	var tpl corev1.PodTemplateSpec
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &tpl); err != nil {
		return nil, fmt.Errorf("%s %s/%s in member %s: spec.template is not a pod template: %w", gvk.Kind, namespace, name, m.name, err)
	}
	return &tpl, nil
}
