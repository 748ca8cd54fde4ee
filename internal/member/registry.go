package member

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/metrics"
)

// Options tune the registry; zero values take the defaults.
type Options struct {
	// ProbeInterval is how often each member is probed (default 5s).
	ProbeInterval time.Duration
	// ProbeTimeout bounds one probe (default 3s).
	ProbeTimeout time.Duration
	// CallTimeout bounds every other call into a member (default 5s).
	CallTimeout time.Duration
	// TokenRefreshFraction: the token is refreshed once less than this fraction of its
	// lifetime remains (default 1/3).
	TokenRefreshFraction float64
	// Scheme for member clients; must include apps/v1, batch/v1 and core/v1.
	Scheme *runtime.Scheme
	// QPS and Burst bound each member client's request rate (default 50 and 100).
	QPS   float32
	Burst int
	// Metrics records probes (nil: none).
	Metrics *metrics.Recorder
	// ReadOnly probes members for this controller's own health view but never writes
	// MemberCluster status nor refreshes tokens: a shard that does not manage the
	// registrations (docs/sharding.md), so two shards never write the same MemberCluster.
	ReadOnly bool
}

func (o *Options) setDefaults() {
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = 5 * time.Second
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = 3 * time.Second
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 5 * time.Second
	}
	if o.QPS <= 0 {
		o.QPS = 50
	}
	if o.Burst <= 0 {
		o.Burst = 100
	}
	if o.TokenRefreshFraction <= 0 || o.TokenRefreshFraction >= 1 {
		o.TokenRefreshFraction = 1.0 / 3
	}
}

// EventType says what an Event reports.
type EventType string

// Event types.
const (
	EventRegistered    EventType = "Registered"
	EventUnregistered  EventType = "Unregistered"
	EventHealthChanged EventType = "HealthChanged"
	EventTargetChanged EventType = "TargetChanged"
)

// Event is one change reconcilers may care about. For EventTargetChanged, GVK, Namespace,
// Name and Labels identify the member object that changed.
type Event struct {
	Type      EventType
	Member    string
	GVK       schema.GroupVersionKind
	Namespace string
	Name      string
	Labels    map[string]string
}

// Registry holds one Member per registered MemberCluster.
type Registry struct {
	hub  client.Client
	opts Options

	// baseCtx outlives single reconciles: member loops run until Unregister or Start returns.
	baseCtx context.Context
	stop    context.CancelFunc

	mu      sync.RWMutex
	members map[string]*Member

	subsMu sync.Mutex
	subs   []chan event.TypedGenericEvent[Event]
}

// NewRegistry returns a registry that writes MemberCluster status through hub.
func NewRegistry(hub client.Client, opts Options) *Registry {
	opts.setDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Registry{hub: hub, opts: opts, baseCtx: ctx, stop: cancel, members: map[string]*Member{}}
}

// Start implements manager.Runnable: it blocks until ctx ends, then stops every member.
func (r *Registry) Start(ctx context.Context) error {
	<-ctx.Done()
	r.stop()
	// Taken out under the lock, closed after it: close waits for the member's goroutines, and
	// a Get or Register from a reconcile still finishing must not wait behind that.
	r.mu.Lock()
	members := r.members
	r.members = map[string]*Member{}
	r.mu.Unlock()
	for _, m := range members {
		m.close()
	}
	return nil
}

// NeedLeaderElection: only the leader probes and writes status.
func (r *Registry) NeedLeaderElection() bool { return true }

// Register adds or updates a member from its MemberCluster and kubeconfig. The same
// kubeconfig and spec again is a no-op; a changed kubeconfig or spec (API URL, target
// namespaces, Secret reference) replaces the member's clients, so it takes effect without a
// restart. A kubeconfig outside the allowed fields is refused (ErrInvalidKubeconfig, see
// CheckRegistration) before anything in it is used.
func (r *Registry) Register(mc *v1alpha1.MemberCluster, kubeconfig []byte) error {
	sum := sha256.Sum256(kubeconfig)
	hash := hex.EncodeToString(sum[:])
	r.mu.RLock()
	old, ok := r.members[mc.Name]
	r.mu.RUnlock()
	if ok && old.kubeconfigHash == hash && equality.Semantic.DeepEqual(old.spec, mc.Spec) {
		return nil
	}
	m, err := newMember(r.baseCtx, memberConfig{
		name:             mc.Name,
		hubNamespace:     mc.Namespace,
		kubeconfig:       kubeconfig,
		kubeconfigHash:   hash,
		spec:             *mc.Spec.DeepCopy(),
		secretRef:        mc.Spec.KubeconfigSecretRef,
		targetNamespaces: mc.Spec.TargetNamespaces,
		opts:             r.opts,
		notify:           r.publish,
		hub:              r.hub,
	})
	if err != nil {
		return fmt.Errorf("member %s: %w", mc.Name, err)
	}
	r.mu.Lock()
	prev, replaced := r.members[mc.Name]
	r.members[mc.Name] = m
	r.mu.Unlock()
	if replaced {
		prev.close() // outside the lock: it waits for the old member's goroutines
	}
	logf.FromContext(r.baseCtx).Info("Registered member cluster", "member", mc.Name, "server", m.cfg.Host)
	m.start()
	r.publish(Event{Type: EventRegistered, Member: mc.Name})
	return nil
}

// Unregister stops and forgets a member.
func (r *Registry) Unregister(name string) {
	r.mu.Lock()
	m, ok := r.members[name]
	delete(r.members, name)
	r.mu.Unlock()
	if !ok {
		return
	}
	m.close()
	r.opts.Metrics.ForgetMember(name)
	r.publish(Event{Type: EventUnregistered, Member: name})
}

// Get returns a registered member.
func (r *Registry) Get(name string) (*Member, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	m, ok := r.members[name]
	return m, ok
}

// Names returns the registered member names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.members))
	for n := range r.members {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Subscribe returns a stream of events for a source.Channel. Each subscriber gets every event.
func (r *Registry) Subscribe() <-chan event.TypedGenericEvent[Event] {
	ch := make(chan event.TypedGenericEvent[Event], 1024)
	r.subsMu.Lock()
	r.subs = append(r.subs, ch)
	r.subsMu.Unlock()
	return ch
}

// publish delivers e to every subscriber. It blocks rather than drop an event (a dropped
// health transition would leave a DSO waiting for its next poll); subscribers are controller
// sources that drain continuously.
func (r *Registry) publish(e Event) {
	r.subsMu.Lock()
	subs := append([]chan event.TypedGenericEvent[Event](nil), r.subs...)
	r.subsMu.Unlock()
	for _, ch := range subs {
		select {
		case ch <- event.TypedGenericEvent[Event]{Object: e}:
		case <-r.baseCtx.Done():
			return
		}
	}
}
