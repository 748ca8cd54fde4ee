package helm

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	"github.com/fleetscale/fleetscale/internal/manager"
)

const (
	chartDir = "../../charts/fleetscale"
	// The controller flag for the KEDA scalers adapter.
	externalScalerFlag = "external-scaler-address"
)

// externalScalerTLSFlags are the controller's client TLS flags for the adapter
// (docs/adapter.md, "What a request becomes"); controllerFlags accepts them while the controller lacks them.
var externalScalerTLSFlags = []string{"external-scaler-ca-file", "external-scaler-cert-file", "external-scaler-key-file", "external-scaler-server-name"}

// kubeVersion is what the chart is rendered for when no apiserver tells (the version the
// harness runs; the chart's kubeVersion constraint is checked against it).
var kubeVersion = chartutil.KubeVersion{Version: "v1.37.2", Major: "1", Minor: "37"}

// release is the chart rendered the way `helm install` renders it.
type release struct {
	name, namespace string
	// objects are the templates' objects in Helm's install order; crds those of crds/.
	objects []*unstructured.Unstructured
	crds    []*unstructured.Unstructured
	notes   string
}

func render(t testing.TB, name, namespace string, values map[string]any, kv chartutil.KubeVersion) *release {
	t.Helper()
	r, err := tryRender(name, namespace, values, kv)
	if err != nil {
		t.Fatalf("render %s in %s with %v: %v", name, namespace, values, err)
	}
	return r
}

func tryRender(name, namespace string, values map[string]any, kv chartutil.KubeVersion) (*release, error) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		return nil, err
	}
	if !chartutil.IsCompatibleRange(ch.Metadata.KubeVersion, kv.String()) {
		return nil, errors.New("chart's kubeVersion " + ch.Metadata.KubeVersion + " excludes " + kv.String())
	}
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = kv
	vals, err := chartutil.ToRenderValues(ch, values,
		chartutil.ReleaseOptions{Name: name, Namespace: namespace, Revision: 1, IsInstall: true}, caps)
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(ch, vals)
	if err != nil {
		return nil, err
	}
	r := &release{name: name, namespace: namespace}
	for path, content := range files {
		if strings.HasSuffix(path, "/NOTES.txt") {
			r.notes = content
			delete(files, path)
		}
	}
	hooks, manifests, err := releaseutil.SortManifests(files, caps.APIVersions, releaseutil.InstallOrder)
	if err != nil {
		return nil, err
	}
	if len(hooks) > 0 {
		return nil, errors.New("the chart has hooks; the tests do not expect any")
	}
	for _, m := range manifests {
		objs, err := decode([]byte(m.Content))
		if err != nil {
			return nil, errors.New(m.Name + ": " + err.Error())
		}
		r.objects = append(r.objects, objs...)
	}
	for _, crd := range ch.CRDObjects() {
		objs, err := decode(crd.File.Data)
		if err != nil {
			return nil, errors.New(crd.Filename + ": " + err.Error())
		}
		r.crds = append(r.crds, objs...)
	}
	return r, nil
}

func decode(data []byte) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		if len(u.Object) > 0 {
			out = append(out, &u)
		}
	}
}

// find returns the one object of kind and name, failing the test when there is not exactly one.
func (r *release) find(t testing.TB, kind, name string) *unstructured.Unstructured {
	t.Helper()
	var found []*unstructured.Unstructured
	for _, o := range r.objects {
		if o.GetKind() == kind && o.GetName() == name {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d objects %s %s rendered, want 1; rendered: %s", len(found), kind, name, r.summary())
	}
	return found[0]
}

func (r *release) has(kind string) bool {
	return slices.ContainsFunc(r.objects, func(o *unstructured.Unstructured) bool { return o.GetKind() == kind })
}

func (r *release) summary() string {
	var s []string
	for _, o := range r.objects {
		s = append(s, o.GetKind()+" "+o.GetNamespace()+"/"+o.GetName())
	}
	return strings.Join(s, ", ")
}

// typed converts an object into its Go type, failing on fields the type does not have.
func typed[T any](t testing.TB, u *unstructured.Unstructured) *T {
	t.Helper()
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, out, true); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return out
}

// controllerFlags parses args with the flags of cmd/fleetscale-controller. The client TLS
// flags for the KEDA scalers adapter are accepted (and reported) while the controller lacks
// them.
func controllerFlags(t testing.TB, args []string) manager.Options {
	t.Helper()
	var o manager.Options
	fs := flag.NewFlagSet("fleetscale-controller", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.String("kubeconfig", "", "")
	o.BindFlags(fs)
	(&zap.Options{}).BindFlags(fs)
	for _, name := range externalScalerTLSFlags {
		if fs.Lookup(name) == nil {
			fs.String(name, "", "")
			if slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--"+name+"=") }) {
				t.Logf("the controller has no --%s yet; the chart passes it", name)
			}
		}
	}
	if err := fs.Parse(args); err != nil {
		t.Fatalf("the controller rejects the chart's arguments %q: %v", args, err)
	}
	if fs.NArg() > 0 {
		t.Fatalf("the controller ignores the chart's arguments %q", fs.Args())
	}
	return o
}

func container(t testing.TB, d *appsv1.Deployment, name string) corev1.Container {
	t.Helper()
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("Deployment %s has no container %s", d.Name, name)
	return corev1.Container{}
}

