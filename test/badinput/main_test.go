package badinput_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/manager"
)

// capPerEvaluation is the controller's --max-jobs-per-evaluation here: small, so the huge-DSJ
// test sees several capped evaluations in seconds.
const capPerEvaluation = 10

// One hub and one apiserver-only member (registered as setup-member does), the controller
// in-process.
var shared = fleettest.NewShared(fleettest.Options{Members: 1, Controller: manager.Options{MaxJobsPerEvaluation: capPerEvaluation}})

func TestMain(m *testing.M) { os.Exit(shared.Main(m)) }

const (
	timeout = 90 * time.Second
	poll    = 200 * time.Millisecond
)

// fleet returns the shared fleet, skipping under -short.
func fleet(t *testing.T) *fleettest.Fleet {
	t.Helper()
	if testing.Short() {
		t.Skip("starts kube-apiservers; skipped with -short")
	}
	return shared.Fleet(t)
}

// createWeb creates Deployment web with replicas in namespace ns of c.
func createWeb(t testing.TB, c client.Client, ns string, replicas int32) {
	t.Helper()
	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
			},
		},
	}
	if err := c.Create(context.Background(), d); err != nil {
		t.Fatal(err)
	}
}

// webReplicas is spec.replicas of Deployment web in ns of c.
func webReplicas(g Gomega, c client.Client, ns string) int32 {
	var d appsv1.Deployment
	g.Expect(c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "web"}, &d)).To(Succeed())
	return *d.Spec.Replicas
}

func jobCount(g Gomega, c client.Client, ns string) int {
	var list batchv1.JobList
	g.Expect(c.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
	return len(list.Items)
}

// applyManifest server-side-applies every document of manifest into ns and returns the first
// error, as `kubectl apply --server-side` reports it.
func applyManifest(c client.Client, ns, manifest string) error {
	for _, doc := range strings.Split(manifest, "\n---\n") {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			return err
		}
		if obj == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		if u.GetNamespace() == "" {
			u.SetNamespace(ns)
		}
		if err := c.Apply(context.Background(), client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("kubectl"), client.ForceOwnership); err != nil {
			return err
		}
	}
	return nil
}

// condition returns condition type of the object kind/ns/name in the hub.
func condition(g Gomega, c client.Client, kind, ns, name, condType string) *metav1.Condition {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("keda.kedify.io/v1alpha1")
	u.SetKind(kind)
	g.Expect(c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, u)).To(Succeed())
	raw, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var conds []metav1.Condition
	for _, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		conds = append(conds, metav1.Condition{Type: str(m["type"]), Status: metav1.ConditionStatus(str(m["status"])),
			Reason: str(m["reason"]), Message: str(m["message"])})
	}
	return meta.FindStatusCondition(conds, condType)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// events returns the Events in ns about the object name with reason.
func events(g Gomega, c client.Client, ns, name, reason string) []eventsv1.Event {
	var list eventsv1.EventList
	g.Expect(c.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == name && e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}
