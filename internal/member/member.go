package member

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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

	mu     sync.RWMutex
	health Health
	// watched is WatchKind's progress per kind. Its own lock, never held across a call.
	watchMu sync.Mutex
	watched map[schema.GroupVersionKind]watchState
	// own tells the watch events of our own /scale writes from other writers'.
	own *ownWrites
	// seen is each target as last read or written, by resourceVersion (unchangedTarget).
	seen *seenTargets
}

func newMember(parent context.Context, mc memberConfig) (*Member, error) {
	cfg, err := restConfigFromKubeconfig(mc.kubeconfig, mc.spec.APIURL)
	if err != nil {
		return nil, err
	}
	// No rest.Config.Timeout: it would cut the cache's long-running watches. Every call is
	// bounded by a context deadline instead (Member.callContext).
	cfg.QPS, cfg.Burst = mc.opts.QPS, mc.opts.Burst
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	cl, err := cluster.New(cfg, func(o *cluster.Options) {
		o.Scheme = mc.opts.Scheme
		// The cache holds only target metadata (WatchKind), and of that only identity.
		o.Cache.DefaultTransform = identityOnly
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
		watched: map[schema.GroupVersionKind]watchState{}, own: newOwnWrites(), seen: newSeenTargets()}, nil
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

// identityOnly keeps of a cached target's metadata what an EventTargetChanged carries and the
// informer needs (name, namespace, UID, resourceVersion, generation): a member's other
// objects of the kind cost a few hundred bytes each, whatever their labels and annotations
// (kubectl's last-applied-configuration copies a whole workload). Target events carry no
// labels: DSOs map them by kind, namespace and name.
func identityOnly(in any) (any, error) {
	pom, ok := in.(*metav1.PartialObjectMetadata)
	if !ok {
		return in, nil
	}
	pom.ObjectMeta = metav1.ObjectMeta{Name: pom.Name, Namespace: pom.Namespace, UID: pom.UID,
		ResourceVersion: pom.ResourceVersion, Generation: pom.Generation, DeletionTimestamp: pom.DeletionTimestamp}
	return pom, nil
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

// WatchKind makes the member's cache watch the metadata of gvk's objects and publish
// EventTargetChanged for them, so a target's change is evaluated at once. Only metadata is
// held (no spec, status or managed fields), and only where the credentials may list and watch
// the kind: the member role grants */scale for any kind but list/watch only for apps kinds, so
// a custom resource's target is read through /scale at every evaluation instead (polling
// interval) and never makes a reflector retry a forbidden list. Idempotent; it does not wait
// for the first list (a member that is down must not block the caller).
func (m *Member) WatchKind(ctx context.Context, gvk schema.GroupVersionKind) error {
	m.watchMu.Lock()
	st := m.watched[gvk]
	if st.decided || st.pending || time.Since(st.failed) < watchRetry {
		m.watchMu.Unlock()
		return nil
	}
	m.watched[gvk] = watchState{pending: true}
	m.watchMu.Unlock()
	inf, err := m.watchKind(ctx, gvk)
	m.watchMu.Lock()
	defer m.watchMu.Unlock()
	if err != nil {
		m.watched[gvk] = watchState{failed: time.Now()}
		return fmt.Errorf("watch %s in member %s: %w", gvk.Kind, m.name, err)
	}
	m.watched[gvk] = watchState{decided: true, informer: inf}
	return nil
}

// watchRetry spaces WatchKind's attempts for a kind after one failed, so a member that hangs
// costs each DSO reconcile nothing here.
const watchRetry = 30 * time.Second

// watchState is WatchKind's progress for one kind: decided (watching, or may not watch),
// pending (another caller is asking), or failed at that time. informer is the kind's
// metadata informer when watching.
type watchState struct {
	decided, pending bool
	failed           time.Time
	informer         cache.Informer
}

func (m *Member) watchKind(ctx context.Context, gvk schema.GroupVersionKind) (cache.Informer, error) {
	allowed, err := m.mayWatch(ctx, gvk)
	if err != nil || !allowed {
		if err == nil {
			logf.FromContext(m.ctx).Info("Credentials may not list and watch the target kind: its changes are seen at the polling interval", "kind", gvk.String())
		}
		return nil, err
	}
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(gvk)
	inf, err := m.cluster.GetCache().GetInformer(m.ctx, obj, cache.BlockUntilSynced(false))
	if err != nil {
		return nil, err
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
	_, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: forward,
		UpdateFunc: func(o, n interface{}) {
			// A status-only change (the workload's controller reporting progress: several
			// per scale) or the echo of our own write changes no input of a decision that
			// the next poll would not see; evaluating on each would queue them ahead of a
			// trigger change.
			co, ok := n.(client.Object)
			if !ok || !specChanged(o, n) || !m.own.publish(targetKey{gvk, co.GetNamespace(), co.GetName()}, co.GetResourceVersion()) {
				return
			}
			forward(n)
		},
		DeleteFunc: func(o interface{}) {
			if co, ok := o.(client.Object); ok {
				key := targetKey{gvk, co.GetNamespace(), co.GetName()}
				m.own.forget(key)
				m.seen.forget(key)
			}
			forward(o)
		},
	})
	if err != nil {
		return nil, err
	}
	return inf, nil
}

// specChanged: the update changed the object's spec (its generation, which status writes
// leave alone) or started its deletion.
func specChanged(o, n interface{}) bool {
	oo, ok1 := o.(client.Object)
	no, ok2 := n.(client.Object)
	if !ok1 || !ok2 {
		return true
	}
	return oo.GetGeneration() != no.GetGeneration() || oo.GetDeletionTimestamp().IsZero() != no.GetDeletionTimestamp().IsZero()
}

// mayWatch asks the member (SelfSubjectAccessReview, which every authenticated identity may
// create) whether the credentials may list and watch gvk in every namespace the cache covers.
func (m *Member) mayWatch(ctx context.Context, gvk schema.GroupVersionKind) (bool, error) {
	ctx, cancel := m.CallContext(ctx)
	defer cancel()
	mapping, err := m.cluster.GetRESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		// Not served (yet) included: asked again after watchRetry.
		return false, err
	}
	namespaces := m.targetNamespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	for _, ns := range namespaces {
		for _, verb := range []string{"list", "watch"} {
			review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
				ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: verb,
					Group: gvk.Group, Version: gvk.Version, Resource: mapping.Resource.Resource}}}
			res, err := m.clientset.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
			if err != nil {
				return false, fmt.Errorf("access review: %w", err)
			}
			if !res.Status.Allowed {
				return false, nil
			}
		}
	}
	return true, nil
}

