package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/fleetscale/fleetscale/internal/benchreport"
	"github.com/fleetscale/fleetscale/internal/clusterenv"
	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/manager"
	"github.com/fleetscale/fleetscale/internal/plugin"
)

// peerRow is one configuration measured side by side.
type peerRow struct {
	Name string
	// HPASyncPeriod is kube-controller-manager's --horizontal-pod-autoscaler-sync-period; 0
	// keeps its default (15s), which is what KEDA users get.
	HPASyncPeriod time.Duration
	// PollingInterval goes into both objects' spec; 0 leaves it out (KEDA's default, 30s).
	PollingInterval int
	// ScaleToZero makes the changes alternate between 0 and peerTotals' last, with
	// minReplicaCount 0 and cooldownPeriod 0: KEDA's own loop (every pollingInterval)
	// activates from zero, and the HPA or that loop brings the Deployment back down.
	ScaleToZero bool
}

var peerRows = []peerRow{
	{Name: "defaults"},
	{Name: "tuned", HPASyncPeriod: time.Second, PollingInterval: 1},
	{Name: "zero", ScaleToZero: true},
}

// KEDA's and kube-controller-manager's defaults.
const (
	defaultHPASyncPeriod   = 15 * time.Second
	defaultPollingInterval = 30
)

func (r peerRow) totals() []int32 {
	if r.ScaleToZero {
		return []int32{0, peerTotals[len(peerTotals)-1]}
	}
	return peerTotals
}

// phasePeriod is the period of the loop that makes KEDA react: the HPA's sync, and for
// activation from zero also KEDA's polling loop.
func (r peerRow) phasePeriod() time.Duration {
	p := r.HPASyncPeriod
	if p == 0 {
		p = defaultHPASyncPeriod
	}
	if r.ScaleToZero {
		p = max(p, time.Duration(r.pollingInterval())*time.Second)
	}
	return p
}

func (r peerRow) pollingInterval() int {
	if r.PollingInterval > 0 {
		return r.PollingInterval
	}
	return defaultPollingInterval
}

// changesEnv overrides how many ConfigMap changes each configuration gets (default 10).
const changesEnv = "FLEETSCALE_BENCH_KEDA_CHANGES"

// The two targets in the harness cluster, one per system, and the ConfigMap both read.
const (
	benchNamespace = "peer"
	kedaTarget     = "keda-app"
	fleetTarget    = "fleet-app"
	metricName     = "mock-metric"
	memberName     = "harness"
)

// peerTotals are the replica totals the ConfigMap asks for in turn (value = 5 × total, the
// trigger's targetValue is 5); each differs from the one before by more than the HPA's 10%
// tolerance. The objects start at the last one.
var peerTotals = []int32{6, 12, 9, 15}

// BenchmarkKEDAvsFleetscale runs real KEDA and fleetscale on one harness cluster and times,
// for the same ConfigMap change, how long each takes until its Deployment's spec.replicas
// changes. It prints a table and writes its section of docs/benchmarks.md when every
// configuration ran with KEDA. Run: make bench, or
//
//	go test -run '^$' -bench KEDAvsFleetscale -benchtime 1x -timeout 30m ./test/bench/
func BenchmarkKEDAvsFleetscale(b *testing.B) {
	changes := 10
	if v := os.Getenv(changesEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("%s=%q: want a positive integer", changesEnv, v)
		}
		changes = n
	}
	// The benchmark's own clients log nothing worth reading; the processes log to files.
	ctrllog.SetLogger(logr.Discard())
	root, err := clusterenv.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	controller := buildController(b, root)
	m := describeMachine()
	var results []peerResult
	for _, r := range peerRows {
		b.Run(r.Name, func(b *testing.B) {
			res := runPeerRow(b, r, changes, root, controller)
			results = append(results, res)
			reportMetrics(b, res)
		})
	}
	table := renderTable(results)
	fmt.Print("\n" + table)
	if !complete(results) {
		b.Logf("docs/benchmarks.md not written: only a complete run (every configuration, KEDA measured) replaces its KEDA section")
		return
	}
	path := benchreport.DocPath(root)
	if err := benchreport.WriteSection(path, docHeader, "keda", benchreport.Demote(renderMarkdown(results, m))); err != nil {
		b.Fatal(err)
	}
	fmt.Printf("wrote %s\n", path)
}

// buildController builds fleetscale-controller from this tree, so the benchmark runs what
// users run (a process with its default flags) and never a stale bin/.
func buildController(b *testing.B, root string) string {
	out := filepath.Join(b.TempDir(), "fleetscale-controller")
	start := time.Now()
	cmd := exec.Command("go", "build", "-o", out, "./cmd/fleetscale-controller")
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build ./cmd/fleetscale-controller: %v\n%s", err, msg)
	}
	b.Logf("built fleetscale-controller in %.1fs", time.Since(start).Seconds())
	return out
}

