package distributedscaledjob_test

import (
	"context"
	"os"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/clusterenv"
	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/jobs"
)

// jobPodDuration is how long a Job's pod runs in the full members.
const jobPodDuration = 3 * time.Second

// Hub + 4 members, registered as k3d-member-1..4. Members 1-3 are full (controller-manager,
// scheduler, kwok: Job pods run for jobPodDuration, then the Job completes); member 4 has no
// Node, so its pods stay Pending forever (failover).
var shared = fleettest.NewShared(fleettest.Options{
	Members:        4,
	Member:         clusterenv.ClusterOptions{Full: true},
	PerMember:      map[string]clusterenv.ClusterOptions{"member-4": {Full: true, NoNode: true}},
	JobPodDuration: jobPodDuration,
})

func TestMain(m *testing.M) { os.Exit(shared.Main(m)) }

const (
	timeout = 90 * time.Second
	poll    = 200 * time.Millisecond
	// longJobs makes kwok run a pod for 300s instead of jobPodDuration.
	longJobsAnnotation = "pod-complete.stage.kwok.x-k8s.io/delay"
)

func getDSJ(g Gomega, f *fleettest.Fleet, ns, name string) *v1alpha1.DistributedScaledJob {
	var dsj v1alpha1.DistributedScaledJob
	g.Expect(f.Hub.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &dsj)).To(Succeed())
	return &dsj
}

func patchDSJ(t *testing.T, f *fleettest.Fleet, ns, name, patch string) {
	t.Helper()
	dsj := &v1alpha1.DistributedScaledJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := f.Hub.Patch(context.Background(), dsj, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		t.Fatal(err)
	}
}

// memberJobs lists the DSJ's Jobs in member i (1-based).
func memberJobs(g Gomega, f *fleettest.Fleet, i int, uid types.UID) []batchv1.Job {
	var list batchv1.JobList
	g.Expect(f.Member(i).List(context.Background(), &list, client.MatchingLabelsSelector{Selector: jobs.Selector(uid)})).To(Succeed())
	return list.Items
}

func isLive(j batchv1.Job) bool {
	if j.DeletionTimestamp != nil {
		return false
	}
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return false
		}
	}
	return true
}

func isSucceeded(j batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// count returns, per member 1..N, how many of the DSJ's Jobs satisfy keep.
func count(g Gomega, f *fleettest.Fleet, uid types.UID, keep func(batchv1.Job) bool) []int {
	out := make([]int, len(f.Members))
	for i := range f.Members {
		for _, j := range memberJobs(g, f, i+1, uid) {
			if keep(j) {
				out[i]++
			}
		}
	}
	return out
}

func total(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

// eventNotes lists the notes of events with reason on the object named name in ns.
func eventNotes(g Gomega, f *fleettest.Fleet, ns, name, reason string) []string {
	var list eventsv1.EventList
	g.Expect(f.Hub.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
	var notes []string
	for _, e := range list.Items {
		if e.Regarding.Name == name && e.Reason == reason {
			notes = append(notes, e.Note)
		}
	}
	return notes
}

func condition(dsj *v1alpha1.DistributedScaledJob, t string) metav1.Condition {
	for _, c := range dsj.Status.Conditions {
		if c.Type == t {
			return c
		}
	}
	return metav1.Condition{}
}

func namespace(t testing.TB, f *fleettest.Fleet) string { return f.Namespace(t, "dsj-") }

func apply(t testing.TB, c client.Client, ns, manifest string) { fleettest.Apply(t, c, ns, manifest) }

func walkthrough(t testing.TB, name string) string { return fleettest.Walkthrough(t, name) }

func setMetric(t testing.TB, f *fleettest.Fleet, ns, value string) { f.SetMetric(t, ns, value) }
