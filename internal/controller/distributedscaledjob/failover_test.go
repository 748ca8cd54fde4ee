package distributedscaledjob_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/jobs"
)

// failoverDSJ spreads Jobs over member 1 (full) and member 4 (no Node: pods never start).
func failoverDSJ(name, configMap, duplication string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: %[2]s
data:
  value: "0"
---
kind: DistributedScaledJob
apiVersion: keda.kedify.io/v1alpha1
metadata:
  name: %[1]s
spec:
  memberClusters:
    - name: k3d-member-1
    - name: k3d-member-4
  clusterScheduling:
    failoverPolicy:
      gracePeriod: 3s
      softTaintDuration: 2m
      hardTaintDuration: 5m
      duplicationPolicy: %[3]s
  scaledJobSpec:
    pollingInterval: 5
    successfulJobsHistoryLimit: 1
    failedJobsHistoryLimit: 1
    triggers:
    - type: kubernetes-resource
      metadata:
        resourceKind: ConfigMap
        resourceName: %[2]s
        key: value
        targetValue: "1"
    jobTargetRef:
      backoffLimit: 0
      template:
        spec:
          containers:
          - name: worker
            image: busybox
          restartPolicy: Never
`, name, configMap, duplication)
}

func setValue(t *testing.T, f *fleettest.Fleet, ns, configMap, value string) {
	t.Helper()
	apply(t, f.Hub, ns, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  value: %q\n", configMap, value))
}

// TestFailover: a member whose pods never start has its Jobs re-created on the other member
// and is tainted. "soft" gets one Job on member 4 (value 2, round-robin member 1 then 4):
// one failover, a soft taint, and with preferFailover the stuck original is deleted once its
// copy runs. "hard" gets two Jobs there (value 4): the second failover while the member is
// already tainted makes the taint hard.
func TestFailover(t *testing.T) {
	RegisterTestingT(t)
	f := shared.Fleet(t)
	ns := namespace(t, f)
	m4 := fleettest.MemberName(4)
	apply(t, f.Hub, ns, failoverDSJ("soft", "soft-queue", "preferFailover"))
	apply(t, f.Hub, ns, failoverDSJ("hard", "hard-queue", "keepAll"))
	var softUID, hardUID types.UID
	Eventually(func(g Gomega) {
		softUID, hardUID = getDSJ(g, f, ns, "soft").UID, getDSJ(g, f, ns, "hard").UID
		g.Expect(getDSJ(g, f, ns, "soft").Status.Print.MembersCount).To(Equal("2/2"))
		g.Expect(getDSJ(g, f, ns, "hard").Status.Print.MembersCount).To(Equal("2/2"))
	}, timeout, poll).Should(Succeed())
	setValue(t, f, ns, "soft-queue", "2")
	setValue(t, f, ns, "hard-queue", "4")

	Eventually(func(g Gomega) {
		g.Expect(eventNotes(g, f, ns, "soft", "JobsCreated")).To(ContainElement(HavePrefix("Created 2 Job(s): k3d-member-1=1, k3d-member-4=1;")))
		g.Expect(eventNotes(g, f, ns, "hard", "JobsCreated")).To(ContainElement(HavePrefix("Created 4 Job(s): k3d-member-1=2, k3d-member-4=2;")))
	}, timeout, poll).Should(Succeed())

	t.Log("soft: the stuck Job is re-created on member 1, member 4 is soft-tainted, the original is deleted once the copy runs")
	Eventually(func(g Gomega) {
		g.Expect(eventNotes(g, f, ns, "soft", "FailedOver")).To(ContainElement(
			MatchRegexp(`^Job \S+ in k3d-member-4 pending for more than 3s: re-created in k3d-member-1 as `)))
		g.Expect(eventNotes(g, f, ns, "soft", "MemberTainted")).To(ContainElement(HavePrefix("Member k3d-member-4 soft-tainted until")))
		g.Expect(eventNotes(g, f, ns, "soft", "JobsDeleted")).To(ContainElement(ContainSubstring("failover duplicate")))
		dsj := getDSJ(g, f, ns, "soft")
		ms := dsj.Status.MemberClusterStatuses[m4]
		g.Expect(ms.SoftTainted).To(BeTrue())
		g.Expect(ms.HardTainted).To(BeFalse())
		g.Expect(ms.SoftTaintedUntil).NotTo(BeNil())
		g.Expect(ms.SoftTaintedUntil.Time).To(BeTemporally("~", time.Now().Add(2*time.Minute), 30*time.Second))
		g.Expect(ms.Description).To(ContainSubstring("soft-tainted until"))
		g.Expect(dsj.Status.Print.MembersCount).To(Equal("1/2"))
		g.Expect(count(g, f, softUID, isLive)[3]).To(BeZero(), "the stuck original is gone from member 4")
		var copies []string
		for _, j := range memberJobs(g, f, 1, softUID) {
			if src := j.Annotations[jobs.AnnotationFailoverOf]; src != "" {
				copies = append(copies, src)
			}
		}
		g.Expect(copies).To(ContainElement(HavePrefix(m4 + "/" + ns + "/soft-")))
	}, timeout, poll).Should(Succeed())

	t.Log("soft: while tainted, member 4 gets no new Jobs; member 1 keeps running 2")
	Consistently(func(g Gomega) {
		g.Expect(count(g, f, softUID, isLive)[3]).To(BeZero())
	}, 2*jobPodDuration, poll).Should(Succeed())
	Eventually(func(g Gomega) {
		g.Expect(count(g, f, softUID, isLive)[0]).To(Equal(2))
	}, timeout, poll).Should(Succeed())

	t.Log("hard: two Jobs fail over; the second while member 4 is tainted makes it hard; keepAll keeps the originals")
	Eventually(func(g Gomega) {
		g.Expect(eventNotes(g, f, ns, "hard", "FailedOver")).To(HaveLen(2))
		g.Expect(eventNotes(g, f, ns, "hard", "MemberTainted")).To(ContainElement(HavePrefix("Member k3d-member-4 hard-tainted until")))
		ms := getDSJ(g, f, ns, "hard").Status.MemberClusterStatuses[m4]
		g.Expect(ms.HardTainted).To(BeTrue())
		g.Expect(ms.SoftTainted).To(BeFalse())
		g.Expect(ms.StuckJobs).To(BeEquivalentTo(2), "keepAll: the stuck originals stay")
		g.Expect(ms.HardTaintedUntil.Time).To(BeTemporally("~", time.Now().Add(5*time.Minute), 30*time.Second))
	}, timeout, poll).Should(Succeed())

	t.Log("deleting the DSJs deletes their Jobs, pending ones included")
	for _, name := range []string{"soft", "hard"} {
		Expect(f.Hub.Delete(context.Background(), &v1alpha1.DistributedScaledJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})).To(Succeed())
	}
	Eventually(func(g Gomega) {
		for _, uid := range []types.UID{softUID, hardUID} {
			g.Expect(count(g, f, uid, func(batchv1.Job) bool { return true })).To(Equal([]int{0, 0, 0, 0}))
		}
	}, timeout, poll).Should(Succeed())
}
