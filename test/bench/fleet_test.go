package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/benchreport"
	"github.com/fleetscale/fleetscale/internal/clusterenv"
	"github.com/fleetscale/fleetscale/internal/distribution"
	"github.com/fleetscale/fleetscale/internal/manager"
	"github.com/fleetscale/fleetscale/internal/plugin"
)

// The fleet benchmark's size, from the environment (defaults: the figures).
const (
	dsosEnv         = "BENCH_DSOS"            // DSOs (default 1000)
	membersEnv      = "BENCH_MEMBERS"         // member clusters, apiserver only (default 10)
	hangEnv         = "BENCH_HANGING"         // DSOs whose three external scalers hang (default 100)
	fleetChangesEnv = "BENCH_CHANGES"         // ConfigMap changes measured per phase (default 40)
	windowEnv       = "BENCH_WINDOW"          // steady-state window (default 60s)
	budgetEnv       = "BENCH_BUDGET"          // most time one phase (cold start, each series of changes) takes (default 4m)
	argsEnv         = "BENCH_CONTROLLER_ARGS" // extra controller flags, space-separated (default none)
)

const fleetNS = "fleet"

type fleetSize struct {
	DSOs, Members, Hanging, Changes int
	Window, Budget                  time.Duration
	ControllerArgs                  []string
}

func fleetSizeFromEnv(tb testing.TB) fleetSize {
	n := func(env string, def int) int {
		if v := os.Getenv(env); v != "" {
			i, err := strconv.Atoi(v)
			if err != nil || i < 0 {
				tb.Fatalf("%s=%q: want a number", env, v)
			}
			return i
		}
		return def
	}
	s := fleetSize{DSOs: n(dsosEnv, 1000), Members: n(membersEnv, 10), Hanging: n(hangEnv, 100), Changes: n(fleetChangesEnv, 40), Window: time.Minute}
	dur := func(env string, def time.Duration) time.Duration {
		if v := os.Getenv(env); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				tb.Fatalf("%s=%q: %v", env, v, err)
			}
			return d
		}
		return def
	}
	s.Window, s.Budget = dur(windowEnv, time.Minute), dur(budgetEnv, 4*time.Minute)
	s.ControllerArgs = strings.Fields(os.Getenv(argsEnv))
	if s.DSOs < 1 || s.Members < 1 || s.Changes < 1 {
		tb.Fatalf("need at least one DSO, member and change: %+v", s)
	}
	return s
}

// fleetResult is everything BenchmarkFleetAtScale measured.
type fleetResult struct {
	Size       fleetSize
	Machine    string
	Setup      time.Duration // clusters up, members registered, objects created
	ColdStart  time.Duration // controller start → every member target at its share
	ColdFailed string
	// HubCaughtUp: controller start → every DSO's status written (the members are written
	// first; the hub writes queue behind --kube-api-qps).
	HubCaughtUp       time.Duration
	HubCaughtUpFailed string
	// Steady state over Size.Window after the cold start settled.
	HubWrites, MemberWrites float64 // per second, Leases excluded
	WriteBreakdown          []string
	CPUPercentIdle          float64
	RSSBytes, PeakRSSBytes  int64
	Loaded, Hanging         phaseResult
	// HangingStatus is what a hanging DSO's Ready condition says (that its scalers did hang).
	HangingStatus string
	// HangingSettled: from creating the hanging DSOs until every one's status reports its
	// reads' deadline (their start-up writes are through).
	HangingSettled time.Duration
}

type phaseResult struct {
	Delays []time.Duration
	// Commit is the ConfigMap update's own round trip; First the first member's new share.
	Commit, First []time.Duration
	Failed        []string
	// Skipped changes were not made: the phase had used its time budget.
	Skipped int
}