// Target is a scale target as its scale subresource reports it.
type Target struct {
	Exists bool
	// Replicas is the /scale spec.replicas: what is set (the HPA's currentReplicas).
	Replicas int32
	// StatusReplicas is the /scale status.replicas: what the workload's controller runs.
	StatusReplicas int32
	// Selector is the /scale status.selector (the pods the target runs); empty when the kind
	// declares none (a CRD's scale subresource without labelSelectorPath).
	Selector string
}

// GetTarget reads the target's scale subresource from the member's API server, bounded by
// the member's timeout. The member role grants */scale for any kind, so this is the one read
// that works for every scalable kind, custom resources included. A target that does not exist
// is Exists false without an error; a kind the member does not serve, a forbidden read or an
// unreachable member is an error (apierrors.IsForbidden, meta.IsNoMatchError tell them apart).
func (m *Member) GetTarget(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (Target, error) {
	ctx, cancel := m.CallContext(ctx)
	defer cancel()
	key := targetKey{gvk, namespace, name}
	if t, ok := m.unchangedTarget(ctx, key); ok {
		return t, nil
	}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(gvk)
	obj.SetNamespace(namespace)
	obj.SetName(name)
	scale := &unstructured.Unstructured{}
	scale.SetGroupVersionKind(autoscalingv1.SchemeGroupVersion.WithKind("Scale"))
	if err := m.cluster.GetClient().SubResource("scale").Get(ctx, obj, scale); err != nil {
		if apierrors.IsNotFound(err) && notFoundNamed(err, name) {
			return Target{}, nil
		}
		if apierrors.IsNotFound(err) {
			// The path, not the object, is missing: the kind has no scale subresource.
			err = fmt.Errorf("%w: %s has no scale subresource", ErrNotScalable, gvk.Kind)
		}
		return Target{}, fmt.Errorf("get %s %s/%s/scale in member %s: %w", gvk.Kind, namespace, name, m.name, err)
	}
	t := targetFromScale(scale)
	m.seen.remember(key, scale.GetResourceVersion(), t)
	return t, nil
}

// targetFromScale reads a Scale (autoscaling/v1) as returned by a GET or a write of /scale.
func targetFromScale(scale *unstructured.Unstructured) Target {
	t := Target{Exists: true}
	if r, found, _ := unstructured.NestedInt64(scale.Object, "spec", "replicas"); found {
		t.Replicas = int32(r)
	}
	if r, found, _ := unstructured.NestedInt64(scale.Object, "status", "replicas"); found {
		t.StatusReplicas = int32(r)
	}
	if sel, found, _ := unstructured.NestedString(scale.Object, "status", "selector"); found {
		t.Selector = sel
	}
	return t
}

// unchangedTarget returns the target as last read or written when the kind's metadata
// informer (WatchKind) holds it at the same resourceVersion: nothing changed since, so the
// evaluation needs no read. Any change (spec, status, a deletion) moves the version, and a
// kind that is not watched is always read.
func (m *Member) unchangedTarget(ctx context.Context, key targetKey) (Target, bool) {
	m.watchMu.Lock()
	inf := m.watched[key.gvk].informer
	m.watchMu.Unlock()
	if inf == nil || !inf.HasSynced() {
		return Target{}, false
	}
	t, version, ok := m.seen.get(key)
	if !ok {
		return Target{}, false
	}
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(key.gvk)
	if err := m.cluster.GetCache().Get(ctx, client.ObjectKey{Namespace: key.namespace, Name: key.name}, obj); err != nil || obj.ResourceVersion != version {
		return Target{}, false
	}
	return t, true
}

// ErrNotScalable: the target's kind is served but has no scale subresource.
var ErrNotScalable = errors.New("not scalable")

// notFoundNamed: a 404 about the object name (it does not exist), not about the path.
func notFoundNamed(err error, name string) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return false
	}
	d := status.Status().Details
	return d != nil && d.Name == name
}