// runPeerRow starts a harness cluster with KEDA and fleetscale, then makes the changes.
// A KEDA part that cannot run is reported in the result and fleetscale is measured alone.
func runPeerRow(b *testing.B, r peerRow, changes int, root, controller string) peerResult {
	ctx := context.Background()
	begin := time.Now()
	res := peerResult{Row: r, Changes: changes, Seed: time.Now().UnixNano(), LoadAtStart: loadAverage()}
	env := clusterenv.StartForTest(b, clusterenv.Options{
		Hub:    clusterenv.ClusterOptions{Full: true, Aggregation: true, HPASyncPeriod: r.HPASyncPeriod},
		CRDDir: filepath.Join(root, "config", "crd", "bases"),
	})
	harness := env.Hub
	c, err := client.New(harness.Config, client.Options{Scheme: manager.Scheme()})
	if err != nil {
		b.Fatal(err)
	}
	if sv, err := harness.Clientset().Discovery().ServerVersion(); err == nil {
		res.KubernetesVersion = sv.GitVersion
	}

	// fleetscale: the harness is its own member (its hub namespace holds the DSO and the
	// ConfigMap, its member side the target), registered as setup-member does.
	if _, err := plugin.SetupMember(ctx, plugin.SetupOptions{Name: memberName, Hub: harness.Config, Member: harness.Config}); err != nil {
		b.Fatalf("setup-member: %v", err)
	}
	fleet, err := startProcess(b, "fleetscale-controller", filepath.Join(env.Dir, "fleetscale-controller.log"), nil,
		controller, "--kubeconfig="+harness.KubeconfigPath, "--metrics-bind-address=0", "--health-probe-bind-address=0")
	if err != nil {
		b.Fatal(err)
	}
	res.Fleetscale.System = "fleetscale"
	res.KEDA.System = "KEDA"

	var k *kedaRun
	if bins, err := findKEDABins(); err != nil {
		res.KEDA.Failed = err.Error()
	} else if k, err = startKEDA(ctx, b, harness, c, bins, filepath.Join(env.Dir, "keda")); err != nil {
		res.KEDA.Failed = "KEDA did not start: " + err.Error()
		k = nil
	}
	if res.KEDA.Failed != "" {
		b.Logf("KEDA is not measured: %s", res.KEDA.Failed)
	}

	if err := ensureNamespace(ctx, c, benchNamespace); err != nil {
		b.Fatal(err)
	}
	totals := r.totals()
	initial := totals[len(totals)-1]
	setMetric(b, c, initial)
	targets := map[string]*systemResult{fleetTarget: &res.Fleetscale}
	createTarget(b, c, fleetTarget)
	fleettest.Apply(b, c, benchNamespace, dsoManifest(r))
	if k != nil {
		targets[kedaTarget] = &res.KEDA
		createTarget(b, c, kedaTarget)
		fleettest.Apply(b, c, benchNamespace, scaledObjectManifest(r))
	}
	res.ObjectSpec = objectSpec(r, "<target>")

	dl := watchDeployments(b, harness, benchNamespace)
	procs := map[string][]*process{fleetTarget: {fleet}}
	if k != nil {
		procs[kedaTarget] = []*process{k.Operator, k.Adapter}
	}
	// Both systems first take the Deployments from 1 replica to the initial total.
	for name, why := range dl.waitSettled(ctx, targets, procs, initial, 3*time.Minute) {
		targets[name].Failed = "never reached the initial total: " + why + diagnose(ctx, c, name)
		delete(targets, name)
	}
	if _, ok := targets[fleetTarget]; !ok {
		b.Fatalf("fleetscale: %s\n%s", res.Fleetscale.Failed, tailFile(fleet.logPath, 20))
	}

	period := r.phasePeriod()
	perChange := 2*max(period, time.Duration(r.pollingInterval())*time.Second) + time.Minute
	rng := rand.New(rand.NewPCG(uint64(res.Seed), 0))
	for i := 0; i < changes; i++ {
		want := totals[i%len(totals)]
		// A deliberate pause, not a wait for a condition: KEDA reacts at the next tick of a
		// periodic loop, and a change made right after the previous reaction would always
		// land just after a tick and measure the full period. A random phase samples it.
		time.Sleep(time.Duration(rng.Int64N(int64(period))))
		start := time.Now()
		setMetric(b, c, want)
		failed := dl.waitSettled(ctx, targets, procs, want, perChange)
		for name, t := range targets {
			if why, bad := failed[name]; bad {
				t.Failed = fmt.Sprintf("change %d (to %d replicas): %s%s", i+1, want, why, diagnose(ctx, c, name))
				delete(targets, name)
				continue
			}
			ch, ok := dl.firstChangeAfter(name, start)
			if !ok {
				// Settled without a change: the previous value already matched (cannot happen
				// with peerTotals, but never count it as a zero delay).
				t.Failed = fmt.Sprintf("change %d: settled at %d without a spec.replicas change", i+1, want)
				delete(targets, name)
				continue
			}
			t.Delays = append(t.Delays, ch.At.Sub(start))
			full, _ := dl.firstChangeTo(name, start, want) // settled, so it exists
			t.ToTotal = append(t.ToTotal, full.At.Sub(start))
			if ch.To != want {
				t.Notes = append(t.Notes, fmt.Sprintf("change %d went to %d first (%s), then %d (%s)",
					i+1, ch.To, ms(ch.At.Sub(start)), want, ms(full.At.Sub(start))))
			}
		}
		if _, ok := targets[fleetTarget]; !ok {
			b.Fatalf("fleetscale: %s\n%s", res.Fleetscale.Failed, tailFile(fleet.logPath, 20))
		}
	}
	res.Wall = time.Since(begin)
	res.Fleetscale.Usage = usageOf(b, fleet)
	if k != nil {
		res.KEDA.Usage = usageOf(b, k.Operator, k.Adapter)
	}
	return res
}

