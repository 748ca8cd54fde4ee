package fault_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/fleetscale/fleetscale/internal/distribution"
	"github.com/fleetscale/fleetscale/internal/fleettest"
)

// TestFlappingMember: member 3's API server hangs (SIGSTOP) until the DSO sees it unhealthy
// and then answers again for 2s, four times over. Each outage is far shorter than the 8s grace
// period, so nothing moves: no member's replicas change at all and member 3 is never excluded.
// Then it hangs for good: its share of 4 moves to members 1 and 2 only after the grace period,
// at most 2 replicas per step (maxRebalancePercentage 20 of 12), to the shares one rebalancing
// gives. When it answers again it gets its share back after the stabilisation period,
// rate-limited the same way, along the same sequence; members 1 and 2 never go below their
// shares at any time.
func TestFlappingMember(t *testing.T) {
	const grace = 8 * time.Second
	h := newHarness(t)
	uid := h.setupDSO(grace.String(), 20)
	rec := recordReplicas(t, h.f, h.ns, "nginx")
	start := time.Now()
	h.startController("controller")
	h.waitShares(4, 4, 4)
	m3 := h.f.Cluster(3)
	hung := false
	t.Cleanup(func() {
		if hung {
			_ = m3.Resume()
		}
	})
	state3 := func(g Gomega) string {
		return h.dso(g).Status.MemberClusterStatuses[fleettest.MemberName(3)].State
	}

	flapping := time.Now()
	for i := range 4 {
		Expect(m3.Hang()).To(Succeed())
		hung = true
		hungAt := time.Now()
		Eventually(state3, timeout, 100*time.Millisecond).Should(Equal(string(distribution.StateUnhealthy)))
		Expect(m3.Resume()).To(Succeed())
		hung = false
		Eventually(state3, timeout, 100*time.Millisecond).Should(Equal(string(distribution.StateReady)))
		t.Logf("flap %d: unhealthy for %.1fs", i+1, time.Since(hungAt).Seconds())
		Consistently(state3, 2*time.Second, 200*time.Millisecond).Should(Equal(string(distribution.StateReady)))
	}
	for i := 1; i <= 3; i++ {
		Expect(rec.changesSince(i, flapping)).To(BeEmpty(), "member %d: nothing moves within the grace period\n%s", i, rec)
	}
	h.waitShares(4, 4, 4)

	t.Log("member 3 hangs for good")
	Expect(m3.Hang()).To(Succeed())
	hung = true
	down := time.Now()
	var unhealthy time.Time // when the DSO saw it unhealthy (to the second, rounded down)
	Eventually(func(g Gomega) {
		ms := h.dso(g).Status.MemberClusterStatuses[fleettest.MemberName(3)]
		g.Expect(ms.State).To(Equal(string(distribution.StateUnhealthy)))
		unhealthy = ms.LastStatusChangeTime.Time
	}, timeout, 100*time.Millisecond).Should(Succeed())
	leave := rebalancing(uid, 20, []int32{4, 4, 4},
		[]distribution.State{distribution.StateReady, distribution.StateReady, distribution.StateExcluded})
	away := leave[len(leave)-1]
	t.Logf("one rebalancing sequence away from member 3: %v", leave)
	rec.waitFor(t, "members 1 and 2 hold the total", func(now map[int]int32) bool {
		return now[1] == away[0] && now[2] == away[1]
	})
	moved := rec.firstChange(down, 1, 2)
	t.Logf("first move %.1fs after the hang (grace %s)", moved.Sub(down).Seconds(), grace)
	Expect(moved.Sub(down)).To(BeNumerically(">=", grace), "no move within the grace period\n%s", rec)
	Expect(moved.Sub(unhealthy)).To(BeNumerically(">=", grace), "no move within the grace period\n%s", rec)
	Expect(rec.maxMoveWithin(stepWindow, down, 1, 2)).To(BeNumerically("<=", 2), "at most 20%% of 12 per step\n%s", rec)
	Eventually(func(g Gomega) {
		ms := h.dso(g).Status.MemberClusterStatuses[fleettest.MemberName(3)]
		g.Expect(ms.Excluded).To(BeTrue())
		g.Expect(ms.DesiredReplicas).To(BeZero())
	}, timeout, poll).Should(Succeed())

	t.Log("member 3 answers again")
	back := time.Now() // before it can answer: it is healthy since then at the earliest
	Expect(m3.Resume()).To(Succeed())
	hung = false
	ret := rebalancing(uid, 20, away,
		[]distribution.State{distribution.StateReady, distribution.StateReady, distribution.StateReady})
	t.Logf("one rebalancing sequence back to member 3: %v", ret)
	h.waitShares(ret[len(ret)-1]...)
	returned := rec.firstChange(back, 1, 2, 3)
	t.Logf("first move back %.1fs after it answered (stabilisation %s)", returned.Sub(back).Seconds(), grace)
	Expect(returned.Sub(back)).To(BeNumerically(">=", grace), "it returns after the stabilisation period\n%s", rec)
	Expect(rec.maxMoveWithin(stepWindow, back, 1, 2)).To(BeNumerically("<=", 2), "at most 20%% of 12 per step\n%s", rec)
	var want3 []int32 // member 3's writes: its shares along the sequence
	for _, s := range ret[1:] {
		want3 = append(want3, s[2])
	}
	var got3 []int32
	for _, s := range rec.changesSince(3, back) {
		got3 = append(got3, s.replicas)
	}
	Expect(got3).To(Equal(want3), "member 3 gets the shares of one sequence\n%s", rec)
	for i := 1; i <= 2; i++ {
		Expect(rec.min(i, start)).To(BeEquivalentTo(4), "member %d never below its share\n%s", i, rec)
	}
}
