package helm

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chartutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/transport"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/fleetscale/fleetscale/internal/clusterenv"
	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/manager"
	"github.com/fleetscale/fleetscale/internal/plugin"
)

const (
	timeout = 90 * time.Second
	poll    = 200 * time.Millisecond
)

// hub applies objects to an apiserver as `helm install` (Helm 4's default) and kubectl
// apply --server-side do: a server-side apply with strict field validation.
type hub struct {
	dyn    dynamic.Interface
	mapper meta.RESTMapper
}

func newHub(t *testing.T, cfg *rest.Config) *hub {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &hub{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}
}

func (h *hub) apply(ctx context.Context, o *unstructured.Unstructured, defaultNS string, dryRun bool) error {
	gvk := o.GroupVersionKind()
	m, err := h.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return fmt.Errorf("%s %s: %w", gvk, o.GetName(), err)
	}
	ri := dynamic.ResourceInterface(h.dyn.Resource(m.Resource))
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := o.GetNamespace()
		if ns == "" {
			ns = defaultNS
		}
		ri = h.dyn.Resource(m.Resource).Namespace(ns)
	}
	data, err := json.Marshal(o.Object)
	if err != nil {
		return err
	}
	opts := metav1.PatchOptions{FieldManager: "helm", Force: ptr.To(true), FieldValidation: metav1.FieldValidationStrict}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	if _, err := ri.Patch(ctx, o.GetName(), types.ApplyPatchType, data, opts); err != nil {
		return fmt.Errorf("%s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
	}
	return nil
}

func createNamespace(ctx context.Context, t *testing.T, env *clusterenv.Env, name string) {
	t.Helper()
	_, err := env.Hub.Clientset().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// eventually waits for cond. It gives up early once the controller was refused a request
// (denied may be nil): that is a failure, whatever cond says later.
func eventually(t *testing.T, denied *forbidden, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		if denied != nil && len(denied.list()) > 0 {
			t.Fatalf("%s: not reached, and the controller was refused requests", what)
		}
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(poll)
	}
	t.Fatalf("%s: not within %s; last: %s", what, timeout, last)
}

// The chart on a real hub: the CRDs of crds/ install (the harness installs them from there),
// every object of the default and the all-enabled renderings passes a server-side dry run,
// and installed for real, the controller running with the chart's arguments as the chart's
// ServiceAccount elects a leader, probes a registered member and scales it, without one
// request the chart's RBAC forbids.
func TestChartOnAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kube-apiservers; skipped with -short")
	}
	env := clusterenv.StartForTest(t, clusterenv.Options{Members: 1, CRDDir: filepath.Join(chartDir, "crds")})
	ctx := t.Context()
	// The ServiceMonitor CRD comes with prometheus-operator, not with us.
	if _, err := env.Hub.InstallCRDs(ctx, "testdata"); err != nil {
		t.Fatal(err)
	}
	sv, err := env.Hub.Clientset().Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	kv := chartutil.KubeVersion{Version: sv.GitVersion, Major: sv.Major, Minor: sv.Minor}
	h := newHub(t, env.Hub.Config)

	t.Run("dry run", func(t *testing.T) {
		for _, tc := range []struct {
			name, namespace string
			values          map[string]any
			check           func(*testing.T, *release)
			namespaces      []string
		}{
			{"defaults", "keda", nil, checkDefaults, []string{"keda"}},
			{"all enabled", "platform", allEnabled(), checkAllEnabled, []string{"platform", "fleet"}},
			{"every option", "keda", valuesOf(t, everyOption), checkEveryOption, []string{"keda", "registrations"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := render(t, "fleetscale", tc.namespace, tc.values, kv)
				tc.check(t, r)
				for _, ns := range tc.namespaces {
					createNamespace(ctx, t, env, ns)
				}
				for _, o := range r.objects {
					if err := h.apply(ctx, o, tc.namespace, true); err != nil {
						t.Errorf("server-side dry run: %v", err)
					}
				}
				t.Logf("dry-run applied: %s", r.summary())
			})
		}
	})
	if t.Failed() {
		return
	}

	t.Run("controller as the chart's ServiceAccount", func(t *testing.T) {
		runControllerAsChart(ctx, t, env, h, kv)
	})
	if t.Failed() {
		return
	}
	t.Run("admission policy", func(t *testing.T) {
		checkAdmissionPolicy(ctx, t, env)
	})
}

