package fault_test

import (
	"context"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/distribution"
	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/plugin"
)

// TestRevokedMemberToken: member 3's ServiceAccount is deleted in the member, which revokes
// the bound token the hub holds. The member becomes Unauthorized; after the 5s grace period
// its share moves to members 1 and 2 (at most 2 replicas per step), which never go below their
// shares. `setup-member` again makes a new token: the member is Ready again, and after the
// stabilisation period it gets its share back.
func TestRevokedMemberToken(t *testing.T) {
	const grace = 5 * time.Second
	h := newHarness(t)
	uid := h.setupDSO(grace.String(), 20)
	rec := recordReplicas(t, h.f, h.ns, "nginx")
	start := time.Now()
	h.startController("controller")
	h.waitShares(4, 4, 4)
	repaired := false
	setupMember := func() {
		_, err := plugin.SetupMember(context.Background(), plugin.SetupOptions{Name: fleettest.MemberName(3),
			Hub: h.f.Env.Hub.Config, Member: h.f.Cluster(3).Config})
		Expect(err).NotTo(HaveOccurred())
		repaired = true
	}
	t.Cleanup(func() {
		if !repaired {
			setupMember()
		}
	})

	sa := memberCluster(Default, h.f, 3).Spec.ServiceAccount
	saNS, saName, ok := strings.Cut(sa, "/")
	Expect(ok).To(BeTrue(), "spec.serviceAccount %q is namespace/name", sa)
	Expect(h.f.Member(3).Delete(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: saNS, Name: saName}})).To(Succeed())
	revoked := time.Now()
	var unhealthy time.Time // when the DSO saw member 3 unhealthy (to the second, rounded down)
	Eventually(func(g Gomega) {
		mc := memberCluster(g, h.f, 3)
		g.Expect(mc.Status.State).To(Equal(v1alpha1.MemberStateNotReady))
		g.Expect(readyCondition(mc).Reason).To(Equal(v1alpha1.MemberReasonUnauthorized))
		ms := h.dso(g).Status.MemberClusterStatuses[fleettest.MemberName(3)]
		g.Expect(ms.State).To(Equal(string(distribution.StateUnhealthy)))
		g.Expect(ms.Description).To(ContainSubstring(v1alpha1.MemberReasonUnauthorized))
		unhealthy = ms.LastStatusChangeTime.Time
	}, timeout, poll).Should(Succeed())
	// The API server caches a token's successful authentication for 10s.
	t.Logf("member 3 Unauthorized %.1fs after its ServiceAccount was deleted", time.Since(revoked).Seconds())

	leave := rebalancing(uid, 20, []int32{4, 4, 4},
		[]distribution.State{distribution.StateReady, distribution.StateReady, distribution.StateExcluded})
	away := leave[len(leave)-1]
	rec.waitFor(t, "members 1 and 2 hold the total", func(now map[int]int32) bool {
		return now[1] == away[0] && now[2] == away[1]
	})
	moved := rec.firstChange(revoked, 1, 2)
	t.Logf("first move %.1fs after the DSO saw member 3 unhealthy (grace %s)", moved.Sub(unhealthy).Seconds(), grace)
	Expect(moved.Sub(unhealthy)).To(BeNumerically(">=", grace), "no move within the grace period\n%s", rec)
	Expect(rec.maxMoveWithin(stepWindow, revoked, 1, 2)).To(BeNumerically("<=", 2), "at most 20%% of 12 per step\n%s", rec)
	Eventually(func(g Gomega) {
		ms := h.dso(g).Status.MemberClusterStatuses[fleettest.MemberName(3)]
		g.Expect(ms.Excluded).To(BeTrue())
		g.Expect(ms.DesiredReplicas).To(BeZero())
	}, timeout, poll).Should(Succeed())
	Expect(rec.changesSince(3, start)).To(BeEmpty(), "nothing is written to member 3 with a revoked token\n%s", rec)

	t.Log("setup-member again")
	repair := time.Now()
	setupMember()
	Eventually(func(g Gomega) {
		mc := memberCluster(g, h.f, 3)
		g.Expect(mc.Status.State).To(Equal(v1alpha1.MemberStateReady))
		g.Expect(readyCondition(mc).Reason).To(Equal(v1alpha1.MemberReasonReady))
	}, timeout, poll).Should(Succeed())
	h.waitShares(4, 4, 4)
	returned := rec.firstChange(repair, 1, 2, 3)
	t.Logf("first move back %.1fs after setup-member (stabilisation %s)", returned.Sub(repair).Seconds(), grace)
	Expect(returned.Sub(repair)).To(BeNumerically(">=", grace), "it returns after the stabilisation period\n%s", rec)
	Expect(rec.maxMoveWithin(stepWindow, revoked, 1, 2)).To(BeNumerically("<=", 2), "at most 20%% of 12 per step\n%s", rec)
	for i := 1; i <= 2; i++ {
		Expect(rec.min(i, start)).To(BeEquivalentTo(4), "member %d never below its share\n%s", i, rec)
	}
}
