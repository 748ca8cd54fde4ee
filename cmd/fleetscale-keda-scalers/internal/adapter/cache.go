package adapter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/kedacore/keda/v2/pkg/scalers"
)

// errCacheFull is returned when a new trigger would exceed Options.MaxScalers.
var errCacheFull = errors.New("the adapter holds its maximum number of scalers (--max-scalers); raise it or wait for idle ones to close")

// errCacheClosed is returned once the server stops.
var errCacheClosed = errors.New("the adapter is shutting down")

// entry is one cached KEDA scaler: the scaler of one trigger of one hub object, as KEDA's scale
// handler keeps one per ScaledObject trigger (pkg/scaling/cache).
type entry struct {
	key  key
	hash string
	trig *trigger
	// sem lets one call at a time use the scaler, so a slow source delays only its own trigger
	// and a waiting call can give up on its deadline.
	sem chan struct{}

	// Guarded by sem:
	scaler scalers.Scaler
	// activity is the activity of each metric from the last read, for IsActive (see server.go).
	activity map[string]observedActivity

	// Guarded by cache.mu:
	created, lastUsed time.Time
	removed           bool
}

type observedActivity struct {
	at     time.Time
	active bool
}

// cache holds the scalers by trigger key. Everything it does is bounded: at most max entries,
// each closed when its trigger changes, its object goes away or it stays unused for idle.
type cache struct {
	build   func(ctx context.Context, t *trigger) (scalers.Scaler, error)
	max     int
	idle    time.Duration
	now     func() time.Time
	log     logr.Logger
	closeTO time.Duration

	mu      sync.Mutex
	entries map[key]*entry
	closed  bool
	// closing counts scalers being closed in the background, so Close can wait for them.
	closing sync.WaitGroup
}

func newCache(build func(context.Context, *trigger) (scalers.Scaler, error), max int, idle time.Duration, log logr.Logger) *cache {
	return &cache{build: build, max: max, idle: idle, now: time.Now, log: log, closeTO: 10 * time.Second,
		entries: map[key]*entry{}}
}

