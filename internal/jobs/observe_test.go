package jobs

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func mt(s int) metav1.Time { return metav1.NewTime(at(s)) }

type jobOpt func(*batchv1.Job)

func kJob(name string, created int, opts ...jobOpt) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{
		Name: name, Namespace: "ns", UID: types.UID("uid-" + name), CreationTimestamp: mt(created),
		Labels: map[string]string{LabelTemplateHash: "h1"},
	}}
	for _, o := range opts {
		o(j)
	}
	return j
}

func condition(t batchv1.JobConditionType, s corev1.ConditionStatus, at int) jobOpt {
	return func(j *batchv1.Job) {
		j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: t, Status: s, LastTransitionTime: mt(at)})
	}
}

func completedAt(s int) jobOpt {
	return func(j *batchv1.Job) { j.Status.CompletionTime = ptr.To(mt(s)) }
}

func kPod(job *batchv1.Job, created int, phase corev1.PodPhase, conds ...corev1.PodConditionType) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: job.Name + "-pod", Namespace: job.Namespace, CreationTimestamp: mt(created),
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: job.Name, UID: job.UID, Controller: ptr.To(true)}}},
		Status: corev1.PodStatus{Phase: phase},
	}
	for _, c := range conds {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: c, Status: corev1.ConditionTrue})
	}
	return p
}

func TestObserve(t *testing.T) {
	running := kJob("running", 0)
	pendingPod := kJob("pending-pod", 0)
	noPod := kJob("no-pod", 5)
	retry := kJob("retry", 0)
	failedPod := kPod(retry, 1, corev1.PodFailed)
	failedPod.Status.ContainerStatuses = []corev1.ContainerStatus{{State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{FinishedAt: mt(40)}}}}
	conds := kJob("conditions", 0)
	other := kJob("other", 0)

	tests := []struct {
		name  string
		job   *batchv1.Job
		pods  []*corev1.Pod
		conds []string
		want  Job
	}{
		{
			name: "pod running: live, not pending",
			job:  running, pods: []*corev1.Pod{kPod(running, 1, corev1.PodRunning)},
			want: Job{Member: "m", Namespace: "ns", Name: "running", Created: at(0), Hash: "h1"},
		},
		{
			name: "pod pending: pending since the pod was created",
			job:  pendingPod, pods: []*corev1.Pod{kPod(pendingPod, 2, corev1.PodPending)},
			want: Job{Member: "m", Namespace: "ns", Name: "pending-pod", Created: at(0), Hash: "h1", Pending: true, PendingSince: at(2)},
		},
		{
			name: "no pod yet: pending since creation",
			job:  noPod,
			want: Job{Member: "m", Namespace: "ns", Name: "no-pod", Created: at(5), Hash: "h1", Pending: true, PendingSince: at(5)},
		},
		{
			name: "other Jobs' pods are ignored",
			job:  other, pods: []*corev1.Pod{kPod(running, 1, corev1.PodRunning)},
			want: Job{Member: "m", Namespace: "ns", Name: "other", Created: at(0), Hash: "h1", Pending: true, PendingSince: at(0)},
		},
		{
			name: "failed pod awaiting retry: pending since it terminated",
			job:  retry, pods: []*corev1.Pod{failedPod},
			want: Job{Member: "m", Namespace: "ns", Name: "retry", Created: at(0), Hash: "h1", Pending: true, PendingSince: at(40)},
		},
		{
			name: "pendingPodConditions all true: started",
			job:  conds, pods: []*corev1.Pod{kPod(conds, 1, corev1.PodPending, corev1.PodScheduled, corev1.PodReady)},
			conds: []string{"PodScheduled", "Ready"},
			want:  Job{Member: "m", Namespace: "ns", Name: "conditions", Created: at(0), Hash: "h1"},
		},
		{
			name: "pendingPodConditions not all true: pending even though Running",
			job:  conds, pods: []*corev1.Pod{kPod(conds, 1, corev1.PodRunning, corev1.PodScheduled)},
			conds: []string{"PodScheduled", "Ready"},
			want:  Job{Member: "m", Namespace: "ns", Name: "conditions", Created: at(0), Hash: "h1", Pending: true, PendingSince: at(1)},
		},
		{
			name: "complete: finished at completionTime",
			job:  kJob("done", 0, condition(batchv1.JobComplete, corev1.ConditionTrue, 31), completedAt(30)),
			want: Job{Member: "m", Namespace: "ns", Name: "done", Created: at(0), Hash: "h1", Result: Succeeded, Finished: at(30)},
		},
		{
			name: "failed: finished at the condition's transition",
			job:  kJob("failed", 0, condition(batchv1.JobFailed, corev1.ConditionTrue, 12)),
			want: Job{Member: "m", Namespace: "ns", Name: "failed", Created: at(0), Hash: "h1", Result: Failed, Finished: at(12)},
		},
		{
			name: "a False condition does not finish it",
			job:  kJob("not-failed", 0, condition(batchv1.JobFailed, corev1.ConditionFalse, 12)),
			want: Job{Member: "m", Namespace: "ns", Name: "not-failed", Created: at(0), Hash: "h1", Pending: true, PendingSince: at(0)},
		},
		{
			name: "failover copy being deleted",
			job: kJob("copy", 0, func(j *batchv1.Job) {
				j.Annotations = map[string]string{AnnotationFailoverOf: "m2/ns/src"}
				j.DeletionTimestamp = ptr.To(mt(9))
				delete(j.Labels, LabelTemplateHash)
			}),
			want: Job{Member: "m", Namespace: "ns", Name: "copy", Created: at(0), FailoverOf: "m2/ns/src", Deleting: true, Pending: true, PendingSince: at(0)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Observe("m", tt.job, tt.pods, tt.conds)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Observe (-want +got):\n%s", diff)
			}
		})
	}
}

func TestJobPredicates(t *testing.T) {
	tests := []struct {
		name          string
		j             Job
		live, started bool
	}{
		{"pending", Job{Pending: true}, true, false},
		{"running", Job{}, true, true},
		{"succeeded", Job{Result: Succeeded}, false, true},
		{"failed", Job{Result: Failed}, false, false},
		{"running but being deleted", Job{Deleting: true}, false, false},
	}
	for _, tt := range tests {
		if tt.j.Live() != tt.live || tt.j.Started() != tt.started {
			t.Errorf("%s: Live %v Started %v, want %v %v", tt.name, tt.j.Live(), tt.j.Started(), tt.live, tt.started)
		}
	}
}

func TestTallyCountsLiveAndPending(t *testing.T) {
	js := []Job{
		{Name: "running"},
		{Name: "pending", Pending: true},
		{Name: "deleting", Deleting: true},
		{Name: "done", Result: Succeeded},
		{Name: "failed", Result: Failed},
	}
	if got, want := *Tally(js), (Counts{Running: 2, Pending: 1}); got != want {
		t.Fatalf("Tally = %+v, want %+v", got, want)
	}
	if got := *Tally(nil); got != (Counts{}) {
		t.Fatalf("Tally(nil) = %+v, want zero", got)
	}
}