func usageOf(b *testing.B, procs ...*process) []namedUsage {
	var out []namedUsage
	for _, p := range procs {
		u, err := p.readUsage()
		if err != nil {
			b.Logf("usage of %s: %v", p.name, err)
			continue
		}
		out = append(out, namedUsage{Name: p.name, usage: u})
	}
	return out
}

// objectSpec is the ScaledObject spec both systems get, indented for a manifest.
func objectSpec(r peerRow, target string) string {
	var b strings.Builder
	b.WriteString("scaleTargetRef:\n  apiVersion: apps/v1\n  kind: Deployment\n  name: " + target + "\n")
	if r.PollingInterval > 0 {
		fmt.Fprintf(&b, "pollingInterval: %d\n", r.PollingInterval)
	}
	// Behaviour that allows every change in one step, identical for the HPA KEDA creates and
	// for fleetscale's HPA rules: the default scale-down stabilisation (300 s) would otherwise
	// be all either system shows for a decrease.
	if r.ScaleToZero {
		b.WriteString("minReplicaCount: 0\ncooldownPeriod: 0\n")
	} else {
		b.WriteString("minReplicaCount: 1\n")
	}
	b.WriteString(`maxReplicaCount: 100
advanced:
  horizontalPodAutoscalerConfig:
    behavior:
      scaleUp:
        stabilizationWindowSeconds: 0
        policies:
        - {type: Pods, value: 100, periodSeconds: 1}
      scaleDown:
        stabilizationWindowSeconds: 0
        policies:
        - {type: Pods, value: 100, periodSeconds: 1}
triggers:
- type: kubernetes-resource
  metadata:
    resourceKind: ConfigMap
    resourceName: ` + metricName + `
    key: metric-value
    targetValue: "5"
`)
	return b.String()
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}

func scaledObjectManifest(r peerRow) string {
	return "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n  name: " + kedaTarget + "\nspec:\n" +
		indent(objectSpec(r, kedaTarget), "  ")
}

func dsoManifest(r peerRow) string {
	return "apiVersion: keda.kedify.io/v1alpha1\nkind: DistributedScaledObject\nmetadata:\n  name: " + fleetTarget +
		"\nspec:\n  scaledObjectSpec:\n" + indent(objectSpec(r, fleetTarget), "    ")
}

func setMetric(b *testing.B, c client.Client, total int32) {
	b.Helper()
	fleettest.Apply(b, c, benchNamespace, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  metric-value: %q\n",
		metricName, strconv.Itoa(int(total)*5)))
}

func createTarget(b *testing.B, c client.Client, name string) {
	b.Helper()
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: benchNamespace, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
			},
		},
	}
	if err := c.Create(context.Background(), d); err != nil {
		b.Fatal(err)
	}
}

