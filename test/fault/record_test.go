package fault_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/jobs"
)

// The records below come from informers (list + watch) on every member, so the "never below"
// and "never more than" assertions cover every write the controller made, not samples of it.
// A member whose API is down misses nothing that matters: nobody can write to it meanwhile.

// sample is one observed value of a member Deployment's spec.replicas; -1: it does not exist.
type sample struct {
	at       time.Time
	member   int // 1-based
	replicas int32
}

// replicaRecord is every change of spec.replicas of one Deployment in each member.
type replicaRecord struct {
	notifier
	samples []sample      // in the order observed
	last    map[int]int32 // member → current value
}

// recordReplicas watches Deployment name in namespace ns of every member until the test ends.
func recordReplicas(t *testing.T, f *fleettest.Fleet, ns, name string) *replicaRecord {
	t.Helper()
	r := &replicaRecord{last: map[int]int32{}}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var synced []cache.InformerSynced
	for i := range f.Members {
		member := i + 1
		add := func(obj any) {
			if d, ok := obj.(*appsv1.Deployment); ok {
				r.add(member, ptr.Deref(d.Spec.Replicas, 1))
			}
		}
		synced = append(synced, watch(ctx, f.Cluster(member).Clientset().AppsV1().RESTClient(), "deployments", ns,
			&appsv1.Deployment{}, func(o *metav1.ListOptions) { o.FieldSelector = "metadata.name=" + name },
			cache.ResourceEventHandlerFuncs{
				AddFunc:    add,
				UpdateFunc: func(_, obj any) { add(obj) },
				DeleteFunc: func(any) { r.add(member, -1) },
			}))
	}
	waitSynced(t, synced)
	return r
}

func (r *replicaRecord) add(member int, replicas int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.last[member]; ok && v == replicas {
		return
	}
	r.last[member] = replicas
	r.samples = append(r.samples, sample{at: time.Now(), member: member, replicas: replicas})
	r.broadcast()
}

// now returns the current value of each member (1-based index into the result minus one).
func (r *replicaRecord) now(members ...int) []int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]int32, len(members))
	for i, m := range members {
		out[i] = r.last[m]
	}
	return out
}

// waitFor blocks until cond holds for the current values, returning on the change that makes
// it hold, so that a test can act within milliseconds of a write.
func (r *replicaRecord) waitFor(t *testing.T, what string, cond func(now map[int]int32) bool) {
	t.Helper()
	r.notifier.waitFor(t, what, func() bool { return cond(r.last) }, r.String)
}

// timeline is the states of the given members (values in that order) after each change of
// any of them, starting with their state at from (members not seen yet count as 0).
func (r *replicaRecord) timeline(from time.Time, members ...int) (times []time.Time, states [][]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := make([]int32, len(members))
	var started bool
	for _, s := range r.samples {
		i := slices.Index(members, s.member)
		if i < 0 {
			continue
		}
		if s.at.After(from) && !started {
			times, states = append(times, from), append(states, slices.Clone(cur))
			started = true
		}
		cur[i] = s.replicas
		if started {
			times, states = append(times, s.at), append(states, slices.Clone(cur))
		}
	}
	if !started {
		times, states = append(times, from), append(states, slices.Clone(cur))
	}
	return times, states
}

// min is the least value member had at any time since from.
func (r *replicaRecord) min(member int, from time.Time) int32 {
	_, states := r.timeline(from, member)
	m := states[0][0]
	for _, s := range states {
		m = min(m, s[0])
	}
	return m
}

// changesSince lists the changes of member after from.
func (r *replicaRecord) changesSince(member int, from time.Time) []sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []sample
	for _, s := range r.samples {
		if s.member == member && s.at.After(from) {
			out = append(out, s)
		}
	}
	return out
}

// firstChange is when any of members first changed after from (zero: none did).
func (r *replicaRecord) firstChange(from time.Time, members ...int) time.Time {
	for _, s := range r.samplesSince(from) {
		if slices.Contains(members, s.member) {
			return s.at
		}
	}
	return time.Time{}
}

func (r *replicaRecord) samplesSince(from time.Time) []sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []sample
	for _, s := range r.samples {
		if s.at.After(from) {
			out = append(out, s)
		}
	}
	return out
}

// maxMoveWithin is the largest change of the sum over members between two moments less than
// window apart since from: what one rebalancing step moved at most, when window is shorter
// than the step interval.
func (r *replicaRecord) maxMoveWithin(window time.Duration, from time.Time, members ...int) int32 {
	times, states := r.timeline(from, members...)
	sums := make([]int32, len(states))
	for i, s := range states {
		for _, v := range s {
			sums[i] += max(v, 0)
		}
	}
	var most int32
	for i := range sums {
		for j := i + 1; j < len(sums) && times[j].Sub(times[i]) < window; j++ {
			d := sums[j] - sums[i]
			most = max(most, d, -d)
		}
	}
	return most
}

