package scalers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/triggerauth"
)

// DefaultReadBudget is how long an evaluation waits for its objects' trigger reads when
// CacheOptions.ReadBudget is zero.
const DefaultReadBudget = 500 * time.Millisecond

// ErrPending is wrapped by the error of a trigger whose first read has not finished within
// the evaluation's budget. It counts as a failed read (fallback), and the object is evaluated
// again as soon as the read finishes.
var ErrPending = errors.New("trigger read still running")

// CacheOptions configure a Cache.
type CacheOptions struct {
	Options
	// HubReader reads hub objects (ConfigMaps, Secrets, TriggerAuthentications).
	HubReader client.Reader
	// ObjectKind is DistributedScaledObject or DistributedScaledJob.
	ObjectKind string
	// ClusterNamespace is where ClusterTriggerAuthentications read their Secrets (the
	// controller's namespace).
	ClusterNamespace string
	// Now returns the time for time-based triggers; nil means time.Now.
	Now func() time.Time
}

// Cache keeps one Scaler per trigger of every object across evaluations, as KEDA's scale
// handler caches its scalers: built on the first read, rebuilt when the trigger, its resolved
// authentication or its environment changes, or after a failed read (KEDA's refresh), closed
// when the trigger or its object goes away.
//
// Reads never hold the caller for longer than the read budget: every read runs in its own
// goroutine, the evaluation waits for all of its object's reads together until the budget is
// spent, and a read that is still running is reported as its last result (or, before the
// first one, as ErrPending). When such a read finishes, the object is enqueued (Source), so
// the value reaches the object as soon as it exists. A trigger whose last read outlived the
// budget is not waited for at all until a read is fast again: a hung scaler costs the worker
// nothing.
type Cache struct {
	opts     CacheOptions
	resolver *triggerauth.Resolver

	mu      sync.Mutex
	objects map[types.NamespacedName]map[int]*entry
	queue   workqueue.TypedRateLimitingInterface[reconcile.Request]
	ctx     context.Context
	stopped bool
	wg      sync.WaitGroup
}

// entry is one trigger's cached scaler and the state of its reads. Fields are guarded by
// Cache.mu, except scaler, which only the goroutine of the read in flight touches.
type entry struct {
	hash      string
	cfg       Config
	sensitive []string
	scaler    Scaler

	inflight *readOp
	last     *readResult
	// consumed: last has been used by an evaluation; the next evaluation reads again.
	consumed bool
	// slow: the last read outlived the budget; evaluations do not wait for this trigger.
	slow bool
	// retired: the trigger changed or went away; the read in flight closes the scaler.
	retired bool
	// built: scaler is set (a copy of scaler != nil that Cache.mu guards).
	built bool
}

type readOp struct {
	done    chan struct{}
	started time.Time
	res     *readResult
	// waiters counts evaluations waiting for this read (they take its result).
	waiters int
}

type readResult struct {
	specs      []MetricSpec
	values     []MetricValue
	active     bool
	err        error
	nextChange time.Time
	took       time.Duration
}

// ReadRequest is one evaluation's triggers.
type ReadRequest struct {
	Object   types.NamespacedName
	Triggers []v1alpha1.ScaleTriggers
	// AsMetricSource: the object uses scalingModifiers.
	AsMetricSource bool
	// EnvSourceContainerName and Env are where …FromEnv keys and TriggerAuthentication env
	// entries are read (internal/triggerauth).
	EnvSourceContainerName string
	Env                    triggerauth.EnvSource
	// Pods counts pods across the object's members (kubernetes-workload); nil: none.
	Pods PodCounter
}

// Reading is what one trigger gave.
type Reading struct {
	Index   int
	Trigger v1alpha1.ScaleTriggers
	// Metrics are the trigger's metrics with their values (values are zero when Err is set).
	// Empty when the scaler could not be built.
	Metrics []MetricReading
	Active  bool
	// Err is the read's error, with every credential redacted. IsSpecError tells whether
	// only a spec or policy change fixes it.
	Err error
	// Stale: the read in flight outlived the budget and this is the previous result.
	Stale bool
	// NextChange is when a time-based trigger's value changes next (zero: never or unknown).
	NextChange time.Time
}

// MetricReading is one metric of a trigger and its value.
type MetricReading struct {
	MetricSpec
	Value float64
}

// NewCache returns an empty cache. Add it to the manager (it closes every scaler when the
// manager stops) and watch Source() so finished reads enqueue their objects.
func NewCache(o CacheOptions) *Cache {
	if o.HubVersions != nil && o.HubReader != nil {
		o.HubReader = newVersionedReader(o.HubReader, o.HubVersions)
	}
	c := &Cache{opts: o, objects: map[types.NamespacedName]map[int]*entry{}, ctx: context.Background()}
	c.resolver = &triggerauth.Resolver{Reader: o.HubReader, ClusterNamespace: o.ClusterNamespace}
	if o.Policy != nil {
		c.resolver.AllowCluster = o.Policy.AllowClusterTriggerAuthentication
	}
	return c
}