func port(t testing.TB, c corev1.Container, p intstr.IntOrString) int32 {
	t.Helper()
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	t.Fatalf("container %s has no port %q", c.Name, p.StrVal)
	return 0
}

// selects reports whether every label of selector is in labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func TestLint(t *testing.T) {
	for name, values := range map[string]map[string]any{"defaults": nil, "all enabled": allEnabled(), "every option": valuesOf(t, everyOption)} {
		t.Run(name, func(t *testing.T) {
			l := lint.AllWithKubeVersion(chartDir, values, "keda", &kubeVersion)
			for _, m := range l.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("helm lint: %v", m)
				} else {
					t.Logf("helm lint: %v", m)
				}
			}
		})
	}
}

func allEnabled() map[string]any {
	return map[string]any{
		"memberClusterNamespace": "fleet",
		"metrics":                map[string]any{"serviceMonitor": map[string]any{"enabled": true, "labels": map[string]any{"release": "prometheus"}}},
		"kedaScalers":            map[string]any{"enabled": true},
	}
}

// The install a user gets from `helm install fleetscale charts/fleetscale -n keda`.
func TestDefaults(t *testing.T) {
	r := render(t, "fleetscale", "keda", nil, kubeVersion)
	checkDefaults(t, r)
}

func checkDefaults(t *testing.T, r *release) {
	t.Helper()
	d := typed[appsv1.Deployment](t, r.find(t, "Deployment", "fleetscale-controller"))
	if d.Namespace != "keda" {
		t.Errorf("Deployment namespace %q, want keda", d.Namespace)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2", d.Spec.Replicas)
	}
	if !selects(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
		t.Errorf("selector %v does not select the pod labels %v", d.Spec.Selector.MatchLabels, d.Spec.Template.Labels)
	}
	pod := d.Spec.Template.Spec
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.SeccompProfile == nil ||
		psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v: want runAsNonRoot and seccomp RuntimeDefault", psc)
	}
	if psc != nil && (psc.RunAsUser == nil || *psc.RunAsUser != 65532) {
		t.Errorf("pod runAsUser %v, want 65532 (distroless nonroot)", psc.RunAsUser)
	}
	c := container(t, d, "controller")
	if c.Image != "ghcr.io/fleetscale/fleetscale-controller:0.1.0" {
		t.Errorf("image %q, want the appVersion tag", c.Image)
	}
	sc := c.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil ||
		!slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container securityContext %+v: want non-root, read-only root, no escalation, drop ALL", sc)
	}
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if c.Resources.Requests.Name(res, "").IsZero() || c.Resources.Limits.Name(res, "").IsZero() {
			t.Errorf("no %s request and limit: %+v", res, c.Resources)
		}
	}
	for _, p := range []struct {
		probe *corev1.Probe
		path  string
	}{{c.LivenessProbe, "/healthz"}, {c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || port(t, c, p.probe.HTTPGet.Port) != 8081 {
			t.Errorf("probe %+v, want GET %s on 8081", p.probe, p.path)
		}
	}
	if port(t, c, intstr.FromString("https-metrics")) != 8080 {
		t.Errorf("metrics port is not 8080 named https-metrics")
	}
	if !slices.Contains(c.Args, "--leader-elect") {
		t.Errorf("args %q lack --leader-elect", c.Args)
	}
	o := controllerFlags(t, c.Args)
	// The controller's defaults (so a new flag does not break this), then what the chart sets.
	want := controllerFlags(t, adapterClientArgs("keda", 9090))
	want.Namespace, want.LeaderElect = "keda", true
	want.MetricsBindAddress, want.HealthProbeBindAddress = ":8080", ":8081"
	want.MemberProbeInterval, want.MemberProbeTimeout = 5*time.Second, 3*time.Second
	want.MemberCallTimeout, want.HPASyncPeriod = 5*time.Second, 15*time.Second
	want.MetricsSecure = true
	if diff := cmp.Diff(want, o); diff != "" {
		t.Errorf("controller options from the chart's args (-want +got):\n%s", diff)
	}
	checkKedaScalers(t, r, "keda", 9090)

	sa := r.find(t, "ServiceAccount", "fleetscale-controller")
	if pod.ServiceAccountName != sa.GetName() || sa.GetNamespace() != "keda" {
		t.Errorf("pod runs as %q, the chart's ServiceAccount is %s/%s", pod.ServiceAccountName, sa.GetNamespace(), sa.GetName())
	}
	checkRBAC(t, r, "fleetscale-controller", "fleetscale-controller", "keda", "keda")

	svc := typed[corev1.Service](t, r.find(t, "Service", "fleetscale-controller-metrics"))
	if !selects(svc.Spec.Selector, d.Spec.Template.Labels) || len(svc.Spec.Ports) != 1 ||
		svc.Spec.Ports[0].Port != 8080 || port(t, c, svc.Spec.Ports[0].TargetPort) != 8080 {
		t.Errorf("metrics Service %+v does not serve the pods' port 8080", svc.Spec)
	}
	pdb := r.find(t, "PodDisruptionBudget", "fleetscale-controller")
	if sel, _, _ := unstructured.NestedStringMap(pdb.Object, "spec", "selector", "matchLabels"); !selects(sel, d.Spec.Template.Labels) {
		t.Errorf("PodDisruptionBudget selector %v does not select the pods", sel)
	}
	for _, kind := range []string{"ServiceMonitor"} {
		if r.has(kind) {
			t.Errorf("%s rendered by default", kind)
		}
	}
	checkTenancy(t, r, "fleetscale")
	checkSecureMetrics(t, r, "fleetscale-controller", "fleetscale-controller", "keda")
	if n := len(r.objects); n != 22 {
		t.Errorf("%d objects rendered, want 22 (controller: ServiceAccount, ClusterRoles controller, metrics-auth, metrics-reader, tenant-edit, tenant-view, "+
			"ClusterRoleBindings controller, metrics-auth, Role, RoleBinding, Service, Deployment, PodDisruptionBudget, ValidatingAdmissionPolicy and its binding; "+
			"adapter: ServiceAccount, ClusterRole, ClusterRoleBinding, two TLS Secrets, Deployment, Service): %s", n, r.summary())
	}
	for _, w := range []string{"kubectl fleetscale mc setup-member NAME -n keda", "--member-kubeconfig", "rollout status deployment/fleetscale-controller"} {
		if !strings.Contains(r.notes, w) {
			t.Errorf("NOTES.txt lacks %q:\n%s", w, r.notes)
		}
	}
}

