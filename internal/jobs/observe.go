package jobs

import (
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Result says how a Job ended.
type Result string

// Results.
const (
	Unfinished Result = ""
	Succeeded  Result = "Succeeded"
	Failed     Result = "Failed"
)

// Job is one Job of a DSJ as the evaluation sees it.
type Job struct {
	Member    string
	Namespace string
	Name      string
	Created   time.Time
	// Hash is the job's LabelTemplateHash ("" when missing: outdated).
	Hash string
	// FailoverOf is the Key of the Job this one is a failover copy of; "" for others.
	FailoverOf string
	// Deleting: the Job has a deletionTimestamp (it is going away, e.g. foreground deletion).
	Deleting bool
	Result   Result
	// Finished is when the Job finished (status.completionTime, else its Complete/Failed
	// condition's transition, else its creation); zero while unfinished.
	Finished time.Time
	// Pending is KEDA's rule for an unfinished Job: no pod Running or Succeeded, or, with
	// pendingPodConditions, no pod with all of them True.
	Pending bool
	// PendingSince is when the Job last had a chance to start: the later of its creation and
	// the newest activity of its pods (a pod's creation or a container's termination).
	PendingSince time.Time
}

// Key names a Job across the fleet: "member/namespace/name".
func Key(member, namespace, name string) string { return member + "/" + namespace + "/" + name }

// Key returns Key(j.Member, j.Namespace, j.Name).
func (j Job) Key() string { return Key(j.Member, j.Namespace, j.Name) }

// Live is KEDA's "running": not finished. A Job being deleted is not live either.
func (j Job) Live() bool { return j.Result == Unfinished && !j.Deleting }

// Started: a pod of the Job has started (it is live and not pending) or it succeeded.
func (j Job) Started() bool { return (j.Live() && !j.Pending) || j.Result == Succeeded }

// stuckAt is when a pending Job becomes stuck.
func (j Job) stuckAt(grace time.Duration) time.Time { return j.PendingSince.Add(grace) }

// Observe turns a Job of member and the pods it may own into a Job. pods may include other
// Jobs' pods: only those the Job controls are looked at. KEDA's rules
// (pkg/scaling/executor/scale_jobs.go): finished = a Complete or Failed condition that is True;
// pending = unfinished and no pod Running or Succeeded, or, when pendingPodConditions is set,
// no pod with all of those conditions True.
func Observe(member string, job *batchv1.Job, pods []*corev1.Pod, pendingPodConditions []string) Job {
	j := Job{
		Member:     member,
		Namespace:  job.Namespace,
		Name:       job.Name,
		Created:    job.CreationTimestamp.Time,
		Hash:       job.Labels[LabelTemplateHash],
		FailoverOf: job.Annotations[AnnotationFailoverOf],
		Deleting:   job.DeletionTimestamp != nil,
	}
	j.Result, j.Finished = finished(job)
	if j.Result != Unfinished {
		return j
	}
	owned := ownedPods(job, pods)
	j.Pending = true
	j.PendingSince = j.Created
	for _, p := range owned {
		if podStarted(p, pendingPodConditions) {
			j.Pending = false
		}
		if t := podLastActivity(p); t.After(j.PendingSince) {
			j.PendingSince = t
		}
	}
	if !j.Pending {
		j.PendingSince = time.Time{}
	}
	return j
}

func finished(job *batchv1.Job) (Result, time.Time) {
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return Succeeded, firstSet(job.Status.CompletionTime, &c.LastTransitionTime, &job.CreationTimestamp)
		case batchv1.JobFailed:
			return Failed, firstSet(&c.LastTransitionTime, &job.CreationTimestamp)
		}
	}
	return Unfinished, time.Time{}
}

func firstSet(ts ...*metav1.Time) time.Time {
	for _, t := range ts {
		if t != nil && !t.IsZero() {
			return t.Time
		}
	}
	return time.Time{}
}

func ownedPods(job *batchv1.Job, pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if ref := metav1.GetControllerOf(p); ref != nil && ref.UID == job.UID && p.Namespace == job.Namespace {
			out = append(out, p)
		}
	}
	return out
}

func podStarted(p *corev1.Pod, pendingPodConditions []string) bool {
	if len(pendingPodConditions) == 0 {
		return p.Status.Phase == corev1.PodRunning || p.Status.Phase == corev1.PodSucceeded
	}
	for _, want := range pendingPodConditions {
		ok := false
		for _, c := range p.Status.Conditions {
			if string(c.Type) == want && c.Status == corev1.ConditionTrue {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// podLastActivity is the pod's creation or the latest termination of one of its containers: a
// Job whose pod failed and is waiting for a retry has been pending only since then.
func podLastActivity(p *corev1.Pod) time.Time {
	t := p.CreationTimestamp.Time
	for _, cs := range p.Status.ContainerStatuses {
		if term := cs.State.Terminated; term != nil && term.FinishedAt.After(t) {
			t = term.FinishedAt.Time
		}
	}
	return t
}

// Tally counts the live Jobs of js and, of those, the pending ones: what a member that cannot
// be read now last ran (Member.LastKnown).
func Tally(js []Job) *Counts {
	c := &Counts{}
	for _, j := range js {
		if j.Live() {
			c.Running++
			if j.Pending {
				c.Pending++
			}
		}
	}
	return c
}