// BenchmarkFleetAtScale: one hub and BENCH_MEMBERS (10) apiserver-only members sharing one
// etcd; BENCH_DSOS (1000) DSOs, each over every member with its own ConfigMap trigger and a
// Deployment in each member; the real bin/fleetscale-controller with its default flags. It
// measures the cold start (controller start → every target in every member at its share),
// the writes per second to hub and members and the controller's CPU and RSS over a quiet
// window, ConfigMap change → all members' /scale under that load, and the same with
// BENCH_HANGING (100) more DSOs whose three external scalers never answer. It prints a table,
// writes its section of docs/benchmarks.md and its samples for the plot (make bench).
func BenchmarkFleetAtScale(b *testing.B) {
	size := fleetSizeFromEnv(b)
	ctrllog.SetLogger(logr.Discard()) // the plugin library's logs; the controller logs to its file
	root, err := clusterenv.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	bin := filepath.Join(root, "bin", "fleetscale-controller")
	if _, err := os.Stat(bin); err != nil {
		b.Fatalf("%v: make build-hub first (make bench does)", err)
	}
	ctx := context.Background()
	res := fleetResult{Size: size, Machine: benchreport.Machine()}
	begin := time.Now()
	env, err := clusterenv.Start(ctx, clusterenv.Options{Members: size.Members, CRDDir: filepath.Join(root, "config", "crd", "bases"), Logf: b.Logf})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = env.Stop() })
	hub := fastClient(b, env.Hub.Config)
	names := make([]string, size.Members)
	members := make([]client.Client, size.Members)
	for i, m := range env.Members {
		names[i] = fmt.Sprintf("member-%02d", i+1)
		members[i] = fastClient(b, m.Config)
		if _, err := plugin.SetupMember(ctx, plugin.SetupOptions{Name: names[i], Hub: env.Hub.Config, Member: m.Config}); err != nil {
			b.Fatalf("setup-member %s: %v", names[i], err)
		}
	}
	for _, c := range append([]client.Client{hub}, members...) {
		if err := ensureNamespace(ctx, c, fleetNS); err != nil {
			b.Fatal(err)
		}
	}
	low, high := int32(2*size.Members), int32(4*size.Members) // 2 or 4 per member, beyond the 10% tolerance
	uids := createFleet(b, hub, members, "app", size.DSOs, low, false)
	res.Setup = time.Since(begin)
	b.Logf("%d DSOs × %d members created in %s", size.DSOs, size.Members, res.Setup.Round(time.Second))

	watchers := make([]*deploymentWatcher, size.Members)
	for i, m := range env.Members {
		watchers[i] = watchFleetDeployments(b, m.Clientset())
	}
	split := func(uid types.UID, total int32) []int32 {
		ms := make([]distribution.Member, len(names))
		for i, n := range names {
			ms[i] = distribution.Member{Name: n, Weight: 1}
		}
		shares := distribution.Split(total, ms, string(uid))
		out := make([]int32, len(names))
		for i, n := range names {
			out[i] = shares[n]
		}
		return out
	}
	want := map[string][]int32{}
	for i, uid := range uids {
		want[appName("app", i)] = split(uid, low)
	}

	health, err := freeAddr("127.0.0.1")
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(env.Dir, "controller")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	args := append([]string{bin, "--kubeconfig", env.Hub.KubeconfigPath, "--namespace", plugin.DefaultNamespace,
		"--metrics-bind-address", "0", "--health-probe-bind-address", health}, size.ControllerArgs...)
	ctl, err := startProcess(b, "fleetscale-controller", filepath.Join(dir, "controller.log"), nil, args...)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	if err := waitAll(watchers, want, size.Budget, ctl); err != nil {
		res.ColdFailed = err.Error()
		b.Logf("cold start: %v", err)
	}
	res.ColdStart = time.Since(start)
	b.Logf("cold start: every target at its share %s after the controller started", res.ColdStart.Round(time.Millisecond))

	if err := waitStatuses(ctx, hub, size.DSOs, low, size.Budget); err != nil {
		res.HubCaughtUpFailed = err.Error()
	}
	res.HubCaughtUp = time.Since(start)
	b.Logf("hub caught up: every DSO's status written %s after the controller started", res.HubCaughtUp.Round(time.Millisecond))

	// Quiet window: nothing changes; what the controller writes is its own business.
	settle := 10 * time.Second
	time.Sleep(settle) // the window starts after the cold start's last writes are through (not a test: a measurement)
	clusters := append([]*clusterenv.Cluster{env.Hub}, env.Members...)
	before, err := scrapeWrites(ctx, clusters)
	if err != nil {
		b.Fatal(err)
	}
	u0, err := ctl.readUsage()
	if err != nil {
		b.Fatal(err)
	}
	time.Sleep(size.Window) // the measurement window itself
	u1, err := ctl.readUsage()
	if err != nil {
		b.Fatal(err)
	}
	after, err := scrapeWrites(ctx, clusters)
	if err != nil {
		b.Fatal(err)
	}
	res.HubWrites, res.MemberWrites, res.WriteBreakdown = writeRates(before, after, size.Window)
	res.CPUPercentIdle = (u1.CPUSeconds - u0.CPUSeconds) / size.Window.Seconds() * 100
	res.PeakRSSBytes = u1.PeakRSSBytes
	res.RSSBytes = currentRSS(ctl.pid)
	b.Logf("steady state over %s: %.2f writes/s to the hub, %.2f to the members; CPU %.1f%% of a core; RSS %d MiB (peak %d MiB)",
		size.Window, res.HubWrites, res.MemberWrites, res.CPUPercentIdle, res.RSSBytes>>20, res.PeakRSSBytes>>20)

	current := map[int]int32{}
	measure := func(phase string) phaseResult {
		var pr phaseResult
		end := time.Now().Add(size.Budget)
		for k := 0; k < size.Changes; k++ {
			if time.Now().After(end) {
				pr.Skipped = size.Changes - k
				break
			}
			i := (k * 7919) % size.DSOs // spread over the fleet; a prime stride
			total := high
			if current[i] == high {
				total = low
			}
			name := appName("app", i)
			want := split(uids[i], total)
			t0 := time.Now()
			if err := setFleetMetric(ctx, hub, name, total); err != nil {
				b.Fatal(err)
			}
			commit := time.Since(t0)
			first, err := waitOne(watchers, name, want, min(time.Minute, time.Until(end)+time.Second), ctl, t0)
			if err != nil {
				pr.Failed = append(pr.Failed, fmt.Sprintf("%s → %d: %v", name, total, err))
				b.Logf("%s: change %d (%s → %d): %v", phase, k, name, total, err)
				current[i] = total
				continue
			}
			current[i] = total
			pr.Delays = append(pr.Delays, time.Since(t0))
			pr.Commit = append(pr.Commit, commit)
			pr.First = append(pr.First, first)
		}
		s := benchreport.Summarize(pr.Delays)
		b.Logf("%s: %d changes, p50 %s, p99 %s, max %s, %d failed", phase, s.N, benchreport.MS(s.P50), benchreport.MS(s.P99), benchreport.MS(s.Max), len(pr.Failed))
		return pr
	}
	res.Loaded = measure("under load")

	if size.Hanging > 0 {
		hang := hangingScaler(b)
		created := time.Now()
		createFleet(b, hub, members, "hang", size.Hanging, low, true, hang)
		// The changes are measured beside hanging scalers, not beside the creation of 100 DSOs:
		// once every hanging DSO's status says its reads timed out, their first evaluations'
		// hub writes (status twice, spec.totalTargetReplicas) no longer queue at the hub
		// client's rate ahead of a change's ConfigMap read.
		if err := waitHanging(ctx, hub, size.Hanging, size.Budget); err != nil {
			b.Logf("hanging DSOs: %v", err)
		}
		res.HangingSettled = time.Since(created)
		b.Logf("hanging DSOs settled %s after their creation", res.HangingSettled.Round(time.Millisecond))
		res.Hanging = measure(fmt.Sprintf("with %d hanging DSOs", size.Hanging))
		res.HangingStatus = hangingStatus(ctx, hub)
	}
	b.StopTimer()
	if err := ctl.exitedErr(); err != nil {
		b.Fatal(err)
	}
	reportFleet(b, root, res)
}

