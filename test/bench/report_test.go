package bench

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"
)

// peerResult is one configuration's measurements.
type peerResult struct {
	Row               peerRow
	Changes           int
	Seed              int64
	LoadAtStart       string
	KubernetesVersion string
	ObjectSpec        string
	Wall              time.Duration
	KEDA, Fleetscale  systemResult
}

// systemResult is one system's reaction times in one configuration.
type systemResult struct {
	System string
	Delays []time.Duration // ConfigMap update → first spec.replicas change, in change order
	// ToTotal is ConfigMap update → spec.replicas at the new total; it differs from Delays
	// only where a system gets there in steps (activation from zero: 0 → 1 → total).
	ToTotal []time.Duration
	Failed  string // why it was not measured (or not to the end); empty when it was
	Notes   []string
	Usage   []namedUsage // its processes at the end of the configuration's run
}

type namedUsage struct {
	Name string
	usage
}

type stats struct {
	N                   int
	P50, P90, Max, Mean time.Duration
}

// summarize gives nearest-rank percentiles (p50 of 10 values is the 5th smallest, p90 the 9th).
func summarize(delays []time.Duration) stats {
	if len(delays) == 0 {
		return stats{}
	}
	s := slices.Clone(delays)
	slices.Sort(s)
	rank := func(p float64) time.Duration { return s[int(math.Ceil(p*float64(len(s))))-1] }
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return stats{N: len(s), P50: rank(0.50), P90: rank(0.90), Max: s[len(s)-1], Mean: sum / time.Duration(len(s))}
}

// ratio is how many times longer KEDA took than fleetscale, or "" when either is missing.
func ratio(keda, fleet time.Duration) string {
	if keda <= 0 || fleet <= 0 {
		return ""
	}
	r := float64(keda) / float64(fleet)
	if r >= 10 {
		return fmt.Sprintf("%.0f×", r)
	}
	return fmt.Sprintf("%.1f×", r)
}

// ratios gives the p50 and mean ratios, "" when either system has no figures.
func ratios(keda, fleet stats) string {
	p50, mean := ratio(keda.P50, fleet.P50), ratio(keda.Mean, fleet.Mean)
	if p50 == "" || mean == "" {
		return ""
	}
	return p50 + ", " + mean
}

func ms(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < 10*time.Second:
		return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 0, 64) + " ms"
	default:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	}
}

func (r peerResult) settings() string {
	hpa := "15s (default)"
	if r.Row.HPASyncPeriod > 0 {
		hpa = r.Row.HPASyncPeriod.String()
	}
	poll := "30s (default)"
	if r.Row.PollingInterval > 0 {
		poll = strconv.Itoa(r.Row.PollingInterval) + "s"
	}
	s := "HPA sync " + hpa + ", pollingInterval " + poll
	if r.Row.ScaleToZero {
		s += "; minReplicaCount 0, cooldownPeriod 0, changes 15 ↔ 0"
	}
	return s
}

// reportMetrics gives go test's benchmark line the headline numbers.
func reportMetrics(b *testing.B, r peerResult) {
	f, k := summarize(r.Fleetscale.Delays), summarize(r.KEDA.Delays)
	b.ReportMetric(float64(f.P50.Microseconds())/1000, "fleetscale-p50-ms")
	b.ReportMetric(float64(f.Max.Microseconds())/1000, "fleetscale-max-ms")
	if k.N > 0 {
		b.ReportMetric(float64(k.P50.Microseconds())/1000, "keda-p50-ms")
		b.ReportMetric(float64(k.Max.Microseconds())/1000, "keda-max-ms")
		if f.P50 > 0 {
			b.ReportMetric(float64(k.P50)/float64(f.P50), "keda/fleetscale-p50")
		}
	}
	if r.KEDA.Failed != "" {
		b.Logf("KEDA: %s", r.KEDA.Failed)
	}
}

// complete is true when every configuration ran and KEDA was measured to the end in each.
func complete(results []peerResult) bool {
	if len(results) != len(peerRows) {
		return false
	}
	for _, r := range results {
		if r.KEDA.Failed != "" || len(r.KEDA.Delays) != r.Changes || len(r.Fleetscale.Delays) != r.Changes {
			return false
		}
	}
	return true
}

// The two figures per change: until spec.replicas first changes (the headline), and until it
// holds the new total.
var figures = []struct {
	title string
	of    func(systemResult) []time.Duration
}{
	{"ConfigMap change → Deployment spec.replicas changes", func(s systemResult) []time.Duration { return s.Delays }},
	{"ConfigMap change → Deployment spec.replicas holds the new total", func(s systemResult) []time.Duration { return s.ToTotal }},
}

