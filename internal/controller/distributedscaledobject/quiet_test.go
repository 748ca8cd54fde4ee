package distributedscaledobject_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/plugin"
)

// resourceVersions is the resourceVersion of the DSO, every MemberCluster and the nginx
// Deployment in every member: a write to any of them changes one.
func resourceVersions(g Gomega, f *fleettest.Fleet, ns, name string) map[string]string {
	out := map[string]string{"dso": getDSO(g, f, ns, name).ResourceVersion}
	var mcs v1alpha1.MemberClusterList
	g.Expect(f.Hub.List(context.Background(), &mcs, client.InNamespace(plugin.DefaultNamespace))).To(Succeed())
	for _, mc := range mcs.Items {
		out["membercluster/"+mc.Name] = mc.ResourceVersion
	}
	for i, m := range f.Members {
		var d appsv1.Deployment
		g.Expect(m.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "nginx"}, &d)).To(Succeed())
		out[fmt.Sprintf("member-%d/nginx", i+1)] = d.ResourceVersion
	}
	return out
}

// changed lists what moved between two snapshots.
func changed(before, after map[string]string) []string {
	var out []string
	for k, v := range after {
		if before[k] != v {
			out = append(out, fmt.Sprintf("%s %s → %s", k, before[k], v))
		}
	}
	sort.Strings(out)
	return out
}

// TestQuietWhenSettled: once a DSO has settled, nothing is written any more, to the hub or to
// the members, over many trigger polls (1 s) and member probes (1 s here): no resourceVersion
// of the DSO, of a MemberCluster or of a member target moves for 25 s. A change is then still
// acted upon at once.
func TestQuietWhenSettled(t *testing.T) {
	RegisterTestingT(t)
	f := shared.Fleet(t)
	ns := namespace(t, f)
	for _, m := range f.Members {
		createNginx(t, m, ns, 1)
	}
	apply(t, f.Hub, ns, walkthrough(t, "walkthrough-step5.yaml"))
	patchDSO(t, f, ns, "nginx", `{"spec":{"scaledObjectSpec":{"pollingInterval":1}}}`)
	Eventually(func(g Gomega) {
		dso := getDSO(g, f, ns, "nginx")
		g.Expect(dso.Status.Print.TotalReplicas).To(Equal("4/4"))
		g.Expect(dso.Status.Print.MembersCount).To(Equal("3/3"))
		for name, ms := range dso.Status.MemberClusterStatuses {
			g.Expect(ms.ReadyReplicas).To(HaveValue(Equal(ms.CurrentReplicas)), "member %s ready", name)
		}
	}, timeout, poll).Should(Succeed())
	// Settled: the pods' readiness has been observed and nothing moved for 5 s.
	Eventually(func(g Gomega) {
		before := resourceVersions(g, f, ns, "nginx")
		g.Consistently(func(g Gomega) {
			g.Expect(changed(before, resourceVersions(g, f, ns, "nginx"))).To(BeEmpty())
		}, 5*time.Second, 250*time.Millisecond).Should(Succeed())
	}, timeout, time.Second).Should(Succeed())

	before := resourceVersions(Default, f, ns, "nginx")
	start := time.Now()
	var writes []string
	Consistently(func(g Gomega) {
		writes = append(writes, changed(before, resourceVersions(g, f, ns, "nginx"))...)
		g.Expect(writes).To(BeEmpty(), "writes %.1fs after settling", time.Since(start).Seconds())
	}, 25*time.Second, 250*time.Millisecond).Should(Succeed())
	t.Logf("%d writes in %.1fs after settling (%d objects watched)", len(writes), time.Since(start).Seconds(), len(before))
	dso := getDSO(Default, f, ns, "nginx")
	Expect(dso.Status.LastEvaluationTime).NotTo(BeNil())

	// Still evaluated: a trigger change reaches the members.
	setMetric(t, f, ns, "30")
	Eventually(func() int32 { return sum(replicas(f, ns)) }, timeout, poll).Should(BeEquivalentTo(6))
}
