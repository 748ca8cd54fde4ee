package scalers

import (
	"context"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// store stands in for the two sides versionedReader joins: the API server (Get of whole
// objects, counted) and the metadata informers (versions), which may lag behind it.
type store struct {
	objects  map[client.ObjectKey]*corev1.ConfigMap
	versions map[client.ObjectKey]string
	gets     int
}

type apiSide struct{ *store }
type versionSide struct{ *store }

func (a apiSide) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	a.gets++
	cm, ok := a.objects[key]
	if !ok {
		return apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, key.Name)
	}
	cm.DeepCopyInto(obj.(*corev1.ConfigMap))
	return nil
}

func (a apiSide) List(context.Context, client.ObjectList, ...client.ListOption) error { return nil }

func (v versionSide) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	rv, ok := v.versions[key]
	if !ok {
		return apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, key.Name)
	}
	obj.(*metav1.PartialObjectMetadata).ResourceVersion = rv
	return nil
}

func (v versionSide) List(context.Context, client.ObjectList, ...client.ListOption) error { return nil }

func TestVersionedReaderReadsOnlyChangedObjects(t *testing.T) {
	key := client.ObjectKey{Namespace: "ns", Name: "metric"}
	s := &store{objects: map[client.ObjectKey]*corev1.ConfigMap{}, versions: map[client.ObjectKey]string{}}
	set := func(value, rv string, informerToo bool) {
		s.objects[key] = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "metric", ResourceVersion: rv},
			Data: map[string]string{"v": value}}
		if informerToo {
			s.versions[key] = rv
		}
	}
	r := newVersionedReader(apiSide{s}, versionSide{s})
	read := func() string {
		t.Helper()
		var cm corev1.ConfigMap
		if err := r.Get(context.Background(), key, &cm); err != nil {
			t.Fatal(err)
		}
		return cm.Data["v"]
	}

	set("20", "1", true)
	if got := read(); got != "20" || s.gets != 1 {
		t.Fatalf("first read %q with %d GETs, want 20 with 1", got, s.gets)
	}
	for range 10 {
		read()
	}
	if s.gets != 1 {
		t.Errorf("%d GETs for 10 reads of an unchanged object, want none", s.gets-1)
	}
	// Changed, and the informer has seen it: read again.
	set("50", "2", true)
	if got := read(); got != "50" || s.gets != 2 {
		t.Errorf("after a change: %q with %d GETs, want 50 with 2", got, s.gets)
	}
	// Changed, the informer not yet: the value last read stands until its event (which
	// evaluates the object again, and that read sees the new version).
	set("70", "3", false)
	if got := read(); got != "50" {
		t.Errorf("before the informer sees version 3: %q, want the 50 read at version 2", got)
	}
	s.versions[key] = "3"
	if got := read(); got != "70" {
		t.Errorf("once the informer sees version 3: %q, want 70", got)
	}
	// Deleted: not found, and nothing kept.
	delete(s.objects, key)
	s.versions[key] = "4"
	var cm corev1.ConfigMap
	if err := r.Get(context.Background(), key, &cm); !apierrors.IsNotFound(err) {
		t.Errorf("deleted: %v, want not found", err)
	}
	if len(r.entries) != 0 {
		t.Errorf("%d entries after a failed read", len(r.entries))
	}
}

// Memory is bounded whatever the objects hold: past maxVersionedBytes entries are dropped.
func TestVersionedReaderIsBounded(t *testing.T) {
	s := &store{objects: map[client.ObjectKey]*corev1.ConfigMap{}, versions: map[client.ObjectKey]string{}}
	big := strings.Repeat("x", 1<<20)
	for i := range 100 {
		key := client.ObjectKey{Namespace: "ns", Name: "cm-" + strconv.Itoa(i)}
		s.objects[key] = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: key.Name, ResourceVersion: "1"},
			Data: map[string]string{"v": big}}
		s.versions[key] = "1"
	}
	r := newVersionedReader(apiSide{s}, versionSide{s})
	for key := range s.objects {
		var cm corev1.ConfigMap
		if err := r.Get(context.Background(), key, &cm); err != nil {
			t.Fatal(err)
		}
	}
	if r.bytes > maxVersionedBytes {
		t.Errorf("%d bytes kept, want at most %d", r.bytes, maxVersionedBytes)
	}
}
