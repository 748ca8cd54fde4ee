package distributedscaledjob_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/plugin"
)

// quietDSJ is the walkthrough's DSJ polled every second, whose Jobs' pods run for ten minutes.
const quietDSJ = `apiVersion: v1
kind: ConfigMap
metadata:
  name: mock-metric
data:
  metric-value: "20"
---
kind: DistributedScaledJob
apiVersion: keda.kedify.io/v1alpha1
metadata:
  name: quiet
spec:
  memberClusters:
    - name: k3d-member-1
    - name: k3d-member-2
  scaledJobSpec:
    maxReplicaCount: 10
    pollingInterval: 1
    triggers:
    - type: kubernetes-resource
      metadata:
        resourceKind: ConfigMap
        resourceName: mock-metric
        key: metric-value
        targetValue: "5"
    jobTargetRef:
      backoffLimit: 0
      template:
        metadata:
          annotations:
            pod-complete.stage.kwok.x-k8s.io/delay: 600s
        spec:
          containers:
          - name: busybox
            image: busybox
          restartPolicy: Never
`

// dsjResourceVersions is the resourceVersion of the DSJ, every MemberCluster and every Job of
// the DSJ in the members.
func dsjResourceVersions(g Gomega, f *fleettest.Fleet, ns, name string, uid types.UID) map[string]string {
	out := map[string]string{"dsj": getDSJ(g, f, ns, name).ResourceVersion}
	var mcs v1alpha1.MemberClusterList
	g.Expect(f.Hub.List(context.Background(), &mcs, client.InNamespace(plugin.DefaultNamespace))).To(Succeed())
	for _, mc := range mcs.Items {
		out["membercluster/"+mc.Name] = mc.ResourceVersion
	}
	for i := range f.Members {
		for _, j := range memberJobs(g, f, i+1, uid) {
			out[fmt.Sprintf("member-%d/job/%s", i+1, j.Name)] = j.ResourceVersion
		}
	}
	return out
}

func changes(before, after map[string]string) []string {
	var out []string
	for k, v := range after {
		if before[k] != v {
			out = append(out, fmt.Sprintf("%s %s → %s", k, before[k], v))
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			out = append(out, k+" deleted")
		}
	}
	sort.Strings(out)
	return out
}

// TestQuietWhenSettled: once a DSJ's Jobs run, evaluations every second that find the same
// write nothing: no resourceVersion of the DSJ, of a MemberCluster or of one of its Jobs moves
// for 25 s, while the trigger stays active. A change is still acted upon.
func TestQuietWhenSettled(t *testing.T) {
	RegisterTestingT(t)
	f := shared.Fleet(t)
	ns := namespace(t, f)
	apply(t, f.Hub, ns, quietDSJ)
	var uid types.UID
	Eventually(func(g Gomega) { uid = getDSJ(g, f, ns, "quiet").UID }, timeout, poll).Should(Succeed())
	Eventually(func(g Gomega) {
		dsj := getDSJ(g, f, ns, "quiet")
		g.Expect(dsj.Status.RunningJobs).To(BeEquivalentTo(4))
		g.Expect(dsj.Status.PendingJobs).To(BeZero())
		g.Expect(condition(dsj, v1alpha1.ConditionActive).Status).To(BeEquivalentTo("True"))
	}, timeout, poll).Should(Succeed())
	Eventually(func(g Gomega) {
		before := dsjResourceVersions(g, f, ns, "quiet", uid)
		g.Consistently(func(g Gomega) {
			g.Expect(changes(before, dsjResourceVersions(g, f, ns, "quiet", uid))).To(BeEmpty())
		}, 5*time.Second, 250*time.Millisecond).Should(Succeed())
	}, timeout, time.Second).Should(Succeed())

	before := dsjResourceVersions(Default, f, ns, "quiet", uid)
	start := time.Now()
	var writes []string
	Consistently(func(g Gomega) {
		writes = append(writes, changes(before, dsjResourceVersions(g, f, ns, "quiet", uid))...)
		g.Expect(writes).To(BeEmpty(), "writes %.1fs after settling", time.Since(start).Seconds())
	}, 25*time.Second, 250*time.Millisecond).Should(Succeed())
	t.Logf("%d writes in %.1fs after settling (%d objects watched)", len(writes), time.Since(start).Seconds(), len(before))

	setMetric(t, f, ns, "30")
	Eventually(func(g Gomega) { g.Expect(total(count(g, f, uid, isLive))).To(Equal(6)) }, timeout, poll).Should(Succeed())
}
