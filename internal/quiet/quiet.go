// Package quiet keeps the controllers silent when nothing changed: an evaluation whose status
// differs from the stored one only in bookkeeping (timestamps that move on every evaluation,
// the HPA's recommendation history) is not written; what it computed is remembered in process
// and used as the previous status of the next evaluation, until a real change writes it all.
//
// The remembered status is trusted only while the stored status is still the one it was
// computed from (compared as JSON, so the second-resolution timestamps of the stored object
// compare equal to what was read): a status written by someone else (another shard, a previous
// leader, a user) wins over memory.
package quiet

import (
	"encoding/json"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Memory remembers, per object, a computed status S that was not written and the stored status
// it was computed from. Safe for concurrent use.
type Memory[S any] struct {
	once    sync.Once
	mu      sync.Mutex
	started time.Time
	entries map[types.NamespacedName]entry[S]
}

type entry[S any] struct {
	basis    []byte
	computed S
}

func (m *Memory[S]) init() {
	m.once.Do(func() {
		m.started = time.Now()
		m.entries = map[types.NamespacedName]entry[S]{}
	})
}

// Started is when this memory was first used (the process's first evaluation): an object with
// nothing remembered may have stale bookkeeping in its stored status from before it.
func (m *Memory[S]) Started() time.Time {
	m.init()
	return m.started
}

// Recall returns the status remembered for key when stored is still the status it was computed
// from; otherwise it forgets key and returns false.
func (m *Memory[S]) Recall(key types.NamespacedName, stored *S) (S, bool) {
	m.init()
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok {
		var zero S
		return zero, false
	}
	if b, err := json.Marshal(stored); err != nil || string(b) != string(e.basis) {
		delete(m.entries, key)
		var zero S
		return zero, false
	}
	return e.computed, true
}

// Remember records computed, which was not written, as computed from stored. The caller must
// not modify either afterwards (pass deep copies).
func (m *Memory[S]) Remember(key types.NamespacedName, stored *S, computed S) {
	m.init()
	b, err := json.Marshal(stored)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		delete(m.entries, key)
		return
	}
	m.entries[key] = entry[S]{basis: b, computed: computed}
}

// Forget drops what is remembered for key (after a write, or when the object is gone).
func (m *Memory[S]) Forget(key types.NamespacedName) {
	m.init()
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, key)
}

// Len is how many objects have a remembered status.
func (m *Memory[S]) Len() int {
	m.init()
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// SameJSON reports whether a and b serialise identically: the comparison the API server's
// storage makes visible (timestamps at second resolution, omitted empty fields).
func SameJSON(a, b any) bool {
	ja, err := json.Marshal(a)
	if err != nil {
		return false
	}
	jb, err := json.Marshal(b)
	return err == nil && string(ja) == string(jb)
}