// do runs fn with the built scaler of t, one call per trigger at a time. A trigger whose
// config changed gets a new entry and the old scaler is closed. fn runs on its own goroutine
// and do returns when ctx ends even if fn does not (some KEDA constructors take no context):
// the entry stays busy until fn really returns, so its scaler is never used concurrently.
func (c *cache) do(ctx context.Context, t *trigger, fn func(ctx context.Context, e *entry) error) error {
	k, h := t.key(), t.hash()
	for {
		e, err := c.entry(k, h, t)
		if err != nil {
			return err
		}
		select {
		case e.sem <- struct{}{}:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the trigger's previous call: %w", ctx.Err())
		}
		c.mu.Lock()
		removed := e.removed
		c.mu.Unlock()
		if removed {
			// Replaced or closed while we waited: start over with the current entry.
			<-e.sem
			continue
		}
		done := make(chan error, 1)
		go func() {
			defer func() { <-e.sem }()
			done <- c.run(ctx, e, fn)
		}()
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// run builds the scaler of e if needed, then calls fn; the caller holds e.sem.
func (c *cache) run(ctx context.Context, e *entry, fn func(context.Context, *entry) error) (err error) {
	defer func() {
		// A panicking scaler must not take the adapter and every other trigger down.
		if p := recover(); p != nil {
			c.log.Info("a KEDA scaler panicked; dropping it", "type", e.trig.Type, "trigger", e.key.String())
			c.drop(e, "panic")
			err = &readError{err: errors.New("KEDA's scaler panicked")}
		}
	}()
	if e.scaler == nil {
		s, err := c.build(ctx, e.trig)
		if err != nil {
			c.drop(e, "build failed")
			return &buildError{err: err}
		}
		e.scaler = s
		c.log.Info("scaler built", "type", e.trig.Type, "trigger", e.key.String())
	}
	return fn(ctx, e)
}

// buildError is a scaler that could not be built (bad metadata, source unreachable).
type buildError struct{ err error }

func (e *buildError) Error() string { return e.err.Error() }
func (e *buildError) Unwrap() error { return e.err }

// readError is a failed read of a built scaler.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// entry finds or creates the entry for k with config hash h.
func (c *cache) entry(k key, h string, t *trigger) (*entry, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errCacheClosed
	}
	if e, ok := c.entries[k]; ok {
		if e.hash == h {
			e.lastUsed = c.now()
			return e, nil
		}
		c.removeLocked(e, "trigger changed")
	}
	if len(c.entries) >= c.max {
		return nil, errCacheFull
	}
	now := c.now()
	e := &entry{key: k, hash: h, trig: t, sem: make(chan struct{}, 1), created: now, lastUsed: now,
		activity: map[string]observedActivity{}}
	c.entries[k] = e
	return e, nil
}

// refresh closes the scaler of e (held by the caller) and builds a new one, as KEDA's
// ScalersCache.refreshScaler does after a failed read.
func (c *cache) refresh(ctx context.Context, e *entry) error {
	old := e.scaler
	e.scaler = nil
	e.activity = map[string]observedActivity{}
	c.closeScaler(old, e, "refresh after a failed read")
	s, err := c.build(ctx, e.trig)
	if err != nil {
		c.drop(e, "rebuild failed")
		return &buildError{err: err}
	}
	e.scaler = s
	return nil
}

// drop removes e (held by the caller) from the cache and closes its scaler, if any.
func (c *cache) drop(e *entry, reason string) {
	c.mu.Lock()
	if c.entries[e.key] == e {
		delete(c.entries, e.key)
	}
	e.removed = true
	c.mu.Unlock()
	if e.scaler != nil {
		c.closeScaler(e.scaler, e, reason)
		e.scaler = nil
	}
}

// removeLocked takes e out of the cache and closes its scaler once no call uses it.
func (c *cache) removeLocked(e *entry, reason string) {
	if c.entries[e.key] == e {
		delete(c.entries, e.key)
	}
	if e.removed {
		return
	}
	e.removed = true
	c.closing.Add(1)
	go func() {
		defer c.closing.Done()
		e.sem <- struct{}{}
		defer func() { <-e.sem }()
		if e.scaler != nil {
			c.closeScaler(e.scaler, e, reason)
			e.scaler = nil
		}
	}()
}

func (c *cache) closeScaler(s scalers.Scaler, e *entry, reason string) {
	ctx, cancel := context.WithTimeout(context.Background(), c.closeTO)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		// The error text may quote the source's address: log only that closing failed.
		c.log.Info("closing a scaler failed", "type", e.trig.Type, "trigger", e.key.String(), "reason", reason)
		return
	}
	c.log.Info("scaler closed", "type", e.trig.Type, "trigger", e.key.String(), "reason", reason)
}

// removeWhere closes every entry for which match is true.
func (c *cache) removeWhere(match func(*entry) bool, reason string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, e := range c.entries {
		if match(e) {
			c.removeLocked(e, reason)
			n++
		}
	}
	return n
}

// sweep closes the entries unused for longer than idle: the backstop for objects whose
// deletion or change the watch missed.
func (c *cache) sweep() int {
	cutoff := c.now().Add(-c.idle)
	return c.removeWhere(func(e *entry) bool { return e.lastUsed.Before(cutoff) }, "idle")
}

// len is the number of cached scalers.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Close closes every scaler and refuses new ones. It waits for the closes it started, at most
// a little longer than one call and one close may take (a call stuck in a scaler that ignores
// its context must not hold the process on shutdown).
func (c *cache) Close(callTimeout time.Duration) {
	c.mu.Lock()
	c.closed = true
	for _, e := range c.entries {
		c.removeLocked(e, "shutdown")
	}
	c.mu.Unlock()
	done := make(chan struct{})
	go func() { c.closing.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(callTimeout + c.closeTO):
		c.log.Info("some scalers did not close in time")
	}
}