// checkRBAC checks the ClusterRole against config/rbac/role.yaml, the Role in the
// registrations' namespace against what leader election needs, and that both are bound to
// the controller's ServiceAccount.
func checkRBAC(t *testing.T, r *release, name, serviceAccount, releaseNS, memberNS string) {
	t.Helper()
	data, err := os.ReadFile("../../config/rbac/role.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var generated rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(data, &generated); err != nil {
		t.Fatalf("config/rbac/role.yaml: %v", err)
	}
	cr := typed[rbacv1.ClusterRole](t, r.find(t, "ClusterRole", name))
	if diff := cmp.Diff(generated.Rules, cr.Rules); diff != "" {
		t.Errorf("the chart's ClusterRole differs from config/rbac/role.yaml (run make generate) (-generated +chart):\n%s", diff)
	}
	subject := rbacv1.Subject{Kind: "ServiceAccount", Name: serviceAccount, Namespace: releaseNS}
	crb := typed[rbacv1.ClusterRoleBinding](t, r.find(t, "ClusterRoleBinding", name))
	if crb.RoleRef != (rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}) || !slices.Equal(crb.Subjects, []rbacv1.Subject{subject}) {
		t.Errorf("ClusterRoleBinding %+v does not bind ClusterRole %s to %+v", crb, name, subject)
	}
	role := typed[rbacv1.Role](t, r.find(t, "Role", name))
	rb := typed[rbacv1.RoleBinding](t, r.find(t, "RoleBinding", name))
	if role.Namespace != memberNS || rb.Namespace != memberNS {
		t.Errorf("Role in %q and RoleBinding in %q, want both in %q where the Lease lives", role.Namespace, rb.Namespace, memberNS)
	}
	if rb.RoleRef != (rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}) || !slices.Equal(rb.Subjects, []rbacv1.Subject{subject}) {
		t.Errorf("RoleBinding %+v does not bind Role %s to %+v", rb, name, subject)
	}
	allows := func(group, resource string, verbs ...string) bool {
		return slices.ContainsFunc(role.Rules, func(pr rbacv1.PolicyRule) bool {
			return slices.Contains(pr.APIGroups, group) && slices.Contains(pr.Resources, resource) &&
				!slices.ContainsFunc(verbs, func(v string) bool { return !slices.Contains(pr.Verbs, v) })
		})
	}
	if !allows("coordination.k8s.io", "leases", "get", "create", "update") || !allows("", "events", "create") {
		t.Errorf("Role rules %+v do not allow leader election (leases get/create/update, events create)", role.Rules)
	}
}

// The chart ships copies of the generated CRDs; make generate refreshes them.
func TestCRDsAreTheGeneratedOnes(t *testing.T) {
	generated, err := filepath.Glob("../../config/crd/bases/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := filepath.Glob(filepath.Join(chartDir, "crds", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	base := func(paths []string) []string {
		var out []string
		for _, p := range paths {
			out = append(out, filepath.Base(p))
		}
		return out
	}
	if !slices.Equal(base(generated), base(shipped)) {
		t.Fatalf("chart crds/ has %v, config/crd/bases has %v: run make generate", base(shipped), base(generated))
	}
	for _, g := range generated {
		a, _ := os.ReadFile(g)
		b, err := os.ReadFile(filepath.Join(chartDir, "crds", filepath.Base(g)))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("chart crds/%s differs from config/crd/bases (err %v): run make generate", filepath.Base(g), err)
		}
	}
	r := render(t, "fleetscale", "keda", nil, kubeVersion)
	if len(r.crds) != len(generated) {
		t.Errorf("Helm sees %d CRDs in crds/, want %d", len(r.crds), len(generated))
	}
}

// ServiceMonitor and the KEDA scalers adapter on, registrations in their own namespace.
func TestAllEnabled(t *testing.T) {
	r := render(t, "fleetscale", "platform", allEnabled(), kubeVersion)
	checkAllEnabled(t, r)
}

