package member_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/manager"
	"github.com/fleetscale/fleetscale/internal/member"
	"github.com/fleetscale/fleetscale/internal/plugin"
)

// ReadyPods counts, through the member's own credentials, the pods of a selector that are
// Running and Ready and not being deleted.
func TestReadyPods(t *testing.T) {
	f := shared.Fleet(t)
	g := NewWithT(t)
	ctx := context.Background()
	ns := f.Namespace(t, "ready-")

	_, m := ownMember(t, g, f, "readiness-probe")

	pod := func(name, app string, phase corev1.PodPhase, ready corev1.ConditionStatus) {
		createPod(g, f, ns, name, app, phase, ready)
	}
	pod("ready-1", "web", corev1.PodRunning, corev1.ConditionTrue)
	pod("ready-2", "web", corev1.PodRunning, corev1.ConditionTrue)
	pod("not-ready", "web", corev1.PodRunning, corev1.ConditionFalse)
	pod("pending", "web", corev1.PodPending, corev1.ConditionFalse)
	pod("other-app", "db", corev1.PodRunning, corev1.ConditionTrue)
	pod("going", "web", corev1.PodRunning, corev1.ConditionTrue)
	var going corev1.Pod
	g.Expect(f.Member(1).Get(ctx, client.ObjectKey{Namespace: ns, Name: "going"}, &going)).To(Succeed())
	going.Finalizers = []string{"example.com/hold"}
	g.Expect(f.Member(1).Update(ctx, &going)).To(Succeed())
	g.Expect(f.Member(1).Delete(ctx, &going)).To(Succeed())
	t.Cleanup(func() {
		going.Finalizers = nil
		_ = f.Member(1).Patch(ctx, &going, client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"finalizers":null}}`)))
	})

	n, err := m.ReadyPods(ctx, ns, "app=web")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(n).To(BeEquivalentTo(2), "Running and Ready, not being deleted, of this selector")
	_, err = m.ReadyPods(ctx, ns, "")
	g.Expect(err).To(HaveOccurred(), "no selector: nothing to count")
}

// createPod creates in member 1 a pod labelled app=app and gives it phase and the Ready
// condition (no kubelet runs there).
func createPod(g Gomega, f *fleettest.Fleet, ns, name, app string, phase corev1.PodPhase, ready corev1.ConditionStatus) {
	ctx := context.Background()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	g.Expect(f.Member(1).Create(ctx, p)).To(Succeed())
	p.Status = corev1.PodStatus{Phase: phase, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}}
	g.Expect(f.Member(1).Status().Update(ctx, p)).To(Succeed())
}

// ownMember registers member 1 again in a registry of our own, under a name the hub does not
// know (its status writes go nowhere), so the controller's registry is left alone.
func ownMember(t *testing.T, g Gomega, f *fleettest.Fleet, name string) (*member.Registry, *member.Member) {
	t.Helper()
	ctx := context.Background()
	mc := memberCluster(g, f, fleettest.MemberName(1))
	var secret corev1.Secret
	g.Expect(f.Hub.Get(ctx, client.ObjectKey{Namespace: plugin.DefaultNamespace, Name: mc.Spec.KubeconfigSecretRef.Name}, &secret)).To(Succeed())
	reg := member.NewRegistry(f.Hub, member.Options{Scheme: manager.Scheme(), ProbeInterval: time.Hour, ReadOnly: true})
	rctx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	go func() { _ = reg.Start(rctx) }()
	probe := mc.DeepCopy()
	probe.Name = name
	g.Expect(reg.Register(probe, secret.Data[mc.Spec.KubeconfigSecretRef.Key])).To(Succeed())
	m, ok := reg.Get(name)
	g.Expect(ok).To(BeTrue())
	return reg, m
}
