package member

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

// Health is what the last probe saw.
type Health struct {
	Ready bool
	// Reason is one of v1alpha1.MemberReason*; Message says more.
	Reason  string
	Message string
	// Since is when Ready last changed (or the first probe).
	Since     time.Time
	LastProbe time.Time
	Latency   time.Duration
	Version   string
	// Probed is false until the first probe finished.
	Probed bool
}

type memberConfig struct {
	name           string
	hubNamespace   string
	kubeconfig     []byte
	kubeconfigHash string
	// spec is the MemberCluster spec the member was built from.
	spec             v1alpha1.MemberClusterSpec
	secretRef        v1alpha1.SecretKeyRef
	targetNamespaces []string
	opts             Options
	notify           func(Event)
	hub              client.Client
}

// Member is one registered cluster: its clients, cache and health.
type Member struct {
	memberConfig
	cfg       *rest.Config
	clientset kubernetes.Interface
	cluster   cluster.Cluster

	ctx    context.Context
	cancel context.CancelFunc
	done   sync.WaitGroup

	mu      sync.RWMutex
	health  Health
	watched map[schema.GroupVersionKind]bool
}

func newMember(parent context.Context, mc memberConfig) (*Member, error) {
	cfg, err := restConfigFromKubeconfig(mc.kubeconfig, mc.spec.APIURL)
	if err != nil {
		return nil, err
	}
	// No rest.Config.Timeout: it would cut the cache's long-running watches. Every call is
	// bounded by a context deadline instead (Member.callContext).
	cfg.QPS, cfg.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	cl, err := cluster.New(cfg, func(o *cluster.Options) {
		o.Scheme = mc.opts.Scheme
		if len(mc.targetNamespaces) > 0 {
			// Namespaced credentials cannot list cluster-wide.
			o.Cache.DefaultNamespaces = map[string]cache.Config{}
			for _, ns := range mc.targetNamespaces {
				o.Cache.DefaultNamespaces[ns] = cache.Config{}
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	ctx, cancel := context.WithCancel(parent)
	ctx = logf.IntoContext(ctx, logf.FromContext(parent).WithValues("member", mc.name))
	return &Member{memberConfig: mc, cfg: cfg, clientset: cs, cluster: cl, ctx: ctx, cancel: cancel,
		watched: map[schema.GroupVersionKind]bool{}}, nil
}

func (m *Member) start() {
	m.done.Add(2)
	go func() {
		defer m.done.Done()
		if err := m.cluster.Start(m.ctx); err != nil && m.ctx.Err() == nil {
			logf.FromContext(m.ctx).Error(err, "Member cache stopped")
		}
	}()
	go func() {
		defer m.done.Done()
		m.probeLoop()
	}()
}

func (m *Member) close() {
	m.cancel()
	m.done.Wait()
}

// Name is the member's registered name.
func (m *Member) Name() string { return m.name }

// Health returns what the last probe saw.
func (m *Member) Health() Health {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.health
}

// Client reads through the member's cache (for kinds passed to WatchKind) and writes directly.
func (m *Member) Client() client.Client { return m.cluster.GetClient() }

// CallContext bounds a call into this member by its timeout.
func (m *Member) CallContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, m.opts.CallTimeout)
}

// WatchKind makes the member's cache watch gvk and publish EventTargetChanged for its
// objects. Idempotent; it does not wait for the first list (a member that is down must not
// block the caller).
func (m *Member) WatchKind(gvk schema.GroupVersionKind) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.watched[gvk] {
		return nil
	}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(gvk)
	inf, err := m.cluster.GetCache().GetInformer(m.ctx, obj, cache.BlockUntilSynced(false))
	if err != nil {
		return fmt.Errorf("watch %s in member %s: %w", gvk.Kind, m.name, err)
	}
	forward := func(o interface{}) {
		if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
			o = d.Obj
		}
		co, ok := o.(client.Object)
		if !ok {
			return
		}
		m.notify(Event{Type: EventTargetChanged, Member: m.name, GVK: gvk, Namespace: co.GetNamespace(), Name: co.GetName(), Labels: co.GetLabels()})
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    forward,
		UpdateFunc: func(_, n interface{}) { forward(n) },
		DeleteFunc: forward,
	}); err != nil {
		return fmt.Errorf("watch %s in member %s: %w", gvk.Kind, m.name, err)
	}
	m.watched[gvk] = true
	return nil
}

// Target is a scale target as the member's cache sees it.
type Target struct {
	Exists   bool
	Replicas int32
	// ReadyReplicas is status.readyReplicas (else status.availableReplicas) when the kind has it.
	ReadyReplicas int32
	// ReadyReplicasKnown: the object reports status.readyReplicas or availableReplicas. Some
	// kinds omit the field at 0 (a Deployment with no ready pod): the caller then counts the
	// pods of Selector (ReadyPods).
	ReadyReplicasKnown bool
	Selector           string
	Object             *unstructured.Unstructured
}

// GetTarget reads the target from the member's cache (call WatchKind first). It fails when
// the cache has not synced within the member's timeout, so an unreachable member reports an
// error rather than a missing target.
func (m *Member) GetTarget(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (Target, error) {
	ctx, cancel := m.CallContext(ctx)
	defer cancel()
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(gvk)
	if err := m.cluster.GetClient().Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return Target{}, nil
		}
		return Target{}, fmt.Errorf("get %s %s/%s in member %s: %w", gvk.Kind, namespace, name, m.name, err)
	}
	t := Target{Exists: true, Object: obj, Replicas: 1}
	if r, found, _ := unstructured.NestedInt64(obj.Object, "spec", "replicas"); found {
		t.Replicas = int32(r)
	}
	if r, found, _ := unstructured.NestedInt64(obj.Object, "status", "readyReplicas"); found {
		t.ReadyReplicas, t.ReadyReplicasKnown = int32(r), true
	} else if r, found, _ := unstructured.NestedInt64(obj.Object, "status", "availableReplicas"); found {
		t.ReadyReplicas, t.ReadyReplicasKnown = int32(r), true
	}
	if raw, found, _ := unstructured.NestedMap(obj.Object, "spec", "selector"); found {
		var ls metav1.LabelSelector
		if runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &ls) == nil {
			if sel, err := metav1.LabelSelectorAsSelector(&ls); err == nil {
				t.Selector = sel.String()
			}
		}
	}
	return t, nil
}

// SetReplicas writes replicas through the target's scale subresource, bounded by the member's timeout.
func (m *Member) SetReplicas(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string, replicas int32) error {
	ctx, cancel := m.CallContext(ctx)
	defer cancel()
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(gvk)
	obj.SetNamespace(namespace)
	obj.SetName(name)
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"replicas": replicas}})
	if err != nil {
		return fmt.Errorf("scale patch: %w", err)
	}
	err = m.cluster.GetClient().SubResource("scale").Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch))
	m.opts.Metrics.ScaleWrite(m.name, err)
	if err != nil {
		return fmt.Errorf("scale %s %s/%s in member %s to %d: %w", gvk.Kind, namespace, name, m.name, replicas, err)
	}
	return nil
}