func runControllerAsChart(ctx context.Context, t *testing.T, env *clusterenv.Env, h *hub, kv chartutil.KubeVersion) {
	const ns, memberName = "keda", "member-1"
	r := render(t, "fleetscale", ns, nil, kv)
	createNamespace(ctx, t, env, ns)
	for _, o := range r.objects {
		if err := h.apply(ctx, o, ns, false); err != nil {
			t.Fatalf("install: %v", err)
		}
	}
	// What a user does after the install: register a member (as a hub admin).
	member := env.Members[0]
	if _, err := plugin.SetupMember(ctx, plugin.SetupOptions{Name: memberName, Namespace: ns, Hub: env.Hub.Config, Member: member.Config}); err != nil {
		t.Fatalf("setup-member: %v", err)
	}
	nginx := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "nginx"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx"}}},
			},
		},
	}
	if _, err := member.Clientset().AppsV1().Deployments("default").Create(ctx, nginx, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The controller with the Deployment's arguments, as its ServiceAccount.
	d := typed[appsv1.Deployment](t, r.find(t, "Deployment", "fleetscale-controller"))
	// Without the adapter's flags: the adapter does not run here, and its client certificate
	// exists only in the pod's Secret volume. (checkKedaScalers covers them.)
	args := slices.DeleteFunc(slices.Clone(container(t, d, "controller").Args), func(a string) bool { return strings.HasPrefix(a, "--external-scaler-") })
	opts := controllerFlags(t, args)
	// No fixed ports in tests; /metrics on a free one, served as the chart says (secure).
	opts.MetricsBindAddress, opts.HealthProbeBindAddress = freeAddress(t), "0"
	sa := d.Spec.Template.Spec.ServiceAccountName
	cfg := rest.CopyConfig(env.Hub.Config)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + ns + ":" + sa,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
	}
	// The authorizer sees new bindings a moment after they are created; wait for the
	// ClusterRoleBinding and the RoleBinding before counting forbidden requests.
	asSA, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, nil, "the chart's RBAC bindings in effect", func() (bool, string) {
		_, err := asSA.Resource(memberClusters).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err == nil {
			_, err = asSA.Resource(leases).Namespace(ns).Get(ctx, "none", metav1.GetOptions{})
		}
		return err == nil || apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	var denied forbidden
	cfg.WrapTransport = transport.Wrappers(cfg.WrapTransport, denied.wrap)
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr)))
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- manager.Run(cctx, cfg, opts) }()
	// On the way out, also when a wait below fails: the forbidden requests are the likely
	// reason of a failure.
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("controller: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("controller did not stop within 30s")
		}
		if calls := denied.list(); len(calls) > 0 {
			t.Errorf("the chart's RBAC forbade %d requests of the controller (add +kubebuilder:rbac markers, or rules to templates/role.yaml):\n%s",
				len(calls), strings.Join(calls, "\n"))
		}
	}()

	eventually(t, &denied, "the controller holds the leader-election Lease", func() (bool, string) {
		l, err := env.Hub.Clientset().CoordinationV1().Leases(ns).Get(ctx, "fleetscale-controller.keda.kedify.io", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return ptr.Deref(l.Spec.HolderIdentity, "") != "", "no holder"
	})
	eventually(t, &denied, "member "+memberName+" Ready", func() (bool, string) {
		mc, err := h.dyn.Resource(memberClusters).Namespace(ns).Get(ctx, memberName, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		conds, _, _ := unstructured.NestedSlice(mc.Object, "status", "conditions")
		for _, c := range conds {
			if c := c.(map[string]any); c["type"] == "Ready" {
				return c["status"] == "True", fmt.Sprint(c)
			}
		}
		return false, "no Ready condition"
	})

	// The walkthrough's first step: metric 20, target 5 → 4 replicas.
	objs, err := decode([]byte(fleettest.Walkthrough(t, "walkthrough-step5.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if err := h.apply(ctx, o, "default", false); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, &denied, "nginx in "+memberName+" scaled to 4", func() (bool, string) {
		s, err := member.Clientset().AppsV1().Deployments("default").GetScale(ctx, "nginx", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return s.Spec.Replicas == 4, fmt.Sprintf("%d replicas", s.Spec.Replicas)
	})
	t.Run("secure metrics", func(t *testing.T) {
		scrapeSecureMetrics(ctx, t, env, r, opts.MetricsBindAddress)
	})
	eventually(t, &denied, "the DSO's status reports the member", func() (bool, string) {
		dso, err := h.dyn.Resource(dsos).Namespace("default").Get(ctx, "nginx", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		st, _, _ := unstructured.NestedMap(dso.Object, "status", "memberClusterStatuses", memberName)
		return st != nil, fmt.Sprint(dso.Object["status"])
	})
}

var (
	memberClusters = keda("memberclusters")
	dsos           = keda("distributedscaledobjects")
	leases         = schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}
)

func keda(resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: "keda.kedify.io", Version: "v1alpha1", Resource: resource}
}

// forbidden records the requests an apiserver answered 403 Forbidden.
type forbidden struct {
	mu    sync.Mutex
	calls []string
}

func (f *forbidden) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		if err == nil && resp.StatusCode == http.StatusForbidden {
			f.mu.Lock()
			f.calls = append(f.calls, req.Method+" "+req.URL.RequestURI())
			f.mu.Unlock()
		}
		return resp, err
	})
}

func (f *forbidden) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Compact(slices.Sorted(slices.Values(f.calls)))
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
