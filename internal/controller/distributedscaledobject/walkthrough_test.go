package distributedscaledobject_test

import (
	"context"
	"slices"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/plugin"
)

// shortGrace makes the walkthrough's outage steps take seconds instead of minutes; nothing
// else differs from the manifests in the walkthrough.
const shortGrace = `{"spec":{"rebalancingPolicy":{"gracePeriod":"3s"}}}`

func sorted(xs []int32) []int32 {
	out := slices.Clone(xs)
	slices.Sort(out)
	return out
}

// TestWalkthrough replays steps 5-8 of the seed walkthrough against real clusters.
func TestWalkthrough(t *testing.T) {
	RegisterTestingT(t)
	f := shared.Fleet(t)
	ns := namespace(t, f)
	for _, m := range f.Members {
		createNginx(t, m, ns, 1)
	}

	t.Log("step 5: metric 20, target 5 → total 4 over three members")
	apply(t, f.Hub, ns, walkthrough(t, "walkthrough-step5.yaml"))
	patchDSO(t, f, ns, "nginx", shortGrace)
	Eventually(func() []int32 { return sorted(replicas(f, ns)) }, timeout, poll).Should(Equal([]int32{1, 1, 2}))
	Eventually(func(g Gomega) {
		dso := getDSO(g, f, ns, "nginx")
		g.Expect(dso.Status.Print.TotalReplicas).To(Equal("4/4"))
		g.Expect(dso.Status.Print.MembersCount).To(Equal("3/3"))
		g.Expect(dso.Spec.TotalTargetReplicas).To(HaveValue(BeEquivalentTo(4)), "the total is mirrored into /scale")
		g.Expect(condition(dso, v1alpha1.ConditionReady).Status).To(BeEquivalentTo("True"))
		g.Expect(condition(dso, v1alpha1.ConditionScaledObjectActive).Status).To(BeEquivalentTo("True"))
		g.Expect(dso.Status.Selector).To(Equal("app=nginx"))
	}, timeout, poll).Should(Succeed())

	t.Log("step 6: metric 50 → 8 (HPA scale-up limit max(2×4, 4)) then 10")
	setMetric(t, f, ns, "50")
	Eventually(func() []int32 { return sorted(replicas(f, ns)) }, timeout, poll).Should(Equal([]int32{3, 3, 4}))
	Eventually(func(g Gomega) {
		g.Expect(eventNotes(g, f, ns, "nginx", "Scaled")).To(ContainElements(
			ContainSubstring("Total 4: 3 → 4"), ContainSubstring("Total 8: 4 → 8"), ContainSubstring("Total 10: 8 → 10")))
	}, timeout, poll).Should(Succeed())
	// Like the HPA, the second step comes one sync period (1s in tests) after the first.
	step8, step10 := eventTime(f, ns, "Total 8: 4 → 8"), eventTime(f, ns, "Total 10: 8 → 10")
	Expect(step10.Sub(step8)).To(BeNumerically(">=", 900*time.Millisecond))

	t.Log("step 7a: nginx deleted in member 2 → after the grace period members 1 and 3 hold 10")
	deleteNginx(t, f.Member(2), ns)
	Eventually(func(g Gomega) {
		r := replicas(f, ns)
		g.Expect(r[1]).To(BeEquivalentTo(-1))
		g.Expect(r[0] + r[2]).To(BeEquivalentTo(10))
		dso := getDSO(g, f, ns, "nginx")
		m2 := dso.Status.MemberClusterStatuses[fleettest.MemberName(2)]
		g.Expect(m2.Excluded).To(BeTrue())
		g.Expect(m2.Description).To(ContainSubstring("not found"))
		g.Expect(dso.Status.Print.MembersCount).To(Equal("2/3"))
	}, timeout, poll).Should(Succeed())
	Eventually(func(g Gomega) {
		g.Expect(eventNotes(g, f, ns, "nginx", "MemberUnhealthy")).NotTo(BeEmpty())
		g.Expect(eventNotes(g, f, ns, "nginx", "MemberExcluded")).NotTo(BeEmpty())
	}, timeout, poll).Should(Succeed())

	t.Log("step 7a: nginx recreated in member 2 → its share returns")
	createNginx(t, f.Member(2), ns, 1)
	Eventually(func() []int32 { return sorted(replicas(f, ns)) }, timeout, poll).Should(Equal([]int32{3, 3, 4}))
	Eventually(func(g Gomega) {
		g.Expect(getDSO(g, f, ns, "nginx").Status.Print.MembersCount).To(Equal("3/3"))
		g.Expect(eventNotes(g, f, ns, "nginx", "MemberRecovered")).NotTo(BeEmpty())
	}, timeout, poll).Should(Succeed())

	t.Log("step 7b: member 3's API server stopped → members 1 and 2 hold 10, Members 2/3")
	before := replicas(f, ns)
	if err := f.Cluster(3).Stop(); err != nil {
		t.Fatal(err)
	}
	Eventually(func(g Gomega) {
		r := replicas(f, ns)
		g.Expect(r[0] + r[1]).To(BeEquivalentTo(10))
		dso := getDSO(g, f, ns, "nginx")
		g.Expect(dso.Status.Print.TotalReplicas).To(Equal("10/10"))
		g.Expect(dso.Status.Print.MembersCount).To(Equal("2/3"))
		m3 := dso.Status.MemberClusterStatuses[fleettest.MemberName(3)]
		g.Expect(m3.Excluded).To(BeTrue())
		g.Expect(m3.CurrentReplicas).To(Equal(before[2]), "last known replicas are kept")
	}, timeout, poll).Should(Succeed())
	var mc v1alpha1.MemberCluster
	Expect(f.Hub.Get(context.Background(), client.ObjectKey{Namespace: plugin.DefaultNamespace, Name: fleettest.MemberName(3)}, &mc)).To(Succeed())
	Expect(mc.Status.State).To(Equal(v1alpha1.MemberStateNotReady))

	t.Log("step 7b: member 3 back → its share returns")
	if err := f.Cluster(3).Start(); err != nil {
		t.Fatal(err)
	}
	Eventually(func() []int32 { return sorted(replicas(f, ns)) }, timeout, poll).Should(Equal([]int32{3, 3, 4}))
	Eventually(func(g Gomega) { g.Expect(getDSO(g, f, ns, "nginx").Status.Print.MembersCount).To(Equal("3/3")) }, timeout, poll).Should(Succeed())

	t.Log("step 7c: member 3 deregistered → gone from the DSO's status")
	if _, err := plugin.DeleteMember(context.Background(), plugin.DeleteOptions{Name: fleettest.MemberName(3), Hub: f.Env.Hub.Config, Yes: true}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := plugin.SetupMember(context.Background(), plugin.SetupOptions{Name: fleettest.MemberName(3), Hub: f.Env.Hub.Config, Member: f.Cluster(3).Config}); err != nil {
			t.Errorf("re-register member 3: %v", err)
		}
	})
	Eventually(func(g Gomega) {
		dso := getDSO(g, f, ns, "nginx")
		g.Expect(dso.Status.MemberClusterStatuses).NotTo(HaveKey(fleettest.MemberName(3)))
		g.Expect(dso.Status.Print.MembersCount).To(Equal("2/2"))
		r := replicas(f, ns)
		g.Expect(r[0] + r[1]).To(BeEquivalentTo(10))
	}, timeout, poll).Should(Succeed())

	t.Log("step 8: whitelist members 1 and 2 with weights 3:1")
	untouched := replicas(f, ns)[2]
	apply(t, f.Hub, ns, walkthrough(t, "walkthrough-step8.yaml"))
	Eventually(func(g Gomega) {
		r := replicas(f, ns)
		g.Expect(r[0] + r[1]).To(BeEquivalentTo(10))
		g.Expect(r[0]).To(BeNumerically(">=", 7))
		g.Expect(r[0]).To(BeNumerically("<=", 8))
		g.Expect(r[2]).To(Equal(untouched), "member 3 is not whitelisted and is left alone")
	}, timeout, poll).Should(Succeed())
}
