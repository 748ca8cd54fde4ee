package member_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/member"
)

// A target's watch evaluates what changes a decision's input: a spec change by someone else.
// The echo of our own /scale write and the workload controller's status updates (several per
// scale) publish nothing, so they never queue an evaluation ahead of a trigger change.
func TestTargetEventsSkipOwnWritesAndStatusUpdates(t *testing.T) {
	f := shared.Fleet(t)
	g := NewWithT(t)
	ctx := context.Background()
	ns := f.Namespace(t, "echo-")

	reg, m := ownMember(t, g, f, "echo-probe")
	events := reg.Subscribe()

	d := deployment(ns, "web", 1)
	g.Expect(f.Member(1).Create(ctx, d)).To(Succeed())
	gvk := appsv1.SchemeGroupVersion.WithKind("Deployment")
	g.Expect(m.WatchKind(ctx, gvk)).To(Succeed())

	webEvents := func(within time.Duration) int {
		n := 0
		deadline := time.After(within)
		for {
			select {
			case e := <-events:
				if isTargetEvent(e, ns, "web") {
					n++
				}
			case <-deadline:
				return n
			}
		}
	}
	g.Eventually(func() int { return webEvents(200 * time.Millisecond) }, 30*time.Second).Should(BeNumerically(">=", 1), "the initial list")

	// Our write, then the status update a workload controller would make.
	g.Expect(m.SetReplicas(ctx, gvk, ns, "web", 3)).To(Succeed())
	g.Expect(f.Member(1).Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
	d.Status.Replicas, d.Status.ObservedGeneration = 3, d.Generation
	g.Expect(f.Member(1).Status().Update(ctx, d)).To(Succeed())
	g.Expect(webEvents(3*time.Second)).To(BeZero(), "our own write and a status update publish nothing")

	// Someone else's change to the spec is seen at once.
	g.Expect(f.Member(1).Patch(ctx, d, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"replicas":5}}`)))).To(Succeed())
	g.Expect(webEvents(5*time.Second)).To(Equal(1), "another writer's spec change")

	// Our next write is again silent, even right after another writer's.
	g.Expect(m.SetReplicas(ctx, gvk, ns, "web", 2)).To(Succeed())
	g.Expect(webEvents(3 * time.Second)).To(BeZero())

	// Deletion is published.
	g.Expect(f.Member(1).Delete(ctx, d)).To(Succeed())
	g.Expect(webEvents(5*time.Second)).To(Equal(1), "the deletion")
}

func isTargetEvent(e event.TypedGenericEvent[member.Event], ns, name string) bool {
	return e.Object.Type == member.EventTargetChanged && e.Object.Namespace == ns && e.Object.Name == name
}

// An evaluation reads a watched target's /scale only when it changed: while the metadata
// informer holds the version last read or written, GetTarget answers from it without a
// request; any change (here a status update) makes the next one read again.
func TestUnchangedTargetIsNotReadAgain(t *testing.T) {
	f := shared.Fleet(t)
	g := NewWithT(t)
	ctx := context.Background()
	ns := f.Namespace(t, "seen-")
	_, m := ownMember(t, g, f, "seen-probe")

	d := deployment(ns, "api", 2)
	g.Expect(f.Member(1).Create(ctx, d)).To(Succeed())
	gvk := appsv1.SchemeGroupVersion.WithKind("Deployment")
	g.Expect(m.WatchKind(ctx, gvk)).To(Succeed())

	scaleGets := requests(g, f, "GET", "deployments", "scale")
	// The first read goes to the API server (and is counted there); once the informer holds
	// that version, none does.
	base := scaleGets()
	_, err := m.GetTarget(ctx, gvk, ns, "api")
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(scaleGets).Should(BeNumerically(">", base), "the first read is a GET of /scale")
	g.Eventually(func(g Gomega) {
		before := scaleGets()
		tg, err := m.GetTarget(ctx, gvk, ns, "api")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(tg.Replicas).To(BeEquivalentTo(2))
		g.Expect(scaleGets()).To(Equal(before))
	}, 30*time.Second, 100*time.Millisecond).Should(Succeed())
	before := scaleGets()
	for range 5 {
		tg, err := m.GetTarget(ctx, gvk, ns, "api")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(tg).To(Equal(member.Target{Exists: true, Replicas: 2, Selector: "app=api"}))
	}
	g.Expect(scaleGets()).To(Equal(before), "five evaluations of an unchanged target read nothing")

	// Our write's response is the new version: still nothing to read.
	g.Expect(m.SetReplicas(ctx, gvk, ns, "api", 4)).To(Succeed())
	g.Eventually(func(g Gomega) {
		tg, err := m.GetTarget(ctx, gvk, ns, "api")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(tg.Replicas).To(BeEquivalentTo(4))
	}, 30*time.Second, 100*time.Millisecond).Should(Succeed())

	// A status update moves the version: the next evaluation reads it.
	g.Expect(f.Member(1).Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
	d.Status.Replicas = 4
	g.Expect(f.Member(1).Status().Update(ctx, d)).To(Succeed())
	g.Eventually(func(g Gomega) {
		tg, err := m.GetTarget(ctx, gvk, ns, "api")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(tg.StatusReplicas).To(BeEquivalentTo(4))
	}, 30*time.Second, 100*time.Millisecond).Should(Succeed())
}

// requestCount is member i's apiserver_request_total for verb, resource and subresource.
func requestCount(ctx context.Context, f *fleettest.Fleet, i int, verb, resource, subresource string) (float64, error) {
	counts, err := f.Cluster(i).RequestCounts(ctx)
	if err != nil {
		return 0, err
	}
	var sum float64
	for _, rc := range counts {
		if rc.Labels["verb"] == verb && rc.Labels["resource"] == resource && rc.Labels["subresource"] == subresource {
			sum += rc.Value
		}
	}
	return sum, nil
}

// requests reads member 1's request count for verb, resource and subresource when called.
func requests(g Gomega, f *fleettest.Fleet, verb, resource, subresource string) func() float64 {
	return func() float64 {
		n, err := requestCount(context.Background(), f, 1, verb, resource, subresource)
		g.Expect(err).NotTo(HaveOccurred())
		return n
	}
}

// deployment is a Deployment of replicas whose pods are labelled app=name.
func deployment(ns, name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: appsv1.DeploymentSpec{
		Replicas: ptr.To(replicas), Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}}}
}

// A Deployment's ready pods are listed once per version of the Deployment: its controller
// counts them in its status, so a pod's readiness moving moves the version. An idle
// evaluation of a settled target lists nothing.
func TestReadyPodsAreCountedOncePerTargetVersion(t *testing.T) {
	f := shared.Fleet(t)
	g := NewWithT(t)
	ctx := context.Background()
	ns := f.Namespace(t, "count-")
	_, m := ownMember(t, g, f, "count-probe")

	d := deployment(ns, "web", 2)
	g.Expect(f.Member(1).Create(ctx, d)).To(Succeed())
	gvk := appsv1.SchemeGroupVersion.WithKind("Deployment")
	g.Expect(m.WatchKind(ctx, gvk)).To(Succeed())
	createPod(g, f, ns, "web-1", "web", corev1.PodRunning, corev1.ConditionTrue)
	podLists := requests(g, f, "LIST", "pods", "")
	evaluate := func() int32 {
		tg, err := m.GetTarget(ctx, gvk, ns, "web")
		g.Expect(err).NotTo(HaveOccurred())
		n, err := m.TargetReadyPods(ctx, gvk, ns, "web", tg.Selector)
		g.Expect(err).NotTo(HaveOccurred())
		return n
	}

	base := podLists()
	g.Expect(evaluate()).To(BeEquivalentTo(1))
	g.Eventually(podLists).Should(BeNumerically(">", base), "the first count lists the pods")
	before := podLists()
	for range 5 {
		g.Expect(evaluate()).To(BeEquivalentTo(1))
	}
	g.Consistently(podLists, 2*time.Second, 200*time.Millisecond).Should(Equal(before), "five evaluations of an unchanged Deployment list nothing")

	// A second pod becomes ready; the Deployment's controller says so in its status, which
	// moves its version: the next evaluation counts again.
	createPod(g, f, ns, "web-2", "web", corev1.PodRunning, corev1.ConditionTrue)
	g.Expect(f.Member(1).Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
	d.Status.Replicas, d.Status.ReadyReplicas = 2, 2
	g.Expect(f.Member(1).Status().Update(ctx, d)).To(Succeed())
	g.Eventually(evaluate, 30*time.Second, 100*time.Millisecond).Should(BeEquivalentTo(2))
	g.Expect(podLists()).To(BeNumerically(">", before))
}
