package member

import (
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// targetKey names one target in a member.
type targetKey struct {
	gvk             schema.GroupVersionKind
	namespace, name string
}

// ownWrites tells the watch events of our own /scale writes from everyone else's, so that a
// write does not come back as an evaluation (its echo). The event of a write can arrive
// before the write's response: an event seen while a write of its target is in flight is
// held, and decided when the response names the version the write produced.
type ownWrites struct {
	mu      sync.Mutex
	targets map[targetKey]*ownWrite
}

type ownWrite struct {
	inFlight int
	// produced is the version the last answered write produced, until its event is seen.
	produced string
	// held are the versions seen while a write was in flight (at most maxHeld; overflow
	// means more were seen).
	held     []string
	overflow bool
}

// maxHeld bounds the versions held per target; more than this while one write is in flight
// can only be other writers, whose change is then published.
const maxHeld = 8

func newOwnWrites() *ownWrites { return &ownWrites{targets: map[targetKey]*ownWrite{}} }

// begin marks a write of key in flight.
func (w *ownWrites) begin(key targetKey) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.targets[key]
	if e == nil {
		e = &ownWrite{}
		w.targets[key] = e
	}
	e.inFlight++
}

// end records the response of a write begun with begin (produced is "" when it failed). It
// reports whether an event held meanwhile was someone else's: the caller publishes it.
func (w *ownWrites) end(key targetKey, produced string) (publish bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.targets[key]
	if e == nil {
		return false
	}
	e.inFlight--
	if produced != "" {
		e.produced = produced
	}
	for _, v := range e.held {
		if v == e.produced {
			e.produced = ""
		} else {
			publish = true
		}
	}
	publish = publish || e.overflow
	e.held, e.overflow = nil, false
	w.dropIfDone(key, e)
	return publish
}

// publish decides an event of key at version: false when it is our own write's, or while a
// write of key is in flight (end decides then).
func (w *ownWrites) publish(key targetKey, version string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.targets[key]
	switch {
	case e == nil:
		return true
	case e.produced != "" && e.produced == version:
		e.produced = ""
		w.dropIfDone(key, e)
		return false
	case e.inFlight > 0:
		if len(e.held) < maxHeld {
			e.held = append(e.held, version)
		} else {
			e.overflow = true
		}
		return false
	}
	return true
}

// forget drops what is known of key (the target was deleted).
func (w *ownWrites) forget(key targetKey) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e := w.targets[key]; e != nil && e.inFlight == 0 {
		delete(w.targets, key)
	}
}

func (w *ownWrites) dropIfDone(key targetKey, e *ownWrite) {
	if e.inFlight == 0 && e.produced == "" && len(e.held) == 0 {
		delete(w.targets, key)
	}
}

// seenTargets is each target as last read or written through /scale, with the
// resourceVersion it had then and, once counted at that version, its ready pods. One entry
// per target this controller reads.
type seenTargets struct {
	mu      sync.Mutex
	targets map[targetKey]seenTarget
}

type seenTarget struct {
	version    string
	target     Target
	ready      int32
	readyKnown bool
}

func newSeenTargets() *seenTargets { return &seenTargets{targets: map[targetKey]seenTarget{}} }

// remember records the target at version; a ready count taken at another version is dropped.
func (s *seenTargets) remember(key targetKey, version string, t Target) {
	if version == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.targets[key]
	if e.version != version {
		e.ready, e.readyKnown = 0, false
	}
	e.version, e.target = version, t
	s.targets[key] = e
}

func (s *seenTargets) get(key targetKey) (Target, string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.targets[key]
	return e.target, e.version, ok
}

// rememberReady records ready pods counted after the target was seen at version, unless the
// target has moved on since.
func (s *seenTargets) rememberReady(key targetKey, version string, ready int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.targets[key]; ok && e.version == version {
		e.ready, e.readyKnown = ready, true
		s.targets[key] = e
	}
}

// readyAt is the ready count taken while the target was at version.
func (s *seenTargets) readyAt(key targetKey, version string) (int32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.targets[key]
	if !ok || e.version != version || !e.readyKnown {
		return 0, false
	}
	return e.ready, true
}

func (s *seenTargets) forget(key targetKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.targets, key)
}
