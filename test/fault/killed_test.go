package fault_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/distribution"
	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/manager"
)

// TestControllerKilledMidRebalance: member 3 loses its nginx, so after the grace period its
// share of 4 moves to members 1 and 2 one replica per step (maxRebalancePercentage 10 of 12).
// The controller is SIGKILLed the moment each of the first three steps reaches a member (the
// second: the moment it reaches the DSO's status), so between its status and /scale writes,
// and started again at once. The shares observed on members 1 and 2 are exactly the states of one uninterrupted
// rebalancing sequence (internal/distribution on its own), in order, none skipped, none
// undone, never more than one replica per step, and neither member ever below its share of 4.
func TestControllerKilledMidRebalance(t *testing.T) {
	h := newHarness(t)
	uid := h.setupDSO("3s", 10)
	rec := recordReplicas(t, h.f, h.ns, "nginx")
	start := time.Now()
	ctl := h.startController("controller-1")
	h.waitShares(4, 4, 4)

	seq := rebalancing(uid, 10, []int32{4, 4, 4},
		[]distribution.State{distribution.StateReady, distribution.StateReady, distribution.StateExcluded})
	t.Logf("one rebalancing sequence (members 1, 2, 3): %v", seq)
	Expect(seq).To(HaveLen(5), "four steps of one replica")

	stored := recordStoredShares(t, h)
	Expect(h.f.Member(3).Delete(context.Background(), &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "nginx"}})).To(Succeed())
	for k := 1; k <= 3; k++ {
		want := 8 + int32(k)
		if k == 2 {
			// Once at the moment the step reaches the DSO's status, before or while the
			// members are written.
			stored.waitFor(t, "step 2 in the DSO's status", func() bool { return stored.sum >= want }, rec.String)
		} else {
			rec.waitFor(t, fmt.Sprintf("step %d on members 1 and 2", k), func(now map[int]int32) bool {
				return now[1]+now[2] >= want
			})
		}
		Expect(ctl.Kill()).To(Succeed())
		t.Logf("step %d seen: members 1 and 2 hold %v; controller killed", k, rec.now(1, 2))
		ctl = h.startController(fmt.Sprintf("controller-%d", k+1))
	}

	final := seq[len(seq)-1]
	Eventually(func(g Gomega) {
		st := h.dso(g).Status
		m3 := st.MemberClusterStatuses[fleettest.MemberName(3)]
		g.Expect(m3.Excluded).To(BeTrue())
		g.Expect(m3.DesiredReplicas).To(BeZero())
		for i := 1; i <= 2; i++ {
			g.Expect(st.MemberClusterStatuses[fleettest.MemberName(i)].DesiredReplicas).To(Equal(final[i-1]))
		}
		g.Expect(rec.now(1, 2)).To(Equal(final[:2]))
	}, timeout, poll).Should(Succeed())
	settled := time.Now()
	Consistently(func() []int32 { return rec.now(1, 2) }, 2*stepInterval, poll).Should(Equal(final[:2]), "nothing moves once settled")

	_, observed := rec.timeline(start, 1, 2)
	var want [][]int32
	for _, s := range seq {
		want = append(want, s[:2])
	}
	Expect(observed).To(Equal(want), "every step of one sequence was written, in order, one at a time\n%s", rec)
	Expect(rec.maxMoveWithin(stepWindow, start, 1, 2)).To(BeNumerically("<=", 1), "one replica per step\n%s", rec)
	Expect(rec.min(1, start)).To(BeEquivalentTo(4))
	Expect(rec.min(2, start)).To(BeEquivalentTo(4))
	t.Logf("settled at %v, %.1fs after the test started", final, settled.Sub(start).Seconds())
}

// storedShares follows the shares of members 1 and 2 in the DSO's status, through a watch.
type storedShares struct {
	notifier
	sum int32
}

func recordStoredShares(t *testing.T, h *harness) *storedShares {
	t.Helper()
	wc, err := client.NewWithWatch(h.f.Env.Hub.Config, client.Options{Scheme: manager.Scheme()})
	Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w, err := wc.Watch(ctx, &v1alpha1.DistributedScaledObjectList{}, client.InNamespace(h.ns))
	Expect(err).NotTo(HaveOccurred())
	r := &storedShares{}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			dso, ok := ev.Object.(*v1alpha1.DistributedScaledObject)
			if !ok {
				continue
			}
			st := dso.Status.MemberClusterStatuses
			r.mu.Lock()
			r.sum = st[fleettest.MemberName(1)].DesiredReplicas + st[fleettest.MemberName(2)].DesiredReplicas
			r.broadcast()
			r.mu.Unlock()
		}
	}()
	return r
}
