package distributedscaledobject_test

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/plugin"
)

// The kwok node of every full member offers 1000 CPUs. In member 3 a hog pod takes 400 of them
// and each nginx pod asks for 200, so member 3 fits 3 nginx pods and no more.
const (
	hogCPU = "400"
	podCPU = "200"
)

func createNginxRequesting(t *testing.T, c client.Client, ns, cpu string) {
	t.Helper()
	labels := map[string]string{"app": "nginx"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}},
			},
		},
	}
	if err := c.Create(context.Background(), d); err != nil {
		t.Fatal(err)
	}
}

// TestSlowMemberLosesTheMissingShareAndGetsItBack: a member whose node cannot fit its pods gets
// the missing part of its share moved to the others after the grace period (asked for one
// probe replica more), and gets it back once it has room.
func TestSlowMemberLosesTheMissingShareAndGetsItBack(t *testing.T) {
	RegisterTestingT(t)
	f := shared.Fleet(t)
	ns := namespace(t, f)
	m3 := fleettest.MemberName(3)
	hog := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "hog", Namespace: ns},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "hog", Image: "busybox",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(hogCPU)}}}}},
	}
	Expect(f.Member(3).Create(context.Background(), hog)).To(Succeed())
	for i := 1; i <= 3; i++ {
		cpu := "0"
		if i == 3 {
			cpu = podCPU
		}
		createNginxRequesting(t, f.Member(i), ns, cpu)
	}
	setMetric(t, f, ns, "100")
	apply(t, f.Hub, ns, dsoManifest(`    minReplicaCount: 12
    maxReplicaCount: 12
`)+`  rebalancingPolicy:
    gracePeriod: 5s
`)

	t.Log("total 12 = 4/4/4; member 3 runs 3 of its 4, then after 5s without progress its 4th moves to another member")
	Eventually(func(g Gomega) {
		dso := getDSO(g, f, ns, "nginx")
		ms := dso.Status.MemberClusterStatuses[m3]
		g.Expect(ms.Capacity).To(HaveValue(BeEquivalentTo(3)))
		g.Expect(ms.DesiredReplicas).To(BeEquivalentTo(3))
		g.Expect(ms.ReadyReplicas).To(HaveValue(BeEquivalentTo(3)))
		g.Expect(ms.LastScalingProgressTime).NotTo(BeNil())
		g.Expect(ms.Description).To(ContainSubstring("slow: 3 of 4 replicas ready"))
		g.Expect(ms.Description).To(ContainSubstring("1 of its 4 replicas moved to other members"))
		r := replicas(f, ns)
		g.Expect(r[0] + r[1]).To(BeEquivalentTo(9))
		g.Expect(r[2]).To(BeEquivalentTo(4), "3 capped + 1 probe replica")
		g.Expect(dso.Status.TotalDesiredReplicas).To(BeEquivalentTo(12), "the probe does not creep into the total")
		g.Expect(eventNotes(g, f, ns, "nginx", "MemberSlow")).NotTo(BeEmpty())
	}, timeout, poll).Should(Succeed())

	t.Log("member 3 gets room: the probe pod starts, the cap is lifted, its share comes back")
	Expect(f.Member(3).Delete(context.Background(), hog, client.GracePeriodSeconds(0))).To(Succeed())
	Eventually(func(g Gomega) {
		dso := getDSO(g, f, ns, "nginx")
		ms := dso.Status.MemberClusterStatuses[m3]
		g.Expect(ms.Capacity).To(BeNil())
		g.Expect(ms.DesiredReplicas).To(BeEquivalentTo(4))
		g.Expect(replicas(f, ns)).To(Equal([]int32{4, 4, 4}))
		g.Expect(eventNotes(g, f, ns, "nginx", "MemberProgressing")).NotTo(BeEmpty())
		g.Expect(ms.Provider).To(Equal(v1alpha1.ProviderKubeconfig))
		var mc v1alpha1.MemberCluster
		g.Expect(f.Hub.Get(context.Background(), client.ObjectKey{Namespace: plugin.DefaultNamespace, Name: m3}, &mc)).To(Succeed())
		g.Expect(ms.ID).To(Equal(string(mc.UID)))
		g.Expect(dso.Status.Triggers).To(HaveEach(HaveField("State", v1alpha1.TriggerStateActive)))
	}, timeout, poll).Should(Succeed())
}