func checkAllEnabled(t *testing.T, r *release) {
	t.Helper()
	d := typed[appsv1.Deployment](t, r.find(t, "Deployment", "fleetscale-controller"))
	c := container(t, d, "controller")
	wantAddr := "--" + externalScalerFlag + "=fleetscale-keda-scalers.platform.svc:9090"
	if !slices.Contains(c.Args, wantAddr) {
		t.Errorf("controller args %q lack %s", c.Args, wantAddr)
	}
	if o := controllerFlags(t, c.Args); o.Namespace != "fleet" || !o.LeaderElect {
		t.Errorf("controller --namespace %q leader-elect %v, want fleet and true", o.Namespace, o.LeaderElect)
	}
	checkRBAC(t, r, "fleetscale-controller", "fleetscale-controller", "platform", "fleet")

	checkKedaScalers(t, r, "platform", 9090)
	ksvc := typed[corev1.Service](t, r.find(t, "Service", "fleetscale-keda-scalers"))

	sm := r.find(t, "ServiceMonitor", "fleetscale-controller")
	metrics := typed[corev1.Service](t, r.find(t, "Service", "fleetscale-controller-metrics"))
	sel, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	if !selects(sel, metrics.Labels) || selects(sel, ksvc.Labels) {
		t.Errorf("ServiceMonitor selector %v: want the metrics Service (labels %v) and not the adapter's", sel, metrics.Labels)
	}
	if sm.GetLabels()["release"] != "prometheus" {
		t.Errorf("ServiceMonitor labels %v lack metrics.serviceMonitor.labels", sm.GetLabels())
	}
	eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if len(eps) != 1 || eps[0].(map[string]any)["port"] != metrics.Spec.Ports[0].Name || eps[0].(map[string]any)["path"] != "/metrics" {
		t.Errorf("ServiceMonitor endpoints %v, want port %q path /metrics", eps, metrics.Spec.Ports[0].Name)
	} else if ep := eps[0].(map[string]any); ep["scheme"] != "https" || ep["bearerTokenFile"] != "/var/run/secrets/kubernetes.io/serviceaccount/token" ||
		ep["tlsConfig"] == nil {
		t.Errorf("ServiceMonitor endpoint %v: want https with the scraper's ServiceAccount token and a tlsConfig (metrics.secure)", ep)
	}
	if ns, _, _ := unstructured.NestedStringSlice(sm.Object, "spec", "namespaceSelector", "matchNames"); !slices.Equal(ns, []string{"platform"}) {
		t.Errorf("ServiceMonitor namespaceSelector %v, want the release namespace", ns)
	}
	if !strings.Contains(r.notes, "mc setup-member NAME -n fleet") {
		t.Errorf("NOTES.txt does not register members into memberClusterNamespace:\n%s", r.notes)
	}
}

