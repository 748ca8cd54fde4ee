package fault_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

// TestEtcdRestart: the one etcd under the hub and every member goes away for a while and comes
// back. Every API server fails meanwhile, so the controller can read and write nothing; the
// outage is shorter than the grace periods, so nothing may move. Afterwards the controller
// carries on by itself (no restart): no member's replicas ever changed, the DSJ's 3 Jobs are
// the only ones ever created, every member is Ready again, and it still scales (metric 60 →
// 90: 4/4/4 → 6/6/6; queue 3 → 5: exactly 5 Jobs).
func TestEtcdRestart(t *testing.T) {
	h := newHarness(t)
	h.setupDSO("1m", 50)
	dsjUID := h.setupDSJ(3)
	rec := recordReplicas(t, h.f, h.ns, "nginx")
	jobs := recordJobs(t, h.f, h.ns, dsjUID)
	start := time.Now()
	h.startController("controller")
	h.waitShares(4, 4, 4)
	jobs.waitFor(t, "3 Jobs", func(created, live int) bool { return created == 3 && live == 3 })

	env := h.f.Env
	stopped := false
	t.Cleanup(func() {
		if stopped {
			_ = env.StartEtcd(context.Background())
		}
	})
	Expect(env.StopEtcd()).To(Succeed())
	stopped = true
	down := time.Now()
	Consistently(func() error { return env.Hub.Ready(context.Background()) }, 5*time.Second, 500*time.Millisecond).
		ShouldNot(Succeed(), "the hub's API server fails while etcd is down")
	Expect(env.StartEtcd(context.Background())).To(Succeed())
	stopped = false
	for _, c := range env.Clusters() {
		Expect(c.WaitReady(context.Background())).To(Succeed(), c.Name)
	}
	t.Logf("etcd was down for %.1fs; every cluster is ready again", time.Since(down).Seconds())

	// Status is written only when it changes (probes and evaluations that find the same write
	// nothing), so recovery is shown by what the controller does: every member Ready in the
	// registrations and in the DSO's view, and below, the DSO and DSJ acting on a new metric.
	Eventually(func(g Gomega) {
		dso := h.dso(g)
		for i := 1; i <= 3; i++ {
			mc := memberCluster(g, h.f, i)
			g.Expect(mc.Status.State).To(Equal(v1alpha1.MemberStateReady), "member %d", i)
			g.Expect(dso.Status.MemberClusterStatuses).To(HaveKeyWithValue(mc.Name, HaveField("State", "Ready")), "member %d in the DSO", i)
		}
	}, timeout, poll).Should(Succeed())
	h.waitShares(4, 4, 4)
	Consistently(func() []int {
		created, live, maxLive := jobs.counts()
		return []int{created, live, maxLive}
	}, 3*time.Second, poll).Should(Equal([]int{3, 3, 3}), "no Job created again:\n%s", jobs)
	for i := 1; i <= 3; i++ {
		Expect(rec.changesSince(i, start)).To(BeEmpty(), "member %d: nothing moved\n%s", i, rec)
	}

	h.f.SetMetric(t, h.ns, "90")
	h.setQueue(5)
	h.waitShares(6, 6, 6)
	jobs.waitFor(t, "5 Jobs", func(created, live int) bool { return created == 5 && live == 5 })
	Consistently(func() int { created, _, _ := jobs.counts(); return created }, 3*time.Second, poll).Should(Equal(5), "%s", jobs)
	for i := 1; i <= 3; i++ {
		Expect(rec.min(i, start)).To(BeEquivalentTo(4), "member %d\n%s", i, rec)
	}
}
