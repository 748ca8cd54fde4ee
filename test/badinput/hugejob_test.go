package badinput_test

import (
	"context"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/fleettest"
)

const hugeDSJ = `apiVersion: keda.kedify.io/v1alpha1
kind: DistributedScaledJob
metadata:
  name: huge
spec:
  memberClusters:
  - name: k3d-member-1
  clusterScheduling:
    failoverPolicy:
      gracePeriod: 10m
  scaledJobSpec:
    minReplicaCount: 2147483647
    maxReplicaCount: 2147483647
    pollingInterval: 300
    triggers:
    - type: kubernetes-resource
      metadata:
        resourceKind: ConfigMap
        resourceName: queue
        key: length
        targetValue: "1"
    jobTargetRef:
      template:
        spec:
          containers:
          - name: c
            image: busybox
          restartPolicy: Never
`

const otherDSO = `apiVersion: keda.kedify.io/v1alpha1
kind: DistributedScaledObject
metadata:
  name: other
spec:
  memberClusters:
  - name: k3d-member-1
  scaledObjectSpec:
    scaleTargetRef:
      name: web
    minReplicaCount: 1
    maxReplicaCount: 10
    triggers:
    - type: kubernetes-resource
      metadata:
        resourceKind: ConfigMap
        resourceName: metric
        key: value
        targetValue: "5"
`

var createdJobs = regexp.MustCompile(`^Created (\d+) Job\(s\)`)

// A DSJ with minReplicaCount = maxReplicaCount = 2³¹−1 used to make the controller allocate
// for 2³¹ Jobs and die. Now every evaluation creates at most the cap (10 here), at most one
// capped evaluation a second, the rest is reported, the controller's heap stays bounded, and
// another DSO in the same controller still follows its ConfigMap at once.
func TestHugeDSJLeavesTheControllerAlive(t *testing.T) {
	f := fleet(t)
	g := NewWithT(t)
	ctx := context.Background()
	ns := f.Namespace(t, "huge-")
	createWeb(t, f.Member(1), ns, 1)
	fleettest.Apply(t, f.Hub, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: metric\ndata:\n  value: \"20\"\n---\n"+
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: queue\ndata:\n  length: \"1\"\n---\n"+otherDSO)
	g.Eventually(func(g Gomega) { g.Expect(webReplicas(g, f.Member(1), ns)).To(Equal(int32(4))) }, timeout, poll).Should(Succeed())

	heapBefore, rssBefore := heapInUse(), rss()
	start := time.Now()
	fleettest.Apply(t, f.Hub, ns, hugeDSJ)

	// Several capped evaluations.
	g.Eventually(func(g Gomega) { g.Expect(jobCount(g, f.Member(1), ns)).To(BeNumerically(">=", 3*capPerEvaluation)) }, timeout, poll).Should(Succeed())
	g.Eventually(func(g Gomega) {
		c := condition(g, f.Hub, "DistributedScaledJob", ns, "huge", v1alpha1.ConditionReady)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Message).To(ContainSubstring("more Job(s) to create: at most 10 are created per evaluation (--max-jobs-per-evaluation), the rest in the next evaluations"))
	}, timeout, poll).Should(Succeed())

	// The other DSO still reacts to its ConfigMap: 50 / 5 → 10.
	changed := time.Now()
	fleettest.Apply(t, f.Hub, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: metric\ndata:\n  value: \"50\"\n")
	g.Eventually(func(g Gomega) { g.Expect(webReplicas(g, f.Member(1), ns)).To(Equal(int32(10))) }, timeout, poll).Should(Succeed())
	t.Logf("the other DSO reached 10 replicas %.1fs after its ConfigMap changed", time.Since(changed).Seconds())

	// Every evaluation created at most the cap, and creations were at most one capped batch a
	// second (plus the first).
	elapsed := time.Since(start)
	var evs []string
	g.Eventually(func(g Gomega) {
		evs = nil
		for _, e := range events(g, f.Hub, ns, "huge", "JobsCreated") {
			evs = append(evs, e.Note)
		}
		g.Expect(evs).NotTo(BeEmpty())
	}, timeout, poll).Should(Succeed())
	for _, note := range evs {
		m := createdJobs.FindStringSubmatch(note)
		g.Expect(m).NotTo(BeNil(), note)
		n, _ := strconv.Atoi(m[1])
		g.Expect(n).To(BeNumerically("<=", capPerEvaluation), note)
	}
	jobs := jobCount(g, f.Member(1), ns)
	g.Expect(jobs).To(BeNumerically("<=", capPerEvaluation*(int(elapsed/time.Second)+2)),
		"%d Jobs in %s: more than %d a second", jobs, elapsed, capPerEvaluation)

	// The controller's heap did not grow with the 2³¹ Jobs asked for.
	heapAfter, rssAfter := heapInUse(), rss()
	t.Logf("%d Jobs created in %s; heap in use %d → %d MiB, RSS %d → %d MiB", jobs, elapsed.Round(time.Millisecond),
		heapBefore>>20, heapAfter>>20, rssBefore>>20, rssAfter>>20)
	g.Expect(heapAfter).To(BeNumerically("<", heapBefore+256<<20), "heap grew by %d MiB", (heapAfter-heapBefore)>>20)

	// Deleting the DSJ removes its Jobs.
	dsj := &v1alpha1.DistributedScaledJob{}
	g.Expect(f.Hub.Get(ctx, client.ObjectKey{Namespace: ns, Name: "huge"}, dsj)).To(Succeed())
	g.Expect(f.Hub.Delete(ctx, dsj)).To(Succeed())
	g.Eventually(func(g Gomega) { g.Expect(jobCount(g, f.Member(1), ns)).To(BeZero()) }, timeout, poll).Should(Succeed())
}

// heapInUse is the test process's heap after a collection: the controller runs in it.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// rss is the test process's resident set, for the log.
func rss() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