// Values the schema or the templates must refuse, and variants that change what renders.
func TestValues(t *testing.T) {
	for _, tc := range []struct {
		name    string
		values  string
		wantErr string
		check   func(t *testing.T, r *release)
	}{
		{name: "duration without unit", values: "memberProbe: {interval: 5}", wantErr: "/memberProbe/interval"},
		{name: "misspelt key", values: "kedaScaler: {enabled: true}", wantErr: "kedaScaler"},
		{name: "no replicas", values: "replicaCount: 0", wantErr: "replicaCount"},
		{name: "bad namespace", values: "memberClusterNamespace: Fleet_1", wantErr: "memberClusterNamespace"},
		{name: "existing ServiceAccount without name", values: "serviceAccount: {create: false}", wantErr: "serviceAccount.name is required"},
		{name: "one replica: no PodDisruptionBudget", values: "replicaCount: 1", check: func(t *testing.T, r *release) {
			if r.has("PodDisruptionBudget") {
				t.Error("a PodDisruptionBudget for a single replica would block every drain")
			}
		}},
		{name: "existing ServiceAccount", values: "serviceAccount: {create: false, name: ops}", check: func(t *testing.T, r *release) {
			// The adapter's own ServiceAccount is not the controller's.
			for _, o := range r.objects {
				if o.GetKind() == "ServiceAccount" && o.GetName() != "fleetscale-keda-scalers" {
					t.Errorf("ServiceAccount %s created with serviceAccount.create=false", o.GetName())
				}
			}
			d := typed[appsv1.Deployment](t, r.find(t, "Deployment", "fleetscale-controller"))
			rb := typed[rbacv1.RoleBinding](t, r.find(t, "RoleBinding", "fleetscale-controller"))
			if d.Spec.Template.Spec.ServiceAccountName != "ops" || rb.Subjects[0].Name != "ops" {
				t.Errorf("pod runs as %q, RoleBinding binds %q; want ops", d.Spec.Template.Spec.ServiceAccountName, rb.Subjects[0].Name)
			}
		}},
		{name: "adapter disabled", values: "kedaScalers: {enabled: false}", check: func(t *testing.T, r *release) {
			for _, o := range r.objects {
				if strings.Contains(o.GetName(), "keda-scalers") {
					t.Errorf("%s %s rendered with kedaScalers.enabled=false", o.GetKind(), o.GetName())
				}
			}
			d := typed[appsv1.Deployment](t, r.find(t, "Deployment", "fleetscale-controller"))
			c := container(t, d, "controller")
			if slices.ContainsFunc(c.Args, func(a string) bool { return strings.Contains(a, "external-scaler") }) || len(c.VolumeMounts) > 0 {
				t.Errorf("controller args %q mounts %v: the adapter's flags and certificate with the adapter disabled", c.Args, c.VolumeMounts)
			}
		}},
		{name: "adapter with certificates of your own", values: "kedaScalers: {tls: {generate: false, serverSecretName: scalers-cert, clientSecretName: ctrl-cert}}", check: func(t *testing.T, r *release) {
			if r.has("Secret") {
				t.Errorf("Secrets rendered with kedaScalers.tls.generate=false: %s", r.summary())
			}
			ks := typed[appsv1.Deployment](t, r.find(t, "Deployment", "fleetscale-keda-scalers"))
			d := typed[appsv1.Deployment](t, r.find(t, "Deployment", "fleetscale-controller"))
			if v := ks.Spec.Template.Spec.Volumes; len(v) == 0 || v[0].Secret == nil || v[0].Secret.SecretName != "scalers-cert" {
				t.Errorf("adapter volumes %+v, want Secret scalers-cert", v)
			}
			if v := d.Spec.Template.Spec.Volumes; len(v) != 1 || v[0].Secret == nil || v[0].Secret.SecretName != "ctrl-cert" {
				t.Errorf("controller volumes %+v, want Secret ctrl-cert", v)
			}
		}},
		{name: "no RBAC", values: "rbac: {create: false}", check: func(t *testing.T, r *release) {
			for _, k := range []string{"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"} {
				if r.has(k) {
					t.Errorf("%s rendered with rbac.create=false", k)
				}
			}
		}},
		{name: "every option", values: everyOption, check: checkEveryOption},
		{name: "shard without selector", values: "shards: [{name: a}]", wantErr: "selector"},
		{name: "shards", values: "shards: [{name: a, selector: 'fleetscale.dev/shard=a'}, {name: b, selector: 'fleetscale.dev/shard!=a', replicaCount: 1}]", check: checkShards},
		{name: "shards, the second manages MemberClusters", values: "shards: [{name: a, selector: x=a}, {name: b, selector: x=b, manageMemberClusters: true}]", check: func(t *testing.T, r *release) {
			for name, want := range map[string]bool{"fleetscale-controller-a": false, "fleetscale-controller-b": true} {
				d := typed[appsv1.Deployment](t, r.find(t, "Deployment", name))
				if o := controllerFlags(t, container(t, d, "controller").Args); !o.SkipMemberClusterWrites != want {
					t.Errorf("%s: --manage-member-clusters=%t, want %t", name, !o.SkipMemberClusterWrites, want)
				}
			}
		}},
		{name: "unknown validation action", values: "tenancy: {admissionPolicy: {validationActions: [Block]}}", wantErr: "validationActions"},
		{name: "plain metrics", values: "metrics: {secure: false, serviceMonitor: {enabled: true}}", check: func(t *testing.T, r *release) {
			d := typed[appsv1.Deployment](t, r.find(t, "Deployment", "fleetscale-controller"))
			c := container(t, d, "controller")
			if o := controllerFlags(t, c.Args); o.MetricsSecure || port(t, c, intstr.FromString("http-metrics")) != 8080 {
				t.Errorf("metrics.secure=false: args %q, ports %+v; want plain http-metrics", c.Args, c.Ports)
			}
			for _, name := range []string{"fleetscale-controller-metrics-auth", "fleetscale-metrics-reader"} {
				if slices.ContainsFunc(r.objects, func(o *unstructured.Unstructured) bool { return o.GetName() == name }) {
					t.Errorf("%s rendered without metrics.secure", name)
				}
			}
			eps, _, _ := unstructured.NestedSlice(r.find(t, "ServiceMonitor", "fleetscale-controller").Object, "spec", "endpoints")
			if ep := eps[0].(map[string]any); ep["scheme"] != "http" || ep["port"] != "http-metrics" || ep["bearerTokenFile"] != nil {
				t.Errorf("ServiceMonitor endpoint %v, want plain http", ep)
			}
		}},
		{name: "no admission policy, no aggregated roles", values: "tenancy: {admissionPolicy: {enabled: false}, aggregateRoles: false}", check: func(t *testing.T, r *release) {
			for _, k := range []string{"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"} {
				if r.has(k) {
					t.Errorf("%s rendered with tenancy.admissionPolicy.enabled=false", k)
				}
			}
			for _, o := range r.objects {
				if strings.Contains(o.GetName(), "tenant-") {
					t.Errorf("%s %s rendered with tenancy.aggregateRoles=false", o.GetKind(), o.GetName())
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tryRender("fleetscale", "keda", valuesOf(t, tc.values), kubeVersion)
			switch {
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("render error %v, want one naming %q", err, tc.wantErr)
			case tc.wantErr == "" && err != nil:
				t.Fatalf("render: %v", err)
			case tc.check != nil:
				tc.check(t, r)
			}
		})
	}
	// The base name follows Helm's convention: RELEASE-fleetscale unless the release name
	// already says fleetscale.
	r := render(t, "prod", "keda", map[string]any{"kedaScalers": map[string]any{"enabled": true}}, kubeVersion)
	r.find(t, "Deployment", "prod-fleetscale-controller")
	r.find(t, "Service", "prod-fleetscale-keda-scalers")
	// Kubernetes 1.29 has no GA ValidatingAdmissionPolicy: the chart installs without it (the
	// controller still enforces the boundary).
	if r, err := tryRender("fleetscale", "keda", nil, chartutil.KubeVersion{Version: "v1.29.4", Major: "1", Minor: "29"}); err != nil || r.has("ValidatingAdmissionPolicy") {
		t.Errorf("Kubernetes 1.29: render error %v; want no ValidatingAdmissionPolicy", err)
	}
	if _, err := tryRender("fleetscale", "keda", nil, chartutil.KubeVersion{Version: "v1.28.9", Major: "1", Minor: "28"}); err == nil {
		t.Error("the chart accepts Kubernetes 1.28, whose CRDs lack GA CEL validation")
	}
}

func valuesOf(t testing.TB, values string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(values), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// everyOption sets every value the chart has, to prove each renders into valid objects.
const everyOption = `
image: {repository: example.com/fleetscale, digest: "sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"}
imagePullSecrets: [{name: regcred}]
replicaCount: 3
leaderElection: {enabled: true}
memberClusterNamespace: registrations
memberProbe: {interval: 2s, timeout: 1500ms}
memberCallTimeout: 4s
memberClient: {qps: 200, burst: 400}
hpaSyncPeriod: 30s
concurrentReconciles: 25
logLevel: debug
extraArgs: [--zap-encoder=console]
extraEnv: [{name: GOMEMLIMIT, value: 400MiB}]
serviceAccount: {create: true, name: fleet-ctrl, annotations: {example.com/role: fleet}}
rbac: {create: true}
tenancy:
  admissionPolicy: {enabled: true, validationActions: [Warn, Audit], namespaceSelector: {matchLabels: {fleetscale-tenants: "true"}}}
  aggregateRoles: true
podAnnotations: {example.com/scrape: "false"}
podLabels: {team: platform}
podSecurityContext: {runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, seccompProfile: {type: RuntimeDefault}}
resources: {requests: {cpu: 50m, memory: 64Mi}, limits: {memory: 256Mi}}
livenessProbe: {initialDelaySeconds: 1, periodSeconds: 5, timeoutSeconds: 1, failureThreshold: 6}
readinessProbe: {initialDelaySeconds: 1, periodSeconds: 5, timeoutSeconds: 1, failureThreshold: 2, successThreshold: 1}
nodeSelector: {kubernetes.io/os: linux}
tolerations: [{key: dedicated, operator: Equal, value: platform, effect: NoSchedule}]
affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/arch, operator: In, values: [amd64, arm64]}]}]
topologySpreadConstraints:
  - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {app.kubernetes.io/component: controller}}}
priorityClassName: system-cluster-critical
podDisruptionBudget: {enabled: true, maxUnavailable: 2}
metrics:
  secure: true
  certSecretName: fleetscale-metrics-tls
  readerSubjects: [{kind: ServiceAccount, name: prometheus-k8s, namespace: monitoring}]
  service: {type: ClusterIP, port: 9102, annotations: {example.com/metrics: "true"}}
  serviceMonitor:
    enabled: true
    tlsConfig: {serverName: fleetscale-controller-metrics.keda.svc, ca: {secret: {name: fleetscale-metrics-tls, key: ca.crt}}}
    labels: {release: prometheus}
    interval: 15s
    scrapeTimeout: 5s
    relabelings: [{action: replace, sourceLabels: [__meta_kubernetes_pod_node_name], targetLabel: node}]
    metricRelabelings: [{action: drop, sourceLabels: [__name__], regex: go_gc_.*}]
kedaScalers:
  enabled: true
  image: {repository: example.com/keda-scalers, tag: dev, pullPolicy: Always}
  replicaCount: 2
  port: 9443
  healthPort: 9444
  args: [--max-scalers=5000]
  tls: {generate: true, validityDays: 30}
  extraEnv: [{name: LOG_LEVEL, value: debug}]
  serviceAccount: {automountToken: true, annotations: {example.com/role: scalers}}
  podAnnotations: {example.com/team: platform}
  resources: {requests: {cpu: 10m, memory: 32Mi}}
  nodeSelector: {kubernetes.io/os: linux}
  tolerations: [{key: dedicated, operator: Exists}]
  affinity: {podAntiAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 1, podAffinityTerm: {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app.kubernetes.io/component: keda-scalers}}}}]}}
`

func checkEveryOption(t *testing.T, r *release) {
	t.Helper()
	d := typed[appsv1.Deployment](t, r.find(t, "Deployment", "fleetscale-controller"))
	pod := d.Spec.Template.Spec
	c := container(t, d, "controller")
	if c.Image != "example.com/fleetscale@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945" {
		t.Errorf("image %q, want the digest reference", c.Image)
	}
	o := controllerFlags(t, c.Args)
	if o.Namespace != "registrations" || o.MemberProbeInterval != 2*time.Second || o.MemberProbeTimeout != 1500*time.Millisecond ||
		o.MemberCallTimeout != 4*time.Second || o.MemberQPS != 200 || o.MemberBurst != 400 || o.HPASyncPeriod != 30*time.Second || o.ConcurrentReconciles != 25 || !slices.Contains(c.Args, "--zap-encoder=console") {
		t.Errorf("controller args %q do not carry the values", c.Args)
	}
	if *d.Spec.Replicas != 3 || pod.ServiceAccountName != "fleet-ctrl" || pod.PriorityClassName != "system-cluster-critical" ||
		len(pod.ImagePullSecrets) != 1 || len(c.Env) != 1 || pod.NodeSelector["kubernetes.io/os"] != "linux" || len(pod.Tolerations) != 1 ||
		pod.Affinity.NodeAffinity == nil || pod.Affinity.PodAntiAffinity != nil || len(pod.TopologySpreadConstraints) != 1 ||
		d.Spec.Template.Labels["team"] != "platform" || d.Spec.Template.Annotations["example.com/scrape"] != "false" {
		t.Errorf("controller pod does not carry the values: %+v", d.Spec.Template)
	}
	checkRBAC(t, r, "fleetscale-controller", "fleet-ctrl", "keda", "registrations")
	ks := typed[appsv1.Deployment](t, r.find(t, "Deployment", "fleetscale-keda-scalers"))
	kc := container(t, ks, "keda-scalers")
	if kc.Image != "example.com/keda-scalers:dev" || port(t, kc, intstr.FromString("grpc")) != 9443 || *ks.Spec.Replicas != 2 {
		t.Errorf("keda-scalers %s port %+v replicas %d do not carry the values", kc.Image, kc.Ports, *ks.Spec.Replicas)
	}
	if !slices.Contains(c.Args, "--"+externalScalerFlag+"=fleetscale-keda-scalers.keda.svc:9443") {
		t.Errorf("controller args %q do not point at the adapter's port 9443", c.Args)
	}
	if svc := typed[corev1.Service](t, r.find(t, "Service", "fleetscale-controller-metrics")); svc.Spec.Ports[0].Port != 9102 {
		t.Errorf("metrics Service port %d, want 9102", svc.Spec.Ports[0].Port)
	}
	r.find(t, "ServiceMonitor", "fleetscale-controller")
	r.find(t, "PodDisruptionBudget", "fleetscale-controller")
	mount := slices.IndexFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == "metrics-certs" })
	vol := slices.IndexFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == "metrics-certs" })
	if o.MetricsCertDir != "/etc/fleetscale/metrics-certs" || mount < 0 || c.VolumeMounts[mount].MountPath != o.MetricsCertDir ||
		vol < 0 || pod.Volumes[vol].Secret == nil || pod.Volumes[vol].Secret.SecretName != "fleetscale-metrics-tls" {
		t.Errorf("metrics.certSecretName: cert dir %q, mounts %+v, volumes %+v", o.MetricsCertDir, c.VolumeMounts, pod.Volumes)
	}
	crb := typed[rbacv1.ClusterRoleBinding](t, r.find(t, "ClusterRoleBinding", "fleetscale-metrics-reader"))
	if crb.RoleRef.Name != "fleetscale-metrics-reader" || len(crb.Subjects) != 1 || crb.Subjects[0].Name != "prometheus-k8s" {
		t.Errorf("metrics.readerSubjects not bound to the metrics-reader ClusterRole: %+v", crb)
	}
	b := r.find(t, "ValidatingAdmissionPolicyBinding", "fleetscale-tenant-boundary")
	actions, _, _ := unstructured.NestedStringSlice(b.Object, "spec", "validationActions")
	sel, _, _ := unstructured.NestedStringMap(b.Object, "spec", "matchResources", "namespaceSelector", "matchLabels")
	if !slices.Equal(actions, []string{"Warn", "Audit"}) || sel["fleetscale-tenants"] != "true" {
		t.Errorf("admission policy binding %v does not carry the values", b.Object["spec"])
	}
}