// Permanent reports whether a GetTarget error stays as long as the member's credentials,
// kinds and this DSO's spec do: forbidden, unauthorized, a kind the member does not serve or
// cannot scale. Waiting for such a read is pointless; a timeout or an unreachable member is
// not permanent.
func Permanent(err error) bool {
	return apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) || meta.IsNoMatchError(err) || errors.Is(err, ErrNotScalable)
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
	// The response is the Scale, whose resourceVersion is the target's after the write.
	scale := &unstructured.Unstructured{}
	scale.SetGroupVersionKind(autoscalingv1.SchemeGroupVersion.WithKind("Scale"))
	key := targetKey{gvk, namespace, name}
	m.own.begin(key)
	err = m.cluster.GetClient().SubResource("scale").Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch),
		&client.SubResourcePatchOptions{SubResourceBody: scale})
	produced := ""
	if err == nil {
		produced = scale.GetResourceVersion()
		m.seen.remember(key, produced, targetFromScale(scale))
	}
	if m.own.end(key, produced) {
		// Another writer changed the target while our write was in flight.
		m.notify(Event{Type: EventTargetChanged, Member: m.name, GVK: gvk, Namespace: namespace, Name: name})
	}
	m.opts.Metrics.ScaleWrite(m.name, err)
	if err != nil {
		return fmt.Errorf("scale %s %s/%s in member %s to %d: %w", gvk.Kind, namespace, name, m.name, replicas, err)
	}
	return nil
}
