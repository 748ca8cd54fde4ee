package distributedscaledjob_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/jobs"
	"github.com/fleetscale/fleetscale/internal/plugin"
)

// TestDeletionWaitsForUnreachableMember: deleting a DSJ deletes its Jobs where it can, keeps
// its finalizer while a member that holds Jobs is unreachable (and says so in status), and
// lets go once that member is deregistered.
func TestDeletionWaitsForUnreachableMember(t *testing.T) {
	RegisterTestingT(t)
	f := shared.Fleet(t)
	ns := namespace(t, f)
	const name = "cleanup"
	m3 := fleettest.MemberName(3)
	setMetric(t, f, ns, "2")
	apply(t, f.Hub, ns, fmt.Sprintf(`kind: DistributedScaledJob
apiVersion: keda.kedify.io/v1alpha1
metadata:
  name: %[1]s
spec:
  memberClusters:
    - name: k3d-member-2
      podOverrides:
        annotations:
          %[2]s: 300s
    - name: k3d-member-3
      podOverrides:
        annotations:
          %[2]s: 300s
  scaledJobSpec:
    triggers:
    - type: kubernetes-resource
      metadata:
        resourceKind: ConfigMap
        resourceName: mock-metric
        key: metric-value
        targetValue: "1"
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
		g.Expect(count(g, f, uid, isLive)).To(Equal([]int{0, 1, 1, 0}))
	}, timeout, poll).Should(Succeed())

	t.Log("member 3's API server stops; the DSJ is deleted")
	Expect(f.Cluster(3).Stop()).To(Succeed())
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = f.Cluster(3).Start()
		}
	})
	Eventually(func(g Gomega) {
		g.Expect(getDSJ(g, f, ns, name).Status.MemberClusterStatuses[m3].State).To(Equal(v1alpha1.MemberStateNotReady))
	}, timeout, poll).Should(Succeed())
	Expect(f.Hub.Delete(context.Background(), &v1alpha1.DistributedScaledJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})).To(Succeed())

	Eventually(func(g Gomega) {
		g.Expect(memberJobs(g, f, 2, uid)).To(BeEmpty(), "member 2's Job is deleted at once")
		dsj := getDSJ(g, f, ns, name)
		g.Expect(condition(dsj, v1alpha1.ConditionReady)).To(And(HaveField("Reason", "DeletingJobs"), HaveField("Message", ContainSubstring(m3))))
		g.Expect(dsj.Status.MemberClusterStatuses[m3].Description).To(ContainSubstring("deleting the DSJ's Jobs failed, retrying"))
	}, timeout, poll).Should(Succeed())
	Consistently(func(g Gomega) { getDSJ(g, f, ns, name) }, 3*time.Second, poll).Should(Succeed(), "the finalizer waits for member 3")

	t.Log("member 3 is deregistered: it no longer blocks the deletion")
	_, err := plugin.DeleteMember(context.Background(), plugin.DeleteOptions{Name: m3, Hub: f.Env.Hub.Config, Yes: true})
	Expect(err).NotTo(HaveOccurred())
	Eventually(func(g Gomega) {
		err := f.Hub.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &v1alpha1.DistributedScaledJob{})
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue())
	}, timeout, poll).Should(Succeed())

	t.Log("member 3 back: its orphaned Job is removed by hand, the member registered again")
	Expect(f.Cluster(3).Start()).To(Succeed())
	restarted = true
	Expect(f.Member(3).DeleteAllOf(context.Background(), &batchv1.Job{}, client.InNamespace(ns),
		client.MatchingLabels{jobs.LabelDSJUID: string(uid)}, client.PropagationPolicy(metav1.DeletePropagationBackground))).To(Succeed())
	_, err = plugin.SetupMember(context.Background(), plugin.SetupOptions{Name: m3, Hub: f.Env.Hub.Config, Member: f.Cluster(3).Config})
	Expect(err).NotTo(HaveOccurred())
}