// fastClient has client-side rate limits out of the way of creating thousands of objects.
func fastClient(tb testing.TB, cfg *rest.Config) client.Client {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = 2000, 4000
	cl, err := client.New(c, client.Options{Scheme: manager.Scheme()})
	if err != nil {
		tb.Fatal(err)
	}
	return cl
}

func appName(prefix string, i int) string { return fmt.Sprintf("%s-%04d", prefix, i) }

// createFleet creates n Deployments named prefix-NNNN (1 replica) in every member, and in the
// hub a ConfigMap and a DSO for each: a kubernetes-resource trigger on the ConfigMap at
// target 5 with the value 5 × total, or (hanging) three external triggers at addr, whose
// server never answers. It returns the DSOs' UIDs.
func createFleet(tb testing.TB, hub client.Client, members []client.Client, prefix string, n int, total int32, hanging bool, addr ...string) []types.UID {
	ctx := context.Background()
	uids := make([]types.UID, n)
	parallel(tb, n*len(members), func(k int) error {
		i, m := k/len(members), members[k%len(members)]
		name := appName(prefix, i)
		labels := map[string]string{"app": name}
		return m.Create(ctx, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: fleetNS, Labels: labels},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](1),
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
				},
			},
		})
	})
	parallel(tb, n, func(i int) error {
		name := appName(prefix, i)
		triggers := []v1alpha1.ScaleTriggers{{Type: "kubernetes-resource", Metadata: map[string]string{
			"resourceKind": "ConfigMap", "resourceName": name, "key": "value", "targetValue": "5"}}}
		if hanging {
			triggers = nil
			for range 3 {
				triggers = append(triggers, v1alpha1.ScaleTriggers{Type: "external", Metadata: map[string]string{"scalerAddress": addr[0]}})
			}
		} else if err := hub.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: fleetNS},
			Data: map[string]string{"value": strconv.Itoa(int(total) * 5)}}); err != nil {
			return err
		}
		dso := fleetDSO(name, triggers)
		if err := hub.Create(ctx, dso); err != nil {
			return err
		}
		uids[i] = dso.UID
		return nil
	})
	return uids
}