// checkTenancy: the admission policy and its binding, and the aggregated tenant roles, which
// grant DSOs and DSJs only (no TenantPolicies, MemberClusters or Secrets).
func checkTenancy(t *testing.T, r *release, fullname string) {
	t.Helper()
	vap := r.find(t, "ValidatingAdmissionPolicy", fullname+"-tenant-boundary")
	if fp, _, _ := unstructured.NestedString(vap.Object, "spec", "failurePolicy"); fp != "Fail" {
		t.Errorf("admission policy failurePolicy %q, want Fail", fp)
	}
	b := r.find(t, "ValidatingAdmissionPolicyBinding", fullname+"-tenant-boundary")
	if name, _, _ := unstructured.NestedString(b.Object, "spec", "policyName"); name != vap.GetName() {
		t.Errorf("binding names policy %q, want %q", name, vap.GetName())
	}
	if actions, _, _ := unstructured.NestedStringSlice(b.Object, "spec", "validationActions"); !slices.Equal(actions, []string{"Deny"}) {
		t.Errorf("binding validationActions %v, want [Deny]", actions)
	}
	for _, tc := range []struct {
		name      string
		aggregate []string
	}{
		{fullname + "-tenant-edit", []string{"aggregate-to-admin", "aggregate-to-edit"}},
		{fullname + "-tenant-view", []string{"aggregate-to-view"}},
	} {
		cr := typed[rbacv1.ClusterRole](t, r.find(t, "ClusterRole", tc.name))
		for _, a := range tc.aggregate {
			if cr.Labels["rbac.authorization.k8s.io/"+a] != "true" {
				t.Errorf("ClusterRole %s lacks label %s", tc.name, a)
			}
		}
		for _, rule := range cr.Rules {
			for _, res := range rule.Resources {
				if !strings.HasPrefix(res, "distributedscaled") || !slices.Equal(rule.APIGroups, []string{"keda.kedify.io"}) {
					t.Errorf("ClusterRole %s grants %v %s: tenants get DSOs and DSJs only", tc.name, rule.APIGroups, res)
				}
			}
		}
	}
}