// Start makes the cache's reads live as long as ctx and closes every scaler when it ends
// (manager.Runnable).
func (c *Cache) Start(ctx context.Context) error {
	c.mu.Lock()
	c.ctx = ctx
	c.mu.Unlock()
	<-ctx.Done()
	c.Close()
	return nil
}

// Close closes every scaler and waits (bounded) for reads in flight.
func (c *Cache) Close() {
	c.mu.Lock()
	c.stopped = true
	for key, entries := range c.objects {
		for _, e := range entries {
			c.retire(e)
		}
		delete(c.objects, key)
	}
	c.mu.Unlock()
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(c.opts.maxReadTime() + time.Second):
	}
}

// Source enqueues an object when a read nobody waited for finishes, or when a push trigger
// reports a change.
func (c *Cache) Source() source.Source {
	return source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		c.mu.Lock()
		c.queue = q
		c.mu.Unlock()
		return nil
	})
}

func (c *Cache) enqueue(key types.NamespacedName) {
	c.mu.Lock()
	q := c.queue
	_, known := c.objects[key]
	c.mu.Unlock()
	if q != nil && known {
		q.Add(reconcile.Request{NamespacedName: key})
	}
}

// Forget closes the scalers of an object that is gone.
func (c *Cache) Forget(key types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.objects[key] {
		c.retire(e)
	}
	delete(c.objects, key)
}

// Scalers returns how many scalers are cached, for tests and metrics.
func (c *Cache) Scalers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, entries := range c.objects {
		for _, e := range entries {
			if e.built {
				n++
			}
		}
	}
	return n
}

// retire closes e's scaler now, or makes the read in flight close it. Call with c.mu held.
func (c *Cache) retire(e *entry) {
	e.retired = true
	if e.inflight != nil || e.scaler == nil {
		return
	}
	s := e.scaler
	e.scaler, e.built = nil, false
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		_ = s.Close(context.Background())
	}()
}

// Read reads every trigger of one object, in parallel, waiting at most the read budget.
func (c *Cache) Read(ctx context.Context, req ReadRequest) []Reading {
	readings := make([]Reading, len(req.Triggers))
	waiting := map[int]*readOp{}
	entries := make([]*entry, len(req.Triggers))

	c.mu.Lock()
	obj := c.objects[req.Object]
	if obj == nil {
		obj = map[int]*entry{}
		c.objects[req.Object] = obj
	}
	for i, e := range obj {
		if i >= len(req.Triggers) {
			c.retire(e)
			delete(obj, i)
		}
	}
	c.mu.Unlock()

	for i, t := range req.Triggers {
		readings[i] = Reading{Index: i, Trigger: t}
		cfg, sensitive, err := c.config(ctx, req, i, t)
		if err != nil {
			readings[i].Err = redactError(err, sensitive)
			c.mu.Lock()
			if e := obj[i]; e != nil {
				c.retire(e)
				delete(obj, i)
			}
			c.mu.Unlock()
			continue
		}
		hash := configHash(cfg)
		c.mu.Lock()
		e := obj[i]
		if e == nil || e.hash != hash {
			if e != nil {
				c.retire(e)
			}
			e = &entry{hash: hash, cfg: cfg, sensitive: sensitive}
			obj[i] = e
		}
		entries[i] = e
		if e.last != nil && !e.consumed && e.inflight == nil {
			// A read finished since the last evaluation (and enqueued this one): use it.
			readings[i] = e.reading(readings[i], e.last, false)
			e.consumed = true
			c.mu.Unlock()
			continue
		}
		if e.inflight == nil {
			e.inflight = c.startRead(req.Object, e, req.Pods)
		}
		if !e.slow {
			e.inflight.waiters++
			waiting[i] = e.inflight
		}
		c.mu.Unlock()
	}

	c.wait(ctx, waiting)

	c.mu.Lock()
	defer c.mu.Unlock()
	for i, e := range entries {
		if e == nil || readings[i].Err != nil || readings[i].Metrics != nil {
			continue
		}
		op, waited := waiting[i]
		switch {
		case waited && op.res != nil:
			readings[i] = e.reading(readings[i], op.res, false)
			if e.last == op.res {
				e.consumed = true
			}
		default:
			if waited {
				op.waiters--
				e.slow = true
			}
			if e.last != nil {
				// Stale while a read is still running; a read that finished meanwhile (nobody
				// waited for it) is fresh, and its enqueue re-evaluates the object anyway.
				readings[i] = e.reading(readings[i], e.last, e.inflight != nil)
				continue
			}
			// No duration in the message: it would change (and raise an Event) at every evaluation.
			readings[i].Err = fmt.Errorf("%w after the %s budget (the result is applied when it arrives)", ErrPending, c.opts.readBudget())
		}
	}
	return readings
}

