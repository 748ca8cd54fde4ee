package scalers

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// versionedReader reads the ConfigMaps and Secrets that triggers reference from the API server
// only when they changed: the hub's metadata-only informers (the watches that evaluate a
// change at once) give each one's resourceVersion, and an object still at the version last
// read is answered from that read. At 1,000 objects polling every 30 s this is the difference
// between 33 GETs a second, queued behind the hub client's rate limit ahead of any change, and
// none. Only objects that triggers read are kept, within maxVersionedBytes in all.
type versionedReader struct {
	client.Reader
	versions client.Reader

	mu      sync.Mutex
	entries map[versionedKey]versionedEntry
	bytes   int
}

type versionedKey struct {
	kind string
	key  client.ObjectKey
}

type versionedEntry struct {
	version string
	obj     client.Object
	size    int
}

// maxVersionedBytes bounds the data kept; past it, entries are dropped (and read again).
const maxVersionedBytes = 32 << 20

func newVersionedReader(direct, versions client.Reader) *versionedReader {
	return &versionedReader{Reader: direct, versions: versions, entries: map[versionedKey]versionedEntry{}}
}

func (v *versionedReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	var kind string
	switch obj.(type) {
	case *corev1.ConfigMap:
		kind = KindConfigMap
	case *corev1.Secret:
		kind = KindSecret
	default:
		return v.Reader.Get(ctx, key, obj, opts...)
	}
	k := versionedKey{kind, key}
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind))
	if err := v.versions.Get(ctx, key, meta); err == nil {
		v.mu.Lock()
		e, ok := v.entries[k]
		v.mu.Unlock()
		if ok && e.version == meta.ResourceVersion {
			return copyInto(e.obj, obj)
		}
	}
	if err := v.Reader.Get(ctx, key, obj, opts...); err != nil {
		v.forget(k)
		return err
	}
	v.remember(k, obj)
	return nil
}

func copyInto(from, to client.Object) error {
	switch t := to.(type) {
	case *corev1.ConfigMap:
		from.(*corev1.ConfigMap).DeepCopyInto(t)
	case *corev1.Secret:
		from.(*corev1.Secret).DeepCopyInto(t)
	}
	return nil
}

func (v *versionedReader) remember(k versionedKey, obj client.Object) {
	size := dataSize(obj)
	if obj.GetResourceVersion() == "" || size > maxVersionedBytes/4 {
		return
	}
	cp := obj.DeepCopyObject().(client.Object)
	cp.SetManagedFields(nil)
	v.mu.Lock()
	defer v.mu.Unlock()
	if old, ok := v.entries[k]; ok {
		v.bytes -= old.size
	}
	for other, e := range v.entries {
		if v.bytes+size <= maxVersionedBytes {
			break
		}
		delete(v.entries, other)
		v.bytes -= e.size
	}
	v.entries[k] = versionedEntry{version: obj.GetResourceVersion(), obj: cp, size: size}
	v.bytes += size
}

func (v *versionedReader) forget(k versionedKey) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e, ok := v.entries[k]; ok {
		delete(v.entries, k)
		v.bytes -= e.size
	}
}

// dataSize is about what an entry holds: its keys and values.
func dataSize(obj client.Object) int {
	n := 256
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		for k, v := range o.Data {
			n += len(k) + len(v)
		}
		for k, v := range o.BinaryData {
			n += len(k) + len(v)
		}
	case *corev1.Secret:
		for k, v := range o.Data {
			n += len(k) + len(v)
		}
		for k, v := range o.StringData {
			n += len(k) + len(v)
		}
	}
	return n
}