// checkSecureMetrics: the controller may review tokens and access (and nothing else through
// that role), and a metrics-reader ClusterRole allows GET /metrics only.
func checkSecureMetrics(t *testing.T, r *release, controller, serviceAccount, releaseNS string) {
	t.Helper()
	auth := typed[rbacv1.ClusterRole](t, r.find(t, "ClusterRole", controller+"-metrics-auth"))
	want := []rbacv1.PolicyRule{
		{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
		{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
	}
	if diff := cmp.Diff(want, auth.Rules); diff != "" {
		t.Errorf("metrics-auth ClusterRole rules (-want +got):\n%s", diff)
	}
	crb := typed[rbacv1.ClusterRoleBinding](t, r.find(t, "ClusterRoleBinding", controller+"-metrics-auth"))
	if crb.RoleRef.Name != auth.Name || len(crb.Subjects) != 1 || crb.Subjects[0].Name != serviceAccount || crb.Subjects[0].Namespace != releaseNS {
		t.Errorf("metrics-auth ClusterRoleBinding %+v does not bind the controller's ServiceAccount", crb)
	}
	reader := typed[rbacv1.ClusterRole](t, r.find(t, "ClusterRole", strings.TrimSuffix(controller, "-controller")+"-metrics-reader"))
	if diff := cmp.Diff([]rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}}, reader.Rules); diff != "" {
		t.Errorf("metrics-reader ClusterRole rules (-want +got):\n%s", diff)
	}
}