// fleetDSO allows every change in one step (zero windows, policies of 100 pods a second), so
// one ConfigMap change is one evaluation and one /scale write per member. The members run
// apiservers only, so no pod ever becomes ready: a grace period of a day keeps slow-progress
// detection (a member with 0 of 2 replicas ready for the grace period is slow: a real
// decision, with its status write and MemberSlow Event) out of the measurement.
func fleetDSO(name string, triggers []v1alpha1.ScaleTriggers) *v1alpha1.DistributedScaledObject {
	dso := fleetDSOSpec(name, triggers)
	dso.Spec.RebalancingPolicy = &v1alpha1.RebalancingPolicy{GracePeriod: "24h"}
	return dso
}

func fleetDSOSpec(name string, triggers []v1alpha1.ScaleTriggers) *v1alpha1.DistributedScaledObject {
	policy := func() *autoscalingv2.HPAScalingRules {
		return &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](0),
			Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 100, PeriodSeconds: 1}}}
	}
	return &v1alpha1.DistributedScaledObject{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: fleetNS},
		Spec: v1alpha1.DistributedScaledObjectSpec{ScaledObjectSpec: v1alpha1.ScaledObjectSpec{
			ScaleTargetRef:  &v1alpha1.ScaleTarget{Kind: "Deployment", Name: name},
			MinReplicaCount: ptr.To[int32](1),
			MaxReplicaCount: ptr.To[int32](1000),
			Advanced: &v1alpha1.AdvancedConfig{HorizontalPodAutoscalerConfig: &v1alpha1.HorizontalPodAutoscalerConfig{
				Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: policy(), ScaleDown: policy()}}},
			Triggers: triggers,
		}},
	}
}

