package distributedscaledobject_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/clusterenv"
	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/manager"
)

// adapter is the KEDA scalers adapter the controller sends trigger types it does not
// implement to (adapter_test.go).
var adapter = startTestAdapter()

// Hub + 3 full members (controller-manager, scheduler, kwok: nginx pods really run), the
// members registered as in the walkthrough, and the controller in-process.
var shared = fleettest.NewShared(fleettest.Options{Members: 3, Member: clusterenv.ClusterOptions{Full: true},
	Controller: manager.Options{ExternalScalerAddress: adapter.addr}})

func TestMain(m *testing.M) {
	code := shared.Main(m)
	adapter.srv.Stop()
	os.Exit(code)
}

const (
	timeout = 90 * time.Second
	poll    = 200 * time.Millisecond
)

func createNginx(t testing.TB, c client.Client, ns string, replicas int32) {
	t.Helper()
	labels := map[string]string{"app": "nginx"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx"}}},
			},
		},
	}
	if err := c.Create(context.Background(), d); err != nil {
		t.Fatal(err)
	}
}

// replicas returns spec.replicas of nginx in each member (-1 where it does not exist).
func replicas(f *fleettest.Fleet, ns string) []int32 {
	out := make([]int32, len(f.Members))
	for i, m := range f.Members {
		var d appsv1.Deployment
		if err := m.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "nginx"}, &d); err != nil {
			out[i] = -1
			continue
		}
		out[i] = ptr.Deref(d.Spec.Replicas, 1)
	}
	return out
}

func sum(xs []int32) int32 {
	var s int32
	for _, x := range xs {
		if x > 0 {
			s += x
		}
	}
	return s
}

func getDSO(g Gomega, f *fleettest.Fleet, ns, name string) *v1alpha1.DistributedScaledObject {
	var dso v1alpha1.DistributedScaledObject
	g.Expect(f.Hub.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &dso)).To(Succeed())
	return &dso
}

func patchDSO(t testing.TB, f *fleettest.Fleet, ns, name, patch string) {
	t.Helper()
	dso := &v1alpha1.DistributedScaledObject{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := f.Hub.Patch(context.Background(), dso, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
		t.Fatal(err)
	}
}

// eventNotes lists the notes of events with reason on the object named name in ns.
func eventNotes(g Gomega, f *fleettest.Fleet, ns, name, reason string) []string {
	var list eventsv1.EventList
	g.Expect(f.Hub.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
	var notes []string
	for _, e := range list.Items {
		if e.Regarding.Name == name && e.Reason == reason {
			notes = append(notes, e.Note)
		}
	}
	return notes
}

// eventTime is when the first event whose note starts with prefix was recorded.
func eventTime(f *fleettest.Fleet, ns, prefix string) time.Time {
	var list eventsv1.EventList
	Expect(f.Hub.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
	for _, e := range list.Items {
		if strings.HasPrefix(e.Note, prefix) {
			return e.EventTime.Time
		}
	}
	panic("no event " + prefix)
}

func condition(dso *v1alpha1.DistributedScaledObject, t string) metav1.Condition {
	for _, c := range dso.Status.Conditions {
		if c.Type == t {
			return c
		}
	}
	return metav1.Condition{}
}

func deleteNginx(t *testing.T, c client.Client, ns string) {
	t.Helper()
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nginx"}}
	if err := c.Delete(context.Background(), d); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
}

func namespace(t testing.TB, f *fleettest.Fleet) string { return f.Namespace(t, "dso-") }

func apply(t testing.TB, c client.Client, ns, manifest string) { fleettest.Apply(t, c, ns, manifest) }

func walkthrough(t testing.TB, name string) string { return fleettest.Walkthrough(t, name) }

func setMetric(t testing.TB, f *fleettest.Fleet, ns, value string) { f.SetMetric(t, ns, value) }