// renderTable is the plain-text table the benchmark prints.
func renderTable(results []peerResult) string {
	var b strings.Builder
	for _, fig := range figures {
		b.WriteString(fig.title + " (same change, same cluster, same run)\n")
		w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "configuration\tsystem\tchanges\tp50\tp90\tmax\tmean\tKEDA ÷ fleetscale (p50, mean)")
		for _, r := range results {
			k, f := summarize(fig.of(r.KEDA)), summarize(fig.of(r.Fleetscale))
			for _, s := range []struct {
				sys systemResult
				st  stats
				rat string
			}{{r.KEDA, k, ""}, {r.Fleetscale, f, ratios(k, f)}} {
				fmt.Fprintf(w, "%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\t%s\n", r.Row.Name, s.sys.System, s.st.N, r.Changes,
					ms(s.st.P50), ms(s.st.P90), ms(s.st.Max), ms(s.st.Mean), s.rat)
			}
		}
		_ = w.Flush()
		b.WriteString("\n")
	}
	for _, r := range results {
		for _, s := range []systemResult{r.KEDA, r.Fleetscale} {
			if s.Failed != "" {
				fmt.Fprintf(&b, "%s, %s: NOT MEASURED (or not to the end): %s\n", r.Row.Name, s.System, s.Failed)
			}
		}
	}
	return b.String()
}

// machine describes where the benchmark ran.
type machine struct {
	CPU, Kernel, Go string
	Cores           int
	MemGiB          float64
	Date            string
}

