package member

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes/fake"
)

const testLabel = "example.com/owner"

func labelledJob(ns, name, owner string) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if owner != "" {
		j.Labels = map[string]string{testLabel: owner}
	}
	return j
}

// fakeMember is a Member backed by a fake clientset, enough for the JobWatcher.
func fakeMember(t *testing.T, namespaces []string, objs ...any) (*Member, *fake.Clientset) {
	t.Helper()
	cs := fake.NewClientset()
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *batchv1.Job:
			_, err = cs.BatchV1().Jobs(o.Namespace).Create(context.Background(), o, metav1.CreateOptions{})
		case *corev1.Pod:
			_, err = cs.CoreV1().Pods(o.Namespace).Create(context.Background(), o, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	m := &Member{memberConfig: memberConfig{name: "m1", targetNamespaces: namespaces, opts: Options{CallTimeout: 5 * time.Second}},
		clientset: cs, ctx: ctx, cancel: cancel}
	return m, cs
}

func waitSynced(t *testing.T, c *JobCache) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !c.Synced() {
		if time.Now().After(deadline) {
			t.Fatal("cache did not sync")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestJobWatcherCachesLabelledJobsAndPods(t *testing.T) {
	m, cs := fakeMember(t, nil,
		labelledJob("a", "mine", "dsj-1"), labelledJob("b", "other-dsj", "dsj-2"), labelledJob("a", "unlabelled", ""),
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "mine-pod", Labels: map[string]string{testLabel: "dsj-1"}}})
	w := NewJobWatcher(testLabel)
	c := w.Cache(m)
	if w.Cache(m) != c {
		t.Fatal("Cache is not idempotent")
	}
	waitSynced(t, c)

	sel := labels.SelectorFromSet(labels.Set{testLabel: "dsj-1"})
	if got := c.Jobs(sel); len(got) != 1 || got[0].Name != "mine" {
		t.Errorf("Jobs = %v, want [mine]", got)
	}
	if got := c.Jobs(labels.Everything()); len(got) != 2 {
		t.Errorf("the cache holds %d Jobs, want the 2 labelled ones", len(got))
	}
	if got := c.Pods(sel); len(got) != 1 || got[0].Name != "mine-pod" {
		t.Errorf("Pods = %v", got)
	}

	// A change is reported with the object's labels.
	drain(w)
	if _, err := cs.BatchV1().Jobs("a").Create(context.Background(), labelledJob("a", "new", "dsj-1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-w.Events():
		if e.Object.Type != EventTargetChanged || e.Object.Member != "m1" || e.Object.GVK != JobGVK || e.Object.Name != "new" || e.Object.Labels[testLabel] != "dsj-1" {
			t.Errorf("event %+v", e.Object)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event for a new Job")
	}

	list, err := m.ListJobs(context.Background(), sel)
	if err != nil || len(list) != 2 {
		t.Errorf("ListJobs = %d Jobs, %v; want mine and new", len(list), err)
	}

	// The cache goes with its member.
	m.cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		w.mu.Lock()
		n := len(w.caches)
		w.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the cache of a closed member is kept")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestJobWatcherNamespacedMember(t *testing.T) {
	m, _ := fakeMember(t, []string{"a", "c"},
		labelledJob("a", "in-a", "x"), labelledJob("b", "in-b", "x"), labelledJob("c", "in-c", "x"))
	w := NewJobWatcher(testLabel)
	c := w.Cache(m)
	waitSynced(t, c)
	names := map[string]bool{}
	for _, j := range c.Jobs(labels.Everything()) {
		names[j.Name] = true
	}
	if len(names) != 2 || !names["in-a"] || !names["in-c"] {
		t.Errorf("cached %v, want the Jobs of namespaces a and c", names)
	}
	list, err := m.ListJobs(context.Background(), labels.Everything())
	if err != nil || len(list) != 2 {
		t.Errorf("ListJobs = %d Jobs, %v; want 2", len(list), err)
	}
}

func drain(w *JobWatcher) {
	for {
		select {
		case <-w.Events():
		case <-time.After(200 * time.Millisecond):
			return
		}
	}
}
