package distributedscaledjob_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/jobs"
)

// TestWalkthroughStep9 replays step 9 of the seed walkthrough (the manifest verbatim) against
// real clusters, then drives the DSJ through scale-up, history, a gradual and a default
// rollout, a broken trigger and deletion.
func TestWalkthroughStep9(t *testing.T) {
	RegisterTestingT(t)
	f := shared.Fleet(t)
	ns := namespace(t, f)
	const name = "dsj-example"
	notMembers12 := func(g Gomega, uid types.UID) {
		all := count(g, f, uid, func(batchv1.Job) bool { return true })
		g.Expect(all[2]).To(BeZero(), "member 3 is not whitelisted")
		g.Expect(all[3]).To(BeZero(), "member 4 is not whitelisted")
	}

	t.Log("step 9: metric 20, target 5 → 4 Jobs over members 1 and 2")
	apply(t, f.Hub, ns, walkthrough(t, "walkthrough-step9.yaml"))
	var uid types.UID
	Eventually(func(g Gomega) { uid = getDSJ(g, f, ns, name).UID }, timeout, poll).Should(Succeed())
	Eventually(func(g Gomega) {
		g.Expect(eventNotes(g, f, ns, name, "JobsCreated")).To(ContainElement(HavePrefix("Created 4 Job(s): k3d-member-1=2, k3d-member-2=2;")))
	}, timeout, poll).Should(Succeed())
	Eventually(func(g Gomega) {
		dsj := getDSJ(g, f, ns, name)
		g.Expect(dsj.Status.Print.Jobs).To(Equal("4/4"))
		g.Expect(dsj.Status.Print.MembersCount).To(Equal("2/2"))
		g.Expect(dsj.Spec.DesiredJobs).To(HaveValue(BeEquivalentTo(4)), "desired Jobs are mirrored into /scale")
		g.Expect(condition(dsj, v1alpha1.ConditionReady).Status).To(BeEquivalentTo("True"))
		g.Expect(condition(dsj, v1alpha1.ConditionActive).Status).To(BeEquivalentTo("True"))
		g.Expect(condition(dsj, v1alpha1.ConditionPaused).Status).To(BeEquivalentTo("False"))
		g.Expect(condition(dsj, v1alpha1.ConditionReady).ObservedGeneration).To(Equal(dsj.Generation))
		g.Expect(dsj.Status.Selector).To(Equal(jobs.LabelDSJUID + "=" + string(uid)))
		g.Expect(dsj.Status.TriggerMetricsStatus).To(HaveKeyWithValue("s0-configmap-mock-metric-metric-value",
			And(HaveField("Value", "20"), HaveField("Target", "5"), HaveField("Active", true))))
		g.Expect(dsj.Status.MemberClusterStatuses).To(HaveLen(2))
		g.Expect(dsj.Status.LastActiveTime).NotTo(BeNil())
		live := count(g, f, uid, isLive)
		g.Expect(total(live)).To(Equal(4))
		notMembers12(g, uid)
	}, timeout, poll).Should(Succeed())

	t.Log("Jobs complete (pods run 3s); finished Jobs beyond the history limit of 2 are removed, across both members")
	Eventually(func(g Gomega) {
		g.Expect(eventNotes(g, f, ns, name, "JobsDeleted")).To(ContainElement(ContainSubstring("finished beyond the history limits")))
		done := total(count(g, f, uid, func(j batchv1.Job) bool { return isSucceeded(j) && j.DeletionTimestamp == nil }))
		g.Expect(done).To(BeNumerically(">=", 1))
		g.Expect(done).To(BeNumerically("<=", 2))
	}, timeout, poll).Should(Succeed())

	t.Log("metric 100 → more Jobs, up to maxReplicaCount 10")
	setMetric(t, f, ns, "100")
	most := 0
	Eventually(func(g Gomega) {
		live := total(count(g, f, uid, isLive))
		most = max(most, live)
		g.Expect(live).To(Equal(10))
		notMembers12(g, uid)
	}, timeout, poll).Should(Succeed())
	Expect(most).To(BeNumerically("<=", 10), "never more than maxReplicaCount")

	t.Log("gradual rollout: long-running Jobs of a new template replace the short ones as they finish")
	var first string
	Eventually(func(g Gomega) {
		for _, j := range memberJobs(g, f, 1, uid) {
			first = j.Labels[jobs.LabelTemplateHash]
		}
		g.Expect(first).NotTo(BeEmpty())
	}, timeout, poll).Should(Succeed())
	patchDSJ(t, f, ns, name, longJobs("300s"))
	long := ""
	Eventually(func(g Gomega) {
		hashes := liveHashes(g, f, uid)
		g.Expect(hashes).To(HaveLen(1))
		for h, n := range hashes {
			g.Expect(h).NotTo(Equal(first))
			g.Expect(n).To(Equal(10))
			long = h
		}
	}, timeout, poll).Should(Succeed())

	t.Log("gradual rollout: a template change leaves the old Jobs running (no room for new ones at max)")
	patchDSJ(t, f, ns, name, longJobs("301s"))
	Eventually(func(g Gomega) {
		dsj := getDSJ(g, f, ns, name)
		g.Expect(condition(dsj, v1alpha1.ConditionReady).ObservedGeneration).To(Equal(dsj.Generation))
	}, timeout, poll).Should(Succeed())
	Consistently(func(g Gomega) {
		g.Expect(liveHashes(g, f, uid)).To(Equal(map[string]int{long: 10}))
	}, 3*time.Second, poll).Should(Succeed())

	t.Log("a broken trigger deletes no running Job and creates none")
	setMetric(t, f, ns, "not-a-number")
	Eventually(func(g Gomega) {
		dsj := getDSJ(g, f, ns, name)
		g.Expect(condition(dsj, v1alpha1.ConditionReady)).To(And(HaveField("Status", metav1.ConditionFalse), HaveField("Reason", "TriggerError")))
		g.Expect(dsj.Status.TriggerMetricsStatus["s0-configmap-mock-metric-metric-value"].Error).NotTo(BeEmpty())
	}, timeout, poll).Should(Succeed())
	Consistently(func(g Gomega) {
		g.Expect(liveHashes(g, f, uid)).To(Equal(map[string]int{long: 10}))
	}, 2*time.Second, poll).Should(Succeed())
	setMetric(t, f, ns, "100")

	t.Log("default rollout: the outdated Jobs are deleted (foreground) and replaced by the current template")
	patchDSJ(t, f, ns, name, `{"spec":{"scaledJobSpec":{"rollout":{"strategy":"default"}}}}`)
	Eventually(func(g Gomega) {
		hashes := liveHashes(g, f, uid)
		g.Expect(hashes).NotTo(HaveKey(long))
		g.Expect(hashes).To(HaveLen(1))
		for _, n := range hashes {
			g.Expect(n).To(Equal(10))
		}
		g.Expect(eventNotes(g, f, ns, name, "JobsDeleted")).To(ContainElement(ContainSubstring("10 outdated (rollout)")))
		notMembers12(g, uid)
	}, timeout, poll).Should(Succeed())

	t.Log("deleting the DSJ deletes its Jobs in the members")
	dsj := &v1alpha1.DistributedScaledJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	Expect(f.Hub.Delete(context.Background(), dsj)).To(Succeed())
	Eventually(func(g Gomega) {
		err := f.Hub.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, dsj)
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "finalizer released")
		g.Expect(count(g, f, uid, func(batchv1.Job) bool { return true })).To(Equal([]int{0, 0, 0, 0}))
	}, timeout, poll).Should(Succeed())
}

// longJobs is a merge patch giving the pods of both members a kwok run time, through
// podOverrides: a change of the Jobs' template in each member.
func longJobs(d string) string {
	ov := `{"annotations":{"` + longJobsAnnotation + `":"` + d + `"}}`
	return `{"spec":{"memberClusters":[{"name":"k3d-member-1","podOverrides":` + ov + `},{"name":"k3d-member-2","podOverrides":` + ov + `}]}}`
}

// liveHashes counts the live Jobs of the DSJ in all members by template hash.
func liveHashes(g Gomega, f *fleettest.Fleet, uid types.UID) map[string]int {
	out := map[string]int{}
	for i := range f.Members {
		for _, j := range memberJobs(g, f, i+1, uid) {
			if isLive(j) {
				out[j.Labels[jobs.LabelTemplateHash]]++
			}
		}
	}
	return out
}