// wait waits for the reads until all are done, the budget is spent or ctx ends.
func (c *Cache) wait(ctx context.Context, ops map[int]*readOp) {
	if len(ops) == 0 {
		return
	}
	timer := time.NewTimer(c.opts.readBudget())
	defer timer.Stop()
	for _, op := range ops {
		select {
		case <-op.done:
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// reading fills r from a result, redacting its error.
func (e *entry) reading(r Reading, res *readResult, stale bool) Reading {
	r.Active, r.NextChange, r.Stale = res.active, res.nextChange, stale
	r.Err = redactError(res.err, e.sensitive)
	r.Metrics = make([]MetricReading, 0, len(res.specs))
	for _, spec := range res.specs {
		mr := MetricReading{MetricSpec: spec}
		for _, v := range res.values {
			if v.Name == spec.Name {
				mr.Value += v.Value
			}
		}
		r.Metrics = append(r.Metrics, mr)
	}
	return r
}

// startRead runs one read of e off the caller. Call with c.mu held.
func (c *Cache) startRead(key types.NamespacedName, e *entry, pods PodCounter) *readOp {
	op := &readOp{done: make(chan struct{}), started: time.Now()}
	base := c.ctx
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ctx, cancel := context.WithTimeout(base, c.opts.maxReadTime())
		if pods != nil {
			ctx = WithPodCounter(ctx, pods)
		}
		res := c.readOnce(ctx, e)
		cancel()
		res.took = time.Since(op.started)

		c.mu.Lock()
		op.res = res
		e.inflight = nil
		notify := false
		if e.retired || c.stopped {
			if e.scaler != nil {
				_ = e.scaler.Close(context.Background())
				e.scaler = nil
			}
		}
		e.built = e.scaler != nil
		if !e.retired && !c.stopped {
			e.last = res
			e.consumed = op.waiters > 0
			e.slow = res.took > c.opts.readBudget()
			notify = op.waiters == 0
		}
		close(op.done)
		c.mu.Unlock()
		if notify {
			c.enqueue(key)
		}
	}()
	return op
}

// readOnce builds the scaler when needed and reads it. A failed read closes the scaler, so
// the next read builds it again (KEDA refreshes a scaler whose read failed).
func (c *Cache) readOnce(ctx context.Context, e *entry) *readResult {
	if e.scaler == nil {
		s, err := New(ctx, e.cfg)
		if err != nil {
			return &readResult{err: err}
		}
		e.scaler = s
	}
	res := &readResult{specs: e.scaler.MetricSpecs()}
	res.values, res.active, res.err = e.scaler.GetMetricsAndActivity(ctx)
	if timed, ok := e.scaler.(Timed); ok {
		res.nextChange = timed.NextChange(c.now())
	}
	if res.err != nil {
		_ = e.scaler.Close(ctx)
		e.scaler = nil
	}
	return res
}

func (c *Cache) now() time.Time {
	if c.opts.Now != nil {
		return c.opts.Now()
	}
	return time.Now()
}

// config resolves the trigger's authentication and checks the policy; it returns the Config
// to build the scaler with and the values to redact from its messages.
func (c *Cache) config(ctx context.Context, req ReadRequest, i int, t v1alpha1.ScaleTriggers) (Config, []string, error) {
	cfg := Config{Trigger: t, TriggerIndex: i, Namespace: req.Object.Namespace, ObjectName: req.Object.Name,
		ObjectKind: c.opts.ObjectKind, HubReader: c.opts.HubReader, AsMetricSource: req.AsMetricSource,
		Now: c.opts.Now, Options: c.opts.Options}
	key := req.Object
	cfg.OnPush = func() { c.enqueue(key) }
	areq := triggerauth.Request{Namespace: req.Object.Namespace, Ref: t.AuthenticationRef, Metadata: t.Metadata,
		EnvSourceContainerName: req.EnvSourceContainerName, Env: req.Env}
	if !triggerauth.Needed(areq) {
		return cfg, nil, nil
	}
	res, err := c.resolver.Resolve(ctx, areq)
	sensitive := res.Sensitive()
	if err != nil {
		if triggerauth.IsSpec(err) {
			err = &authSpecError{err: err}
		}
		return cfg, sensitive, err
	}
	cfg.Auth = Auth{Params: res.Params, Env: res.Env}
	if res.PodIdentity != nil {
		cfg.Auth.PodIdentity = string(res.PodIdentity.Provider)
	}
	return cfg, sensitive, nil
}

// authSpecError is a reference only a spec or policy change fixes (IsSpecError is true).
type authSpecError struct{ err error }

func (e *authSpecError) Error() string { return e.err.Error() }
func (e *authSpecError) Is(target error) bool {
	return target == ErrInvalidMetadata || errors.Is(e.err, target)
}

// configHash identifies everything a scaler is built from, so a change rebuilds it.
func configHash(cfg Config) string {
	b, _ := json.Marshal(struct {
		Trigger        v1alpha1.ScaleTriggers
		Index          int
		AsMetricSource bool
		Auth           Auth
	}{cfg.Trigger, cfg.TriggerIndex, cfg.AsMetricSource, cfg.Auth})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