// String lists every recorded change, for failure messages.
func (r *replicaRecord) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := ""
	for _, x := range r.samples {
		s += fmt.Sprintf("  %s member-%d %d\n", x.at.Format("15:04:05.000"), x.member, x.replicas)
	}
	return s
}

// jobRecord is every Job of one DSJ seen in any member, and how many were live at once.
type jobRecord struct {
	notifier
	created map[types.UID]string // every Job ever seen: member/namespace/name
	live    map[types.UID]bool
	maxLive int
}

// recordJobs watches the Jobs of the DSJ with this UID in namespace ns of every member.
func recordJobs(t *testing.T, f *fleettest.Fleet, ns string, uid types.UID) *jobRecord {
	t.Helper()
	r := &jobRecord{created: map[types.UID]string{}, live: map[types.UID]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	sel := jobs.Selector(uid).String()
	var synced []cache.InformerSynced
	for i := range f.Members {
		member := fleettest.MemberName(i + 1)
		seen := func(obj any) {
			if j, ok := obj.(*batchv1.Job); ok {
				r.seen(member, j)
			}
		}
		synced = append(synced, watch(ctx, f.Cluster(i+1).Clientset().BatchV1().RESTClient(), "jobs", ns,
			&batchv1.Job{}, func(o *metav1.ListOptions) { o.LabelSelector = sel },
			cache.ResourceEventHandlerFuncs{
				AddFunc:    seen,
				UpdateFunc: func(_, obj any) { seen(obj) },
				DeleteFunc: func(obj any) {
					if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
						obj = d.Obj
					}
					if j, ok := obj.(*batchv1.Job); ok {
						r.gone(j.UID)
					}
				},
			}))
	}
	waitSynced(t, synced)
	return r
}

func (r *jobRecord) seen(member string, j *batchv1.Job) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.created[j.UID] = member + "/" + j.Namespace + "/" + j.Name
	r.live[j.UID] = jobLive(j)
	n := 0
	for _, l := range r.live {
		if l {
			n++
		}
	}
	r.maxLive = max(r.maxLive, n)
	r.broadcast()
}

func (r *jobRecord) gone(uid types.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.live, uid)
	r.broadcast()
}

// counts returns how many Jobs were ever created, how many are live now, and the most that
// were live at once.
func (r *jobRecord) counts() (created, live, maxLive int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.countsLocked()
}

func (r *jobRecord) countsLocked() (created, live, maxLive int) {
	for _, l := range r.live {
		if l {
			live++
		}
	}
	return len(r.created), live, r.maxLive
}

// waitFor blocks until cond holds for the counts, returning on the change that makes it hold.
func (r *jobRecord) waitFor(t *testing.T, what string, cond func(created, live int) bool) {
	t.Helper()
	r.notifier.waitFor(t, what, func() bool {
		created, live, _ := r.countsLocked()
		return cond(created, live)
	}, r.String)
}

// String lists every Job seen, for failure messages.
func (r *jobRecord) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := ""
	for uid, key := range r.created {
		s += fmt.Sprintf("  %s live=%v\n", key, r.live[uid])
	}
	return s
}

// jobLive is KEDA's running-or-pending Job: not finished and not being deleted.
func jobLive(j *batchv1.Job) bool {
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

// watch runs an informer on one resource of one member until ctx ends.
func watch(ctx context.Context, c cache.Getter, resource, ns string, obj runtime.Object,
	tweak func(*metav1.ListOptions), handler cache.ResourceEventHandler) cache.InformerSynced {
	inf := cache.NewSharedIndexInformer(cache.NewFilteredListWatchFromClient(c, resource, ns, tweak), obj, 0, cache.Indexers{})
	if _, err := inf.AddEventHandler(handler); err != nil {
		panic(err) // only a handler added to a stopped informer fails
	}
	go inf.Run(ctx.Done())
	return inf.HasSynced
}

func waitSynced(t *testing.T, synced []cache.InformerSynced) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		t.Fatal("the member watches did not list within the timeout")
	}
}

// notifier wakes waiters on every change of a record.
type notifier struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change
}

// broadcast must be called with mu held.
func (n *notifier) broadcast() {
	if n.changed != nil {
		close(n.changed)
	}
	n.changed = make(chan struct{})
}

// waitFor evaluates cond (with mu held) on every change until it holds, or fails the test
// after the timeout with the record's description.
func (n *notifier) waitFor(t *testing.T, what string, cond func() bool, describe func() string) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		n.mu.Lock()
		ok := cond()
		if n.changed == nil {
			n.changed = make(chan struct{})
		}
		ch := n.changed
		n.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("not within %s: %s; recorded:\n%s", timeout, what, describe())
		}
	}
}