// checkShards: one Deployment per shard, each with its selector, its own Lease and disjoint pod
// selectors; only the first writes MemberCluster status; PodDisruptionBudgets only for shards
// with more than one replica; the metrics Service selects every shard's pods.
func checkShards(t *testing.T, r *release) {
	if slices.ContainsFunc(r.objects, func(o *unstructured.Unstructured) bool {
		return o.GetKind() == "Deployment" && o.GetName() == "fleetscale-controller"
	}) {
		t.Error("the unsharded Deployment is rendered next to the shards")
	}
	a := typed[appsv1.Deployment](t, r.find(t, "Deployment", "fleetscale-controller-a"))
	b := typed[appsv1.Deployment](t, r.find(t, "Deployment", "fleetscale-controller-b"))
	oa := controllerFlags(t, container(t, a, "controller").Args)
	ob := controllerFlags(t, container(t, b, "controller").Args)
	if oa.WatchLabelSelector != "fleetscale.dev/shard=a" || ob.WatchLabelSelector != "fleetscale.dev/shard!=a" {
		t.Errorf("selectors %q, %q", oa.WatchLabelSelector, ob.WatchLabelSelector)
	}
	if oa.LeaderElectionID == ob.LeaderElectionID || oa.LeaderElectionID == manager.DefaultLeaderElectionID || !oa.LeaderElect || !ob.LeaderElect {
		t.Errorf("leases %q, %q (leader-elect %t, %t): want one per shard", oa.LeaderElectionID, ob.LeaderElectionID, oa.LeaderElect, ob.LeaderElect)
	}
	if oa.SkipMemberClusterWrites || !ob.SkipMemberClusterWrites {
		t.Errorf("--manage-member-clusters a=%t b=%t; want only the first", !oa.SkipMemberClusterWrites, !ob.SkipMemberClusterWrites)
	}
	if *a.Spec.Replicas != 2 || *b.Spec.Replicas != 1 {
		t.Errorf("replicas %d, %d; want 2 (replicaCount), 1", *a.Spec.Replicas, *b.Spec.Replicas)
	}
	if selects(a.Spec.Selector.MatchLabels, b.Spec.Template.Labels) || selects(b.Spec.Selector.MatchLabels, a.Spec.Template.Labels) {
		t.Errorf("shard Deployments select each other's pods: %v, %v", a.Spec.Selector.MatchLabels, b.Spec.Selector.MatchLabels)
	}
	pdb := r.find(t, "PodDisruptionBudget", "fleetscale-controller-a")
	sel, _, _ := unstructured.NestedStringMap(pdb.Object, "spec", "selector", "matchLabels")
	if !selects(sel, a.Spec.Template.Labels) || selects(sel, b.Spec.Template.Labels) {
		t.Errorf("PodDisruptionBudget of a selects %v", sel)
	}
	if slices.ContainsFunc(r.objects, func(o *unstructured.Unstructured) bool {
		return o.GetKind() == "PodDisruptionBudget" && o.GetName() == "fleetscale-controller-b"
	}) {
		t.Error("a PodDisruptionBudget for shard b's single replica")
	}
	svc := typed[corev1.Service](t, r.find(t, "Service", "fleetscale-controller-metrics"))
	if !selects(svc.Spec.Selector, a.Spec.Template.Labels) || !selects(svc.Spec.Selector, b.Spec.Template.Labels) {
		t.Errorf("metrics Service selector %v misses a shard", svc.Spec.Selector)
	}
}
