package distributedscaledjob_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/types"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/clusterenv"
	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/plugin"
)

// referenceExample is the DSJ built from the reference CRD's priorityFailover schema
// (api/v1alpha1/testdata), unchanged.
func referenceExample(t *testing.T) string {
	t.Helper()
	root, err := clusterenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "api", "v1alpha1", "testdata", "reference-dsj-priorityfailover.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// peerDSJ is a priorityFailover DSJ of class gpu with the given size and the reference
// example's member priorities, reading the same queue.
func peerDSJ(name string, size int) string {
	return fmt.Sprintf(`kind: DistributedScaledJob
apiVersion: keda.kedify.io/v1alpha1
metadata:
  name: %s
spec:
  memberClusters:
  - name: k3d-member-4
    scheduling: {priority: 100}
  - name: k3d-member-1
    scheduling: {priority: 50}
  clusterScheduling:
    strategy: priorityFailover
    workloadAffinity: {class: gpu, size: %d}
    failoverPolicy: {gracePeriod: 1h}
  scaledJobSpec:
    pollingInterval: 5
    maxReplicaCount: 1
    triggers:
    - name: queue
      type: kubernetes-resource
      metadata: {resourceKind: ConfigMap, resourceName: gpu-queue, key: length, targetValue: "1"}
    jobTargetRef:
      template:
        spec:
          containers:
          - name: trainer
            image: busybox
          restartPolicy: Never
`, name, size)
}

// TestPriorityFailover: the reference example's Jobs go to the highest priority (member 4,
// whose pods never start); the stuck Job is re-created on the next priority and member 4 is
// hard-tainted for class gpu; Jobs spill over while the taint holds, including those of another
// DSJ of the class with a larger workload (and not those of a smaller one), and come back to
// member 4 when it ends.
func TestPriorityFailover(t *testing.T) {
	RegisterTestingT(t)
	f := shared.Fleet(t)
	ns := namespace(t, f)
	m4 := fleettest.MemberName(4)
	apply(t, f.Hub, ns, referenceExample(t))
	var uid types.UID
	Eventually(func(g Gomega) {
		dsj := getDSJ(g, f, ns, "gpu-batch")
		uid = dsj.UID
		g.Expect(dsj.Status.Print.MembersCount).To(Equal("3/3"))
		g.Expect(condition(dsj, "Scheduling").Reason).To(Equal("PriorityFailover"))
	}, timeout, poll).Should(Succeed())
	apply(t, f.Hub, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: gpu-queue\ndata:\n  length: \"1\"\n")

	t.Log("the Job goes to the highest priority, member 4")
	Eventually(func(g Gomega) {
		g.Expect(eventNotes(g, f, ns, "gpu-batch", "JobsCreated")).To(ContainElement(HavePrefix("Created 1 Job(s): k3d-member-4=1;")))
	}, timeout, poll).Should(Succeed())

	t.Log("stuck past the 3s grace period: re-created on the next priority, member 4 hard-tainted for class gpu")
	var until time.Time
	Eventually(func(g Gomega) {
		g.Expect(eventNotes(g, f, ns, "gpu-batch", "FailedOver")).To(ContainElement(MatchRegexp(`in k3d-member-4 pending for more than 3s: re-created in k3d-member-1 as `)))
		ms := getDSJ(g, f, ns, "gpu-batch").Status.MemberClusterStatuses[m4]
		g.Expect(ms.HardTainted).To(BeTrue())
		g.Expect(ms.Excluded).To(BeTrue())
		g.Expect(ms.HardTaintScopes).To(HaveLen(1))
		sc := ms.HardTaintScopes[0]
		g.Expect(sc.Class).To(Equal("gpu"))
		g.Expect(sc.Priority).To(HaveValue(BeEquivalentTo(100)))
		g.Expect(sc.Size).To(HaveValue(BeEquivalentTo(4)))
		g.Expect(ms.Description).To(ContainSubstring(`hard-tainted for class "gpu"`))
		until = sc.Until.Time
	}, timeout, poll).Should(Succeed())
	Expect(until).To(BeTemporally("~", time.Now().Add(20*time.Second), 10*time.Second))
	Expect(eventNotes(Default, f, ns, "gpu-batch", "MemberTainted")).To(ContainElement(HavePrefix(`Member k3d-member-4 hard-tainted for workload class "gpu" at priority 100, sizes ≥ 4`)))

	t.Log("another DSJ of the class: size 8 avoids member 4 at once, size 2 still goes there")
	apply(t, f.Hub, ns, peerDSJ("bigger", 8))
	apply(t, f.Hub, ns, peerDSJ("smaller", 2))
	Eventually(func(g Gomega) {
		g.Expect(eventNotes(g, f, ns, "bigger", "JobsCreated")).To(ContainElement(HavePrefix("Created 1 Job(s): k3d-member-1=1;")))
		g.Expect(eventNotes(g, f, ns, "smaller", "JobsCreated")).To(ContainElement(HavePrefix("Created 1 Job(s): k3d-member-4=1;")))
	}, timeout, poll).Should(Succeed())
	Expect(time.Now()).To(BeTemporally("<", until), "the peers were evaluated while the taint held (slow machine?)")

	t.Log("while the taint holds, gpu-batch's new Jobs run on member 1; none is created on member 4")
	Eventually(func(g Gomega) {
		g.Expect(eventNotes(g, f, ns, "gpu-batch", "JobsCreated")).To(ContainElement(HavePrefix("Created 1 Job(s): k3d-member-1=1;")))
		g.Expect(memberJobs(g, f, 4, uid)).To(BeEmpty(), "preferFailover: the stuck original is deleted once its copy runs")
	}, timeout, poll).Should(Succeed())
	if wait := time.Until(until) - 2*time.Second; wait > 0 {
		Consistently(func(g Gomega) {
			g.Expect(memberJobs(g, f, 4, uid)).To(BeEmpty())
		}, wait, poll).Should(Succeed())
	}

	t.Log("the taint ends: Jobs go back to member 4")
	Eventually(func(g Gomega) {
		g.Expect(memberJobs(g, f, 4, uid)).NotTo(BeEmpty())
	}, timeout, poll).Should(Succeed())
	Expect(time.Now()).To(BeTemporally(">=", until))
}

// TestWhitelistRemoval: Jobs in a member removed from memberClusters are left to finish with
// rollout gradual (no new Jobs there), and deleted once the rollout strategy is default; the
// member then leaves the status.
func TestWhitelistRemoval(t *testing.T) {
	RegisterTestingT(t)
	f := shared.Fleet(t)
	ns := namespace(t, f)
	const name = "whitelist"
	m2 := fleettest.MemberName(2)
	apply(t, f.Hub, ns, fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: queue
data:
  value: "2"
---
kind: DistributedScaledJob
apiVersion: keda.kedify.io/v1alpha1
metadata:
  name: %[1]s
spec:
  memberClusters:
    - name: k3d-member-1
      podOverrides: {annotations: {%[2]s: 300s}}
    - name: k3d-member-2
      podOverrides: {annotations: {%[2]s: 300s}}
  scaledJobSpec:
    pollingInterval: 5
    rollout: {strategy: gradual}
    triggers:
    - type: kubernetes-resource
      metadata: {resourceKind: ConfigMap, resourceName: queue, key: value, targetValue: "1"}
    jobTargetRef:
      template:
        spec:
          containers:
          - name: worker
            image: busybox
          restartPolicy: Never
`, name, longJobsAnnotation))
	var uid types.UID
	Eventually(func(g Gomega) {
		uid = getDSJ(g, f, ns, name).UID
		g.Expect(count(g, f, uid, isLive)).To(Equal([]int{1, 1, 0, 0}))
	}, timeout, poll).Should(Succeed())

	t.Log("member 2 leaves the whitelist: its running Job is left to finish, no new Job goes there")
	patchDSJ(t, f, ns, name, `{"spec":{"memberClusters":[{"name":"k3d-member-1","podOverrides":{"annotations":{"`+longJobsAnnotation+`":"300s"}}}]}}`)
	Eventually(func(g Gomega) {
		dsj := getDSJ(g, f, ns, name)
		ms, ok := dsj.Status.MemberClusterStatuses[m2]
		g.Expect(ok).To(BeTrue())
		g.Expect(ms.Excluded).To(BeTrue())
		g.Expect(ms.RunningJobs).To(BeEquivalentTo(1))
		g.Expect(ms.Description).To(HavePrefix("removed from spec.memberClusters: 1 running Job(s) left to finish (rollout gradual)"))
		g.Expect(dsj.Status.Print.MembersCount).To(Equal("1/1"))
		g.Expect(eventNotes(g, f, ns, name, "MemberRemoved")).NotTo(BeEmpty())
	}, timeout, poll).Should(Succeed())
	Consistently(func(g Gomega) {
		g.Expect(count(g, f, uid, isLive)).To(Equal([]int{1, 1, 0, 0}), "the Job in member 2 still counts: nothing new is created")
	}, 6*time.Second, poll).Should(Succeed())

	t.Log("rollout default: the Job in member 2 is deleted, member 2 leaves the status")
	patchDSJ(t, f, ns, name, `{"spec":{"scaledJobSpec":{"rollout":{"strategy":"default"}}}}`)
	Eventually(func(g Gomega) {
		g.Expect(count(g, f, uid, isLive)[1]).To(BeZero())
		dsj := getDSJ(g, f, ns, name)
		g.Expect(dsj.Status.MemberClusterStatuses).NotTo(HaveKey(m2))
		g.Expect(eventNotes(g, f, ns, name, "JobsDeleted")).To(ContainElement(ContainSubstring("removed from the whitelist")))
	}, timeout, poll).Should(Succeed())
	Eventually(func(g Gomega) {
		g.Expect(count(g, f, uid, isLive)).To(Equal([]int{2, 0, 0, 0}), "the queue still asks for 2: the second runs on member 1")
	}, timeout, poll).Should(Succeed())
}

// Status fields the reference defines are filled: print.runningJobs, per-member id and
// provider, scalersTargetAverageValue, the triggers' state.
func TestStatusParity(t *testing.T) {
	RegisterTestingT(t)
	f := shared.Fleet(t)
	ns := namespace(t, f)
	apply(t, f.Hub, ns, failoverDSJ("parity", "parity-queue", "keepAll"))
	setValue(t, f, ns, "parity-queue", "0")
	var mc v1alpha1.MemberCluster
	Expect(f.Hub.Get(context.Background(), types.NamespacedName{Namespace: plugin.DefaultNamespace, Name: fleettest.MemberName(1)}, &mc)).To(Succeed())
	Eventually(func(g Gomega) {
		st := getDSJ(g, f, ns, "parity").Status
		g.Expect(st.Print.RunningJobs).To(Equal("0/0"))
		ms := st.MemberClusterStatuses[fleettest.MemberName(1)]
		g.Expect(ms.ID).To(Equal(string(mc.UID)))
		g.Expect(ms.Provider).To(Equal("kubeconfig"))
		g.Expect(ms.LastScalingProgressTime).NotTo(BeNil())
		g.Expect(st.ScalersTargetAverageValue).NotTo(BeNil())
		g.Expect(st.ScalersTargetAverageValue.String()).To(Equal("1"))
		g.Expect(st.TriggerMetricsStatus).To(HaveLen(1))
		for _, tm := range st.TriggerMetricsStatus {
			g.Expect(tm.State).To(Equal("Inactive"))
			g.Expect(tm.LastChangeTime).NotTo(BeNil())
		}
	}, timeout, poll).Should(Succeed())
}
