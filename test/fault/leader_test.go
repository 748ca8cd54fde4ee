package fault_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/internal/plugin"
)

// leaseName is the controller's leader-election Lease (internal/manager), in --namespace.
const leaseName = "fleetscale-controller.keda.kedify.io"

// Short lease timings: a killed leader's lease expires in 6s.
var leaderElection = []string{"--leader-elect", "--leader-elect-lease-duration=6s",
	"--leader-elect-renew-deadline=4s", "--leader-elect-retry-period=1s"}

// TestLeaderKilledStandbyTakesOver: two controller replicas with --leader-elect. Only the
// first holds the lease; the second waits. The leader is SIGKILLed right after it created the
// first of six new Jobs (the queue went from 3 to 9): the standby takes the lease once it
// expires and completes the work from what the members hold, so exactly nine Jobs ever exist,
// none twice. Scaling then continues under the new leader (metric 60 → 90: 4/4/4 → 6/6/6) and
// no member ever held less than its share.
func TestLeaderKilledStandbyTakesOver(t *testing.T) {
	h := newHarness(t)
	h.setupDSO("3s", 10)
	dsjUID := h.setupDSJ(3)
	replicas := recordReplicas(t, h.f, h.ns, "nginx")
	jobs := recordJobs(t, h.f, h.ns, dsjUID)
	start := time.Now()

	leader := h.startController("replica-a", leaderElection...)
	var first string
	Eventually(func() string { first = leaseHolder(h); return first }, timeout, poll).ShouldNot(BeEmpty())
	standby := h.startController("replica-b", leaderElection...)
	Consistently(func() string { return leaseHolder(h) }, 3*time.Second, poll).Should(Equal(first), "the standby waits")
	h.waitShares(4, 4, 4)
	jobs.waitFor(t, "3 Jobs", func(created, live int) bool { return created == 3 && live == 3 })

	h.setQueue(9)
	jobs.waitFor(t, "a first new Job", func(created, _ int) bool { return created > 3 })
	Expect(leader.Kill()).To(Succeed())
	killed := time.Now()
	created, _, _ := jobs.counts()
	t.Logf("leader killed with %d of 9 Jobs created", created)

	Eventually(func() string { return leaseHolder(h) }, timeout, poll).ShouldNot(Or(Equal(first), BeEmpty()))
	t.Logf("the standby holds the lease %.1fs after the kill", time.Since(killed).Seconds())
	Expect(logOf(standby.LogPath)).To(MatchRegexp(`(?i)successfully acquired lease`))

	jobs.waitFor(t, "9 Jobs", func(created, live int) bool { return created == 9 && live == 9 })
	Consistently(func() []int {
		created, live, maxLive := jobs.counts()
		return []int{created, live, maxLive}
	}, 3*time.Second, poll).Should(Equal([]int{9, 9, 9}), "no Job twice:\n%s", jobs)

	h.f.SetMetric(t, h.ns, "90")
	h.waitShares(6, 6, 6)
	for i := 1; i <= 3; i++ {
		Expect(replicas.min(i, start)).To(BeEquivalentTo(4), "member %d\n%s", i, replicas)
		for _, s := range replicas.changesSince(i, start) {
			Expect(s.replicas).To(BeEquivalentTo(6), "member %d goes from 4 to 6 in one write\n%s", i, replicas)
		}
	}
}

func leaseHolder(h *harness) string { return leaseHolderNamed(h, leaseName) }

func leaseHolderNamed(h *harness, name string) string {
	var l coordinationv1.Lease
	if err := h.f.Hub.Get(context.Background(), client.ObjectKey{Namespace: plugin.DefaultNamespace, Name: name}, &l); err != nil {
		return ""
	}
	if l.Spec.HolderIdentity == nil || strings.TrimSpace(*l.Spec.HolderIdentity) == "" {
		return ""
	}
	return ptr.Deref(l.Spec.HolderIdentity, "")
}

func logOf(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}