func setFleetMetric(ctx context.Context, hub client.Client, name string, total int32) error {
	patch := fmt.Sprintf(`{"data":{"value":%q}}`, strconv.Itoa(int(total)*5))
	return hub.Patch(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: fleetNS}},
		client.RawPatch(types.MergePatchType, []byte(patch)))
}

// parallel runs do(0..n-1) on 16 workers and fails tb on the first error.
func parallel(tb testing.TB, n int, do func(int) error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	next := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := do(i); err != nil {
					mu.Lock()
					first = cmpOr(first, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		tb.Fatal(first)
	}
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// deploymentWatcher follows spec.replicas of every Deployment in fleetNS of one member.
type deploymentWatcher struct {
	mu       sync.Mutex
	replicas map[string]int32
	changed  chan struct{}
}

func watchFleetDeployments(tb testing.TB, cs kubernetes.Interface) *deploymentWatcher {
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	w := &deploymentWatcher{replicas: map[string]int32{}, changed: make(chan struct{}, 1)}
	go func() {
		// Re-list and re-watch whenever the watch ends (apiservers close watches now and then).
		_ = wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
			list, err := cs.AppsV1().Deployments(fleetNS).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, nil
			}
			w.mu.Lock()
			for _, d := range list.Items {
				w.replicas[d.Name] = ptr.Deref(d.Spec.Replicas, 1)
			}
			w.mu.Unlock()
			w.notify()
			wi, err := cs.AppsV1().Deployments(fleetNS).Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
			if err != nil {
				return false, nil
			}
			for ev := range wi.ResultChan() {
				if d, ok := ev.Object.(*appsv1.Deployment); ok {
					w.mu.Lock()
					w.replicas[d.Name] = ptr.Deref(d.Spec.Replicas, 1)
					w.mu.Unlock()
					w.notify()
				}
			}
			return false, nil
		})
	}()
	return w
}

func (w *deploymentWatcher) notify() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

func (w *deploymentWatcher) get(name string) int32 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.replicas[name]
}

// waitAll waits until every Deployment of want holds its share in every member.
func waitAll(ws []*deploymentWatcher, want map[string][]int32, timeout time.Duration, ctl *process) error {
	deadline := time.Now().Add(timeout)
	for {
		missing := 0
		for name, shares := range want {
			for i, w := range ws {
				if w.get(name) != shares[i] {
					missing++
				}
			}
		}
		if missing == 0 {
			return nil
		}
		if err := ctl.exitedErr(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d targets not at their share after %s", missing, timeout)
		}
		time.Sleep(50 * time.Millisecond) // polling the watchers' state, not the apiserver
	}
}

// waitOne waits until Deployment name holds want[i] in every member i; it returns when the
// first member had its new share (relative to t0).
func waitOne(ws []*deploymentWatcher, name string, want []int32, timeout time.Duration, ctl *process, t0 time.Time) (time.Duration, error) {
	deadline := time.After(timeout)
	var first time.Duration
	for {
		done := 0
		for i, w := range ws {
			if w.get(name) == want[i] {
				done++
			}
		}
		if done > 0 && first == 0 {
			first = time.Since(t0)
		}
		if done == len(ws) {
			return first, nil
		}
		if err := ctl.exitedErr(); err != nil {
			return 0, err
		}
		// Any member's change wakes us; wait on all of them through a short tick.
		select {
		case <-ws[0].changed:
		case <-time.After(2 * time.Millisecond):
		case <-deadline:
			return 0, fmt.Errorf("%d of %d members at their share after %s", done, len(ws), timeout)
		}
	}
}

// hangingScaler listens on a loopback port and accepts connections without ever answering:
// an external scaler that hangs (no HTTP/2 preface, so every gRPC call waits for its deadline).
func hangingScaler(tb testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	tb.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return l.Addr().String()
}

// writeCount is apiserver_request_total of the write verbs, by cluster and resource.
type writeCount map[string]float64

