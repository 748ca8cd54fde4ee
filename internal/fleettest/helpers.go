package fleettest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/fleetscale/fleetscale/internal/demo"
)

// Namespace creates one namespace with the same generated name in the hub and every member,
// so each test works on its own objects in a shared fleet.
func (f *Fleet) Namespace(t testing.TB, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix}}
	if err := f.Hub.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	for _, m := range f.Members {
		if err := m.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns.Name}}); err != nil {
			t.Fatal(err)
		}
	}
	return ns.Name
}

// Apply server-side-applies a YAML manifest (one or several documents) into ns of c, as
// `kubectl apply --server-side` would.
func Apply(t testing.TB, c client.Client, ns, manifest string) {
	t.Helper()
	for _, doc := range strings.Split(manifest, "\n---\n") {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatal(err)
		}
		if obj == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		u.SetNamespace(ns)
		if err := c.Apply(context.Background(), client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("kubectl"), client.ForceOwnership); err != nil {
			t.Fatalf("apply %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
}

// SetMetric sets the walkthrough's mock metric (ConfigMap mock-metric, key metric-value) in ns.
func (f *Fleet) SetMetric(t testing.TB, ns, value string) {
	t.Helper()
	Apply(t, f.Hub, ns, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mock-metric\ndata:\n  metric-value: %q\n", value))
}

// Walkthrough returns a manifest of the walkthrough, verbatim (internal/demo/manifests).
func Walkthrough(t testing.TB, name string) string {
	t.Helper()
	data, err := demo.Manifest(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
