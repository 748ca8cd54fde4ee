package member

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestOwnWrites(t *testing.T) {
	key := targetKey{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, "ns", "web"}
	t.Run("echo after the response", func(t *testing.T) {
		w := newOwnWrites()
		w.begin(key)
		if w.end(key, "10") {
			t.Error("nothing was held")
		}
		if w.publish(key, "10") {
			t.Error("our write's own event published")
		}
		if !w.publish(key, "11") {
			t.Error("the next writer's change not published")
		}
		if len(w.targets) != 0 {
			t.Errorf("%d entries left", len(w.targets))
		}
	})
	t.Run("echo before the response", func(t *testing.T) {
		w := newOwnWrites()
		w.begin(key)
		if w.publish(key, "10") {
			t.Error("an event during the write is held, not published")
		}
		if w.end(key, "10") {
			t.Error("the held event was our own write's")
		}
		if len(w.targets) != 0 {
			t.Errorf("%d entries left", len(w.targets))
		}
	})
	t.Run("another writer during our write", func(t *testing.T) {
		w := newOwnWrites()
		w.begin(key)
		w.publish(key, "9")
		w.publish(key, "10")
		if !w.end(key, "10") {
			t.Error("version 9 was someone else's: it must be published")
		}
	})
	t.Run("failed write", func(t *testing.T) {
		w := newOwnWrites()
		w.begin(key)
		w.publish(key, "9")
		if !w.end(key, "") {
			t.Error("an event held during a failed write is someone else's")
		}
		if !w.publish(key, "12") {
			t.Error("after a failed write every event counts")
		}
	})
	t.Run("bounded", func(t *testing.T) {
		w := newOwnWrites()
		w.begin(key)
		for i := 0; i < 100; i++ {
			w.publish(key, "v")
		}
		if got := len(w.targets[key].held); got > maxHeld {
			t.Errorf("%d versions held, want at most %d", got, maxHeld)
		}
		if !w.end(key, "10") {
			t.Error("overflowing events must be published")
		}
	})
	t.Run("no echo ever seen", func(t *testing.T) {
		// A write that changed nothing produces no event; its entry goes with the target.
		w := newOwnWrites()
		w.begin(key)
		w.end(key, "10")
		w.forget(key)
		if len(w.targets) != 0 {
			t.Error("forget left the entry")
		}
	})
}

// A ready count belongs to the version it was taken at: a newer version drops it, and a count
// whose target moved on while the pods were being listed is not kept.
func TestSeenTargetsReadyCount(t *testing.T) {
	key := targetKey{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, "ns", "web"}
	s := newSeenTargets()
	s.rememberReady(key, "1", 3)
	if _, ok := s.readyAt(key, "1"); ok {
		t.Fatal("a count for a target never seen is kept")
	}
	s.remember(key, "1", Target{Exists: true, Replicas: 3})
	s.rememberReady(key, "1", 3)
	if n, ok := s.readyAt(key, "1"); !ok || n != 3 {
		t.Fatalf("readyAt(1) = %d, %v; want 3, true", n, ok)
	}
	s.remember(key, "1", Target{Exists: true, Replicas: 3})
	if _, ok := s.readyAt(key, "1"); !ok {
		t.Error("the same version seen again drops its count")
	}
	s.remember(key, "2", Target{Exists: true, Replicas: 4})
	if _, ok := s.readyAt(key, "2"); ok {
		t.Error("a new version keeps the old count")
	}
	s.rememberReady(key, "1", 3)
	if _, ok := s.readyAt(key, "2"); ok {
		t.Error("a count taken at version 1 is kept for version 2")
	}
	if _, ok := s.readyAt(key, "1"); ok {
		t.Error("a count is answered for a version the target has left")
	}
}
