package distributedscaledobject_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/plugin"
)

// setScaleWrites grants or revokes update/patch on */scale in member i's ClusterRole (the
// one setup-member made for the hub's ServiceAccount there), leaving every read in place: the
// member stays healthy for the probes, only its /scale writes fail.
func setScaleWrites(t *testing.T, f *fleettest.Fleet, i int, allowed bool) {
	t.Helper()
	var mc v1alpha1.MemberCluster
	Expect(f.Hub.Get(context.Background(), client.ObjectKey{Namespace: plugin.DefaultNamespace, Name: fleettest.MemberName(i)}, &mc)).To(Succeed())
	_, sa, _ := strings.Cut(mc.Spec.ServiceAccount, "/")
	var role rbacv1.ClusterRole
	Expect(f.Member(i).Get(context.Background(), client.ObjectKey{Name: sa}, &role)).To(Succeed())
	found := false
	for j, r := range role.Rules {
		if slices.Contains(r.Resources, "*/scale") {
			found = true
			role.Rules[j].Verbs = []string{"get"}
			if allowed {
				role.Rules[j].Verbs = []string{"get", "update", "patch"}
			}
		}
	}
	Expect(found).To(BeTrue(), "ClusterRole %s has a */scale rule", sa)
	Expect(f.Member(i).Update(context.Background(), &role)).To(Succeed())
}

// TestFailingMemberDoesNotSlowHealthyOnes: member 3's credentials lose /scale update. Its
// failure is reported (its status line, a ScaleFailed Event) and retried on the DSO's own
// cadence, never with controller-runtime's error backoff; members 1 and 2 get their share on
// every change, within seconds. Once the permission is back, member 3 gets its share within
// a few sync periods (1 s here), with no other event to wake the DSO.
func TestFailingMemberDoesNotSlowHealthyOnes(t *testing.T) {
	f, ns := fleetWith(t, 1, 1, 1)
	setMetric(t, f, ns, "15")
	apply(t, f.Hub, ns, dsoManifest("    maxReplicaCount: 30\n"))
	Eventually(func() []int32 { return replicas(f, ns) }, timeout, poll).Should(Equal([]int32{1, 1, 1}))

	setScaleWrites(t, f, 3, false)
	restored := false
	t.Cleanup(func() {
		if !restored {
			setScaleWrites(t, f, 3, true)
		}
	})
	m3 := fleettest.MemberName(3)
	for _, step := range []struct {
		metric string
		share  int32
	}{{"30", 2}, {"45", 3}, {"60", 4}, {"75", 5}} {
		setMetric(t, f, ns, step.metric)
		changed := time.Now()
		Eventually(func() []int32 { return replicas(f, ns)[:2] }, 5*time.Second, 20*time.Millisecond).Should(Equal([]int32{step.share, step.share}),
			"members 1 and 2 scaled for metric %s", step.metric)
		t.Logf("metric %s: members 1 and 2 at %d after %s; member 3 at %d", step.metric, step.share,
			time.Since(changed).Round(time.Millisecond), replicas(f, ns)[2])
		Expect(replicas(f, ns)[2]).To(BeEquivalentTo(1), "member 3 cannot be written")
		Eventually(func(g Gomega) {
			g.Expect(getDSO(g, f, ns, "nginx").Status.MemberClusterStatuses[m3].Description).To(ContainSubstring("scaling failed"))
		}, 5*time.Second, poll).Should(Succeed())
		// The HPA's rate limit allows the next step only a sync period later.
		Eventually(func(g Gomega) {
			g.Expect(getDSO(g, f, ns, "nginx").Status.RateLimitedUntil).To(BeNil())
		}, timeout, poll).Should(Succeed())
	}
	Eventually(func(g Gomega) {
		g.Expect(eventNotes(g, f, ns, "nginx", "ScaleFailed")).To(ContainElement(HavePrefix("Member " + m3 + ":")))
	}, timeout, poll).Should(Succeed())

	setScaleWrites(t, f, 3, true)
	restored = true
	back := time.Now()
	Eventually(func() []int32 { return replicas(f, ns) }, 5*time.Second, 20*time.Millisecond).Should(Equal([]int32{5, 5, 5}))
	t.Logf("member 3 scaled %s after its permission came back", time.Since(back).Round(time.Millisecond))
	Eventually(func(g Gomega) {
		g.Expect(getDSO(g, f, ns, "nginx").Status.MemberClusterStatuses[m3].Description).NotTo(ContainSubstring("scaling failed"))
	}, timeout, poll).Should(Succeed())
}