func describeMachine() machine {
	m := machine{Cores: runtime.NumCPU(), Go: runtime.Version(), Date: time.Now().UTC().Format("2006-01-02 15:04 UTC")}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
				m.MemGiB = kb / (1 << 20)
			}
		}
	}
	return m
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// renderMarkdown is the KEDA section of docs/benchmarks.md (its headings one level down there).
func renderMarkdown(results []peerResult, m machine) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# fleetscale and KEDA side by side: ConfigMap change → Deployment replicas\n\n")
	p("<!-- Written by BenchmarkKEDAvsFleetscale (test/bench/keda_test.go). Rerun it instead of editing. -->\n\n")
	p("The same `kubernetes-resource` ConfigMap change drives a KEDA ScaledObject and a fleetscale\n")
	p("DistributedScaledObject with the same spec on one cluster, in the same run; the figure is the time from the\n")
	p("ConfigMap update until each system's Deployment has a new `spec.replicas`.\n\n")
	for i, fig := range figures {
		if i > 0 {
			p("%s (differs from the first table only where a system gets there in steps):\n\n", fig.title)
		}
		p("| configuration | system | changes | p50 | p90 | max | mean | KEDA ÷ fleetscale (p50, mean) |\n")
		p("|---|---|---|---|---|---|---|---|\n")
		for _, r := range results {
			k, f := summarize(fig.of(r.KEDA)), summarize(fig.of(r.Fleetscale))
			p("| %s: %s | KEDA %s | %d | %s | %s | %s | %s | |\n", r.Row.Name, r.settings(), kedaVersion, k.N, ms(k.P50), ms(k.P90), ms(k.Max), ms(k.Mean))
			p("| %s | fleetscale | %d | %s | %s | %s | %s | **%s** |\n", r.Row.Name, f.N, ms(f.P50), ms(f.P90), ms(f.Max), ms(f.Mean), ratios(k, f))
		}
		p("\n")
	}
	p("Percentiles are nearest-rank over the changes of one run (p90 of 10 changes is the 9th smallest).\n\n")

	p("## Where it ran\n\n")
	p("%s, %s; %d cores, %.0f GiB, Linux %s, %s. The machine was shared with other work (load average at the\n", m.Date, m.CPU, m.Cores, m.MemGiB, m.Kernel, m.Go)
	p("start of each configuration:")
	for i, r := range results {
		sep := ","
		if i == len(results)-1 {
			sep = ")."
		}
		p(" %s %s%s", r.Row.Name, r.LoadAtStart, sep)
	}
	p("\n\nReproduce (builds KEDA on first use, ~15 min cold, then cached; needs root for a network namespace):\n\n")
	p("```sh\nmake bench   # or, once make keda-bins has run:\n")
	p("FLEETSCALE_KEDA_BINS=$(hack/keda-bins.sh --print-dir) go test -run '^$' -bench KEDAvsFleetscale -benchtime 1x -timeout 30m ./test/bench/\n```\n\n")
	p("`%s=N` sets the number of changes per configuration (default 10).\n\n", changesEnv)

	p("## What runs\n\n")
	k8s := "v1.37.2"
	if len(results) > 0 && results[0].KubernetesVersion != "" {
		k8s = results[0].KubernetesVersion
	}
	p("- One harness cluster from `internal/clusterenv`: etcd, kube-apiserver %s with API aggregation\n", k8s)
	p("  (`--requestheader-*`, `--proxy-client-*`, `--enable-aggregator-routing`), kube-controller-manager with\n")
	p("  its default controllers (the HPA controller among them), kube-scheduler and kwok (pods become Running).\n")
	p("- KEDA %s built from the Go module proxy (`hack/tools/keda`, KEDA's own dependency versions;\n", kedaVersion)
	p("  `make keda-bins`): the operator on the host; the metrics API server in a network namespace the benchmark\n")
	p("  creates (veth pair, a /30 of 10.213.0.0/16), since the aggregator dials the Service's EndpointSlice and\n")
	p("  EndpointSlices refuse loopback addresses. Service `keda/keda-metrics-apiserver`, an EndpointSlice with the\n")
	p("  namespace's address, APIService `v1beta1.external.metrics.k8s.io` with the CA; operator ↔ metrics\n")
	p("  server over KEDA's mTLS gRPC. KEDA's CRDs come from its module zip.\n")
	p("- fleetscale-controller built from this tree, started with its default flags; the harness cluster is\n")
	p("  registered as its own member (`setup-member`), so hub and member are the same apiserver.\n")
	p("- Namespace `%s`: ConfigMap `%s`, Deployments `%s` (ScaledObject) and `%s` (DSO), both from 1\n", benchNamespace, metricName, kedaTarget, fleetTarget)
	p("  replica to the first total. Both objects get the same spec (the DSO embeds it as `scaledObjectSpec`):\n\n")
	for _, r := range results {
		p("`%s`:\n\n```yaml\n%s```\n\n", r.Row.Name, r.ObjectSpec)
	}

	p("## How it is measured\n\n")
	p("- Each change sets `metric-value` to 5 × the next of %v replicas (every step beyond the HPA's 10%%\n", peerTotals)
	p("  tolerance; `zero`: %v), then waits until both Deployments have `spec.replicas` and `status.replicas`\n", peerRow{ScaleToZero: true}.totals())
	p("  at the new total before the next change. The time of a change is the arrival of the first watch event\n")
	p("  (one informer in the benchmark for both Deployments) with a different `spec.replicas`, whatever its\n")
	p("  value (KEDA reaches 15 from 0 in two steps, 0 → 1 by its own loop, then the HPA; see below).\n")
	p("- Before each change the benchmark pauses for a uniformly random part of the period of the loop KEDA\n")
	p("  waits for (the HPA sync period; in `zero` the longer of it and pollingInterval): a change made right\n")
	p("  after the previous reaction would always land just after a tick and measure the whole period.\n")
	p("- The behaviour in both specs allows each change in one step: with the default scale-down stabilisation\n")
	p("  (300 s), which fleetscale reproduces from the HPA, both systems would show 300 s for every decrease.\n")
	p("  For the same reason `zero` sets cooldownPeriod 0 (default 300 s before scaling to zero, in both).\n")
	p("- KEDA's path for a Deployment between 1 and maxReplicaCount: the HPA controller (every sync period) →\n")
	p("  aggregator → KEDA metrics server → gRPC → operator, which reads the trigger live (the\n")
	p("  kubernetes-resource scaler reads the ConfigMap from its informer cache) → HPA replica math → `/scale`.\n")
	p("  `pollingInterval` drives KEDA's own loop (activation 0 ↔ 1, fallback, and metrics with\n")
	p("  `useCachedMetrics`), which `defaults` and `tuned` never need, so there the HPA sync period sets KEDA's\n")
	p("  latency. In `zero`, KEDA's loop activates a Deployment at 0 (next poll, up to 30 s), and a drop to 0\n")
	p("  first reaches the HPA, which holds its minimum of 1 (next sync), before KEDA's loop scales to 0.\n")
	p("  fleetscale watches the ConfigMap and writes the member's `/scale` at once in every case.\n\n")

	p("## Resource use at the end of each configuration\n\n")
	p("| configuration | process | peak RSS | CPU time | run wall time |\n|---|---|---|---|---|\n")
	for _, r := range results {
		for _, s := range []systemResult{r.KEDA, r.Fleetscale} {
			for _, u := range s.Usage {
				p("| %s | %s | %.0f MiB | %.1f s | %.0f s |\n", r.Row.Name, u.Name, float64(u.PeakRSSBytes)/(1<<20), u.CPUSeconds, r.Wall.Seconds())
			}
		}
	}
	p("\nfleetscale-controller runs its member probes and health checks in that time as well; KEDA's two\n")
	p("processes together do what it does for this one object. The cluster itself (apiserver, etcd,\n")
	p("controller-manager with the HPA controller) is shared and not counted.\n\n")

	p("## Every change\n\n")
	for _, r := range results {
		for _, s := range []systemResult{r.KEDA, r.Fleetscale} {
			var ds []string
			for _, d := range s.Delays {
				ds = append(ds, ms(d))
			}
			p("- %s, %s (seed %d): %s\n", r.Row.Name, s.System, r.Seed, strings.Join(ds, ", "))
			for _, n := range s.Notes {
				p("  - %s\n", n)
			}
			if s.Failed != "" {
				p("  - not measured to the end: %s\n", s.Failed)
			}
		}
	}
	return b.String()
}