// diagnose says what the object driving target reports, for a failure message: the
// ScaledObject's and its HPA's conditions, or the DSO's.
func diagnose(ctx context.Context, c client.Client, target string) string {
	var parts []string
	conds := func(kind string, list []any) {
		for _, x := range list {
			if m, ok := x.(map[string]any); ok {
				parts = append(parts, fmt.Sprintf("%s %v=%v %v: %v", kind, m["type"], m["status"], m["reason"], m["message"]))
			}
		}
	}
	u := &unstructured.Unstructured{}
	if target == kedaTarget {
		u.SetAPIVersion("keda.sh/v1alpha1")
		u.SetKind("ScaledObject")
		var hpa autoscalingv2.HorizontalPodAutoscaler
		if err := c.Get(ctx, client.ObjectKey{Namespace: benchNamespace, Name: "keda-hpa-" + kedaTarget}, &hpa); err != nil {
			parts = append(parts, "HPA: "+err.Error())
		}
		for _, cond := range hpa.Status.Conditions {
			parts = append(parts, fmt.Sprintf("HPA %s=%s %s: %s", cond.Type, cond.Status, cond.Reason, cond.Message))
		}
	} else {
		u.SetAPIVersion("keda.kedify.io/v1alpha1")
		u.SetKind("DistributedScaledObject")
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: benchNamespace, Name: target}, u); err != nil {
		parts = append(parts, u.GetKind()+": "+err.Error())
	} else {
		list, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		conds(u.GetKind(), list)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

// deploymentLog follows spec.replicas and status.replicas of the namespace's Deployments
// through an informer, and records when each spec.replicas changed, as the watch event
// arrives (both systems are timed the same way).
type deploymentLog struct {
	mu      sync.Mutex
	spec    map[string]int32
	status  map[string]int32
	changes map[string][]specChange
	wake    chan struct{}
}

type specChange struct {
	At time.Time
	To int32
}

func watchDeployments(b *testing.B, cluster *clusterenv.Cluster, ns string) *deploymentLog {
	dl := &deploymentLog{spec: map[string]int32{}, status: map[string]int32{}, changes: map[string][]specChange{}, wake: make(chan struct{}, 1)}
	factory := informers.NewSharedInformerFactoryWithOptions(cluster.Clientset(), 0, informers.WithNamespace(ns))
	inf := factory.Apps().V1().Deployments().Informer()
	observe := func(obj any) {
		if d, ok := obj.(*appsv1.Deployment); ok {
			dl.observe(d)
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    observe,
		UpdateFunc: func(_, obj any) { observe(obj) },
	}); err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	b.Cleanup(func() { close(stop) })
	factory.Start(stop)
	if !cache.WaitForCacheSync(stop, inf.HasSynced) {
		b.Fatal("deployment informer did not sync")
	}
	return dl
}

func (dl *deploymentLog) observe(d *appsv1.Deployment) {
	now := time.Now()
	spec := ptr.Deref(d.Spec.Replicas, 1)
	dl.mu.Lock()
	if old, ok := dl.spec[d.Name]; ok && old != spec {
		dl.changes[d.Name] = append(dl.changes[d.Name], specChange{At: now, To: spec})
	}
	dl.spec[d.Name] = spec
	dl.status[d.Name] = d.Status.Replicas
	dl.mu.Unlock()
	select {
	case dl.wake <- struct{}{}:
	default:
	}
}

// waitSettled waits until every target's Deployment has spec.replicas and status.replicas
// equal to want (the HPA divides by status.replicas, so the next change starts from a
// settled state). It returns, for each target that did not settle within timeout or one of
// whose processes exited, why.
func (dl *deploymentLog) waitSettled(ctx context.Context, targets map[string]*systemResult, procs map[string][]*process, want int32, timeout time.Duration) map[string]string {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	failed := map[string]string{}
	for {
		pending := map[string][2]int32{}
		dl.mu.Lock()
		for name := range targets {
			if _, bad := failed[name]; !bad && (dl.spec[name] != want || dl.status[name] != want) {
				pending[name] = [2]int32{dl.spec[name], dl.status[name]}
			}
		}
		dl.mu.Unlock()
		for name := range pending {
			for _, p := range procs[name] {
				if err := p.exitedErr(); err != nil {
					failed[name] = err.Error()
					delete(pending, name)
					break
				}
			}
		}
		if len(pending) == 0 {
			return failed
		}
		select {
		case <-dl.wake:
		case <-time.After(time.Second): // look at the processes now and then
		case <-ctx.Done():
			return failed
		case <-deadline.C:
			for name, s := range pending {
				failed[name] = fmt.Sprintf("spec.replicas %d, status.replicas %d after %v, want %d", s[0], s[1], timeout, want)
			}
			return failed
		}
	}
}

func (dl *deploymentLog) firstChangeAfter(name string, t time.Time) (specChange, bool) {
	return dl.firstChange(name, t, func(specChange) bool { return true })
}

func (dl *deploymentLog) firstChangeTo(name string, t time.Time, to int32) (specChange, bool) {
	return dl.firstChange(name, t, func(ch specChange) bool { return ch.To == to })
}

func (dl *deploymentLog) firstChange(name string, t time.Time, match func(specChange) bool) (specChange, bool) {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	for _, ch := range dl.changes[name] {
		if ch.At.After(t) && match(ch) {
			return ch, true
		}
	}
	return specChange{}, false
}