// scrapeWrites reads apiserver_request_total from every cluster's /metrics and sums the write
// verbs (POST, PUT, PATCH, DELETE, APPLY) by cluster and resource. Leases are left out: every
// apiserver renews its own identity Lease every 10 s; the benchmark's controller runs without
// leader election, so it writes none.
func scrapeWrites(ctx context.Context, clusters []*clusterenv.Cluster) (writeCount, error) {
	out := writeCount{}
	for i, c := range clusters {
		counts, err := c.RequestCounts(ctx)
		if err != nil {
			return nil, err
		}
		for _, rc := range counts {
			labels := rc.Labels
			if !slices.Contains([]string{"POST", "PUT", "PATCH", "DELETE", "APPLY"}, labels["verb"]) || labels["resource"] == "leases" {
				continue
			}
			resource := labels["resource"]
			if labels["subresource"] != "" {
				resource += "/" + labels["subresource"]
			}
			key := "member"
			if i == 0 {
				key = "hub"
			}
			out[key+" "+resource+" "+labels["verb"]] += rc.Value
		}
	}
	return out, nil
}

func writeRates(before, after writeCount, window time.Duration) (hub, members float64, breakdown []string) {
	for k, v := range after {
		d := v - before[k]
		if d <= 0 {
			continue
		}
		if strings.HasPrefix(k, "hub ") {
			hub += d
		} else {
			members += d
		}
		breakdown = append(breakdown, fmt.Sprintf("%s: %.0f", k, d))
	}
	sort.Strings(breakdown)
	return hub / window.Seconds(), members / window.Seconds(), breakdown
}

// currentRSS is VmRSS of pid in bytes (0 if unknown).
func currentRSS(pid int) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func hangingStatus(ctx context.Context, hub client.Client) string {
	var dso v1alpha1.DistributedScaledObject
	if err := hub.Get(ctx, client.ObjectKey{Namespace: fleetNS, Name: appName("hang", 0)}, &dso); err != nil {
		return err.Error()
	}
	var parts []string
	for _, c := range dso.Status.Conditions {
		parts = append(parts, fmt.Sprintf("%s=%s (%s: %s)", c.Type, c.Status, c.Reason, c.Message))
	}
	return strings.Join(parts, "; ")
}

// waitHanging waits until n hanging DSOs report in their Ready condition that their reads
// timed out.
func waitHanging(ctx context.Context, hub client.Client, n int, budget time.Duration) error {
	return waitDSOs(ctx, hub, n, budget, "report timed-out reads", func(d *v1alpha1.DistributedScaledObject) bool {
		c := meta.FindStatusCondition(d.Status.Conditions, v1alpha1.ConditionReady)
		return strings.HasPrefix(d.Name, "hang-") && c != nil && strings.Contains(c.Message, "timed out")
	})
}

// waitStatuses waits until n DSOs of the fleet namespace report total in a status that
// observed their generation.
func waitStatuses(ctx context.Context, hub client.Client, n int, total int32, budget time.Duration) error {
	return waitDSOs(ctx, hub, n, budget, "statuses written", func(d *v1alpha1.DistributedScaledObject) bool {
		return d.Status.ObservedGeneration == d.Generation && d.Status.TotalDesiredReplicas == total
	})
}

// waitDSOs polls the fleet namespace until n DSOs are done, or budget has passed.
func waitDSOs(ctx context.Context, hub client.Client, n int, budget time.Duration, what string, done func(*v1alpha1.DistributedScaledObject) bool) error {
	deadline := time.Now().Add(budget)
	for {
		var list v1alpha1.DistributedScaledObjectList
		count := 0
		if err := hub.List(ctx, &list, client.InNamespace(fleetNS)); err == nil {
			for i := range list.Items {
				if done(&list.Items[i]) {
					count++
				}
			}
		}
		if count >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d %s after %s", count, n, what, budget)
		}
		time.Sleep(time.Second) // polling the hub, not a test
	}
}
