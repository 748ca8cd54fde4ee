package member

import (
	"context"
	"fmt"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

// GVKs of the objects a JobWatcher reports.
var (
	JobGVK = batchv1.SchemeGroupVersion.WithKind("Job")
	PodGVK = corev1.SchemeGroupVersion.WithKind("Pod")
)

// JobWatcher keeps, in each member it is asked about, a cache of the Jobs and pods that carry
// one label key (the objects a DistributedScaledJob created), and reports their changes as
// EventTargetChanged on its own channel. Only labelled objects are listed and watched, so a
// member's other Jobs and pods cost nothing; with namespaced credentials (MemberCluster
// targetNamespaces) it watches each of those namespaces. A cache lives as long as its Member:
// after an unregistration or a credential change the new Member gets a new cache.
type JobWatcher struct {
	labelKey string
	events   chan event.TypedGenericEvent[Event]

	mu     sync.Mutex
	caches map[*Member]*JobCache
}

// NewJobWatcher returns a watcher of the Jobs and pods that have the label labelKey.
func NewJobWatcher(labelKey string) *JobWatcher {
	return &JobWatcher{labelKey: labelKey, events: make(chan event.TypedGenericEvent[Event], 1024),
		caches: map[*Member]*JobCache{}}
}

// Events is the stream of changes, for one source.Channel.
func (w *JobWatcher) Events() <-chan event.TypedGenericEvent[Event] { return w.events }

// Cache returns m's cache, starting it on first use. It does not wait for the first list: a
// member that is down must not block the caller; see JobCache.Synced.
func (w *JobWatcher) Cache(m *Member) *JobCache {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c, ok := w.caches[m]; ok {
		return c
	}
	c := w.start(m)
	w.caches[m] = c
	go func() {
		<-m.ctx.Done()
		w.mu.Lock()
		delete(w.caches, m)
		w.mu.Unlock()
	}()
	return c
}

// JobCache is one member's labelled Jobs and pods.
type JobCache struct {
	started time.Time
	jobs    []toolscache.SharedIndexInformer
	pods    []toolscache.SharedIndexInformer
}

func (w *JobWatcher) start(m *Member) *JobCache {
	c := &JobCache{started: time.Now()}
	namespaces := m.targetNamespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	for _, ns := range namespaces {
		f := informers.NewSharedInformerFactoryWithOptions(m.clientset, 0, informers.WithNamespace(ns),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = w.labelKey }))
		jobs, pods := f.Batch().V1().Jobs().Informer(), f.Core().V1().Pods().Informer()
		for _, inf := range []struct {
			informer toolscache.SharedIndexInformer
			gvk      schema.GroupVersionKind
		}{{jobs, JobGVK}, {pods, PodGVK}} {
			_ = inf.informer.SetTransform(dropManagedFields)
			_, _ = inf.informer.AddEventHandler(w.forwarder(m, inf.gvk))
		}
		c.jobs = append(c.jobs, jobs)
		c.pods = append(c.pods, pods)
		f.Start(m.ctx.Done())
	}
	return c
}

func (w *JobWatcher) forwarder(m *Member, gvk schema.GroupVersionKind) toolscache.ResourceEventHandler {
	forward := func(o any) {
		if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
			o = d.Obj
		}
		mo, ok := o.(metav1.Object)
		if !ok {
			return
		}
		e := Event{Type: EventTargetChanged, Member: m.name, GVK: gvk, Namespace: mo.GetNamespace(), Name: mo.GetName(), Labels: mo.GetLabels()}
		select {
		case w.events <- event.TypedGenericEvent[Event]{Object: e}:
		case <-m.ctx.Done():
		}
	}
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    forward,
		UpdateFunc: func(_, n any) { forward(n) },
		DeleteFunc: forward,
	}
}

// dropManagedFields keeps the cache small; nothing reads managed fields.
func dropManagedFields(o any) (any, error) {
	if mo, ok := o.(metav1.Object); ok {
		mo.SetManagedFields(nil)
	}
	return o, nil
}

// Started is when the cache was started.
func (c *JobCache) Started() time.Time { return c.started }

// Synced reports whether the first list of every informer has completed.
func (c *JobCache) Synced() bool {
	for _, inf := range append(append([]toolscache.SharedIndexInformer(nil), c.jobs...), c.pods...) {
		if !inf.HasSynced() {
			return false
		}
	}
	return true
}

// Jobs returns the cached Jobs that match sel. They are shared with the cache: do not modify.
func (c *JobCache) Jobs(sel labels.Selector) []*batchv1.Job {
	var out []*batchv1.Job
	for _, inf := range c.jobs {
		for _, o := range inf.GetStore().List() {
			if j, ok := o.(*batchv1.Job); ok && sel.Matches(labels.Set(j.Labels)) {
				out = append(out, j)
			}
		}
	}
	return out
}

// Pods returns the cached pods that match sel. They are shared with the cache: do not modify.
func (c *JobCache) Pods(sel labels.Selector) []*corev1.Pod {
	var out []*corev1.Pod
	for _, inf := range c.pods {
		for _, o := range inf.GetStore().List() {
			if p, ok := o.(*corev1.Pod); ok && sel.Matches(labels.Set(p.Labels)) {
				out = append(out, p)
			}
		}
	}
	return out
}

// ListJobs lists the Jobs that match sel from the member's API server (not a cache), in every
// namespace its credentials allow, bounded by the member's timeout. Use it where a Job created a
// moment ago must not be missed, e.g. before releasing a finalizer.
func (m *Member) ListJobs(ctx context.Context, sel labels.Selector) ([]batchv1.Job, error) {
	ctx, cancel := m.CallContext(ctx)
	defer cancel()
	namespaces := m.targetNamespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	var out []batchv1.Job
	for _, ns := range namespaces {
		list, err := m.clientset.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return nil, fmt.Errorf("list Jobs in member %s: %w", m.name, err)
		}
		out = append(out, list.Items...)
	}
	return out, nil
}
