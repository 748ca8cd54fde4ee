package distributedscaledobject_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/utils/ptr"

	"github.com/fleetscale/fleetscale/internal/benchreport"
	"github.com/fleetscale/fleetscale/internal/clusterenv"
	"github.com/fleetscale/fleetscale/internal/distribution"
	"github.com/fleetscale/fleetscale/internal/fleettest"
)

// BenchmarkConfigMapChangeToMemberScale measures, over 120 ConfigMap changes, the delay from
// the ConfigMap update until every member's Deployment holds its new share (seen through a
// watch on each member). The DSO's behavior has zero windows and policies that allow each
// change in one step, so every change is one evaluation. Run: make bench.
func BenchmarkConfigMapChangeToMemberScale(b *testing.B) {
	const changes, pausedChanges = 120, 60
	// settlePause lets the members' pods settle after a change (kube-controller-manager,
	// kube-scheduler and kwok create or delete up to 9 pods).
	const settlePause = 1500 * time.Millisecond
	f := shared.Fleet(b)
	ctx := context.Background()
	g := NewWithT(b)
	ns := namespace(b, f)
	for _, m := range f.Members {
		createNginx(b, m, ns, 1)
	}
	totals := []int32{6, 12, 9, 15} // each step differs by more than the HPA's 10% tolerance
	setMetric(b, f, ns, strconv.Itoa(int(totals[len(totals)-1]*5)))
	apply(b, f.Hub, ns, dsoManifest(`    minReplicaCount: 1
    maxReplicaCount: 100
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
`))
	var dsoUID string
	g.Eventually(func(g Gomega) {
		dso := getDSO(g, f, ns, "nginx")
		dsoUID = string(dso.UID)
		g.Expect(dso.Status.TotalDesiredReplicas).To(Equal(totals[len(totals)-1]))
	}, timeout, poll).Should(Succeed())
	watcher := watchMembers(b, f, ns)
	defer watcher.stop()

	members := make([]distribution.Member, 3)
	for i := range members {
		members[i] = distribution.Member{Name: fleettest.MemberName(i + 1), Weight: 1}
	}
	// settled waits until the controller has written the status of the previous change: the
	// next change then measures one evaluation alone, not one queued behind the tail (status
	// and spec.totalTargetReplicas writes) of the previous.
	settled := func(total int32) {
		g.Eventually(func(g Gomega) {
			dso := getDSO(g, f, ns, "nginx")
			g.Expect(dso.Status.TotalDesiredReplicas).To(Equal(total))
			g.Expect(dso.Status.ObservedGeneration).To(Equal(dso.Generation))
		}, timeout, 5*time.Millisecond).Should(Succeed())
	}
	series := func(n int, spaced bool, pause time.Duration) (delays, commits, firsts []time.Duration) {
		for i := 0; i < n; i++ {
			total := totals[i%len(totals)]
			if spaced {
				settled(totals[(i+len(totals)-1)%len(totals)])
			}
			time.Sleep(pause)
			want := distribution.Split(total, members, dsoUID)
			expected := []int32{want[members[0].Name], want[members[1].Name], want[members[2].Name]}
			start := time.Now()
			setMetric(b, f, ns, strconv.Itoa(int(total*5)))
			commits = append(commits, time.Since(start))
			first, err := watcher.waitFor(ctx, expected, 30*time.Second, start)
			if err != nil {
				b.Fatalf("change %d to total %d: %v", i, total, err)
			}
			firsts = append(firsts, first)
			delays = append(delays, time.Since(start))
		}
		return delays, commits, firsts
	}
	load := benchreport.LoadAverage()
	b.ResetTimer()
	var back, spaced, paused oneDSOSeries
	back.delays, back.commits, back.firsts = series(changes, false, 0)
	spaced.delays, spaced.commits, spaced.firsts = series(changes, true, 0)
	paused.delays, paused.commits, paused.firsts = series(pausedChanges, true, settlePause)
	b.StopTimer()
	st := benchreport.Summarize(back.delays)
	b.ReportMetric(float64(st.P50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(st.P99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(st.Max.Microseconds())/1000, "max-ms")
	sp := benchreport.Summarize(spaced.delays)
	b.ReportMetric(float64(sp.P99.Microseconds())/1000, "spaced-p99-ms")
	b.Logf("%d changes back to back: p50 %v, p90 %v, p99 %v, max %v", st.N, st.P50, st.P90, st.P99, st.Max)
	b.Logf("%d changes, each after the previous was written: p50 %v, p90 %v, p99 %v, max %v", sp.N, sp.P50, sp.P90, sp.P99, sp.Max)
	pp := benchreport.Summarize(paused.delays)
	b.Logf("%d changes, each %v after the previous was written: p50 %v, p90 %v, p99 %v, max %v", pp.N, settlePause, pp.P50, pp.P90, pp.P99, pp.Max)
	reportOneDSO(b, back, spaced, paused, load)
}

// oneDSOSeries is one series of changes: until all members hold their share, until the
// ConfigMap update returned, until the first member held its share.
type oneDSOSeries struct{ delays, commits, firsts []time.Duration }

// reportOneDSO writes the samples for the plot and the one-dso section of docs/benchmarks.md.
func reportOneDSO(b *testing.B, back, spaced, paused oneDSOSeries, load string) {
	if err := benchreport.WriteSamples("one-dso", benchreport.Samples{Scenario: "1 DSO × 3 full members", Order: 1, DelaysMS: benchreport.Millis(spaced.delays)}); err != nil {
		b.Error(err)
	}
	root, err := clusterenv.RepoRoot()
	if err != nil {
		b.Error(err)
		return
	}
	row := func(name string, d []time.Duration) string {
		s := benchreport.Summarize(d)
		return fmt.Sprintf("| %s | %s | %s | %s | %s |\n", name, benchreport.MS(s.P50), benchreport.MS(s.P90), benchreport.MS(s.P99), benchreport.MS(s.Max))
	}
	table := func(sb *strings.Builder, s oneDSOSeries) {
		fmt.Fprintf(sb, "| from the start of the ConfigMap update until | p50 | p90 | p99 | max |\n|---|---|---|---|---|\n")
		sb.WriteString(row("the update returns (apiserver + etcd commit)", s.commits))
		sb.WriteString(row("the first member's Deployment holds its new share", s.firsts))
		sb.WriteString(row("all three members hold their new shares", s.delays))
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "## 1 DSO × 3 members, the whole fleet running\n\n")
	fmt.Fprintf(&sb, "Written by `BenchmarkConfigMapChangeToMemberScale` (internal/controller/distributedscaledobject/bench_test.go)\n")
	fmt.Fprintf(&sb, "on %s (load average when the changes began: %s). Target: p99 < 100 ms.\n\n", benchreport.Machine(), load)
	fmt.Fprintf(&sb, "%d ConfigMap changes, each made once the controller had written the previous one's status (one\n", len(spaced.delays))
	fmt.Fprintf(&sb, "evaluation each; the plot shows these):\n\n")
	table(&sb, spaced)
	fmt.Fprintf(&sb, "\n%d changes back to back, each made as soon as the members held the previous share: a change then\n", len(back.delays))
	fmt.Fprintf(&sb, "waits for the previous evaluation's last hub writes (status, `spec.totalTargetReplicas`), which run\n")
	fmt.Fprintf(&sb, "after the members were written:\n\n")
	table(&sb, back)
	fmt.Fprintf(&sb, "\n%d changes, each made 1.5 s after the controller had written the previous one's status, once the\n", len(paused.delays))
	fmt.Fprintf(&sb, "members' pods have settled: what one change costs when the two cores are not also running the previous\n")
	fmt.Fprintf(&sb, "change's pod churn in three members:\n\n")
	table(&sb, paused)
	fmt.Fprintf(&sb, "\nThe hub and three full members (kube-controller-manager, kube-scheduler, kwok: the nginx pods run) share\n")
	fmt.Fprintf(&sb, "one etcd; the controller runs in the benchmark's process with the test fleet's options (1 s probes), the\n")
	fmt.Fprintf(&sb, "members' Deployments are followed through watches. Reproduce:\n\n")
	fmt.Fprintf(&sb, "```sh\nFLEETSCALE_K8S_BINS=$(hack/k8s-bins.sh --print-dir) go test -run '^$' -bench ConfigMapChangeToMemberScale -benchtime 1x ./internal/controller/distributedscaledobject/\n```\n")
	if err := benchreport.WriteSection(benchreport.DocPath(root), "# Benchmarks\n", "one-dso", sb.String()); err != nil {
		b.Error(err)
	}
}

// memberWatcher follows spec.replicas of nginx in every member through watches.
type memberWatcher struct {
	mu      sync.Mutex
	current []int32
	changed chan struct{}
	cancel  context.CancelFunc
}

func watchMembers(b *testing.B, f *fleettest.Fleet, ns string) *memberWatcher {
	ctx, cancel := context.WithCancel(context.Background())
	w := &memberWatcher{current: make([]int32, len(f.Members)), changed: make(chan struct{}, 1), cancel: cancel}
	for i := range f.Members {
		cs := f.Cluster(i + 1).Clientset()
		wi, err := cs.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", "nginx").String()})
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			for ev := range wi.ResultChan() {
				d, ok := ev.Object.(*appsv1.Deployment)
				if !ok {
					continue
				}
				w.mu.Lock()
				w.current[i] = ptr.Deref(d.Spec.Replicas, 1)
				w.mu.Unlock()
				select {
				case w.changed <- struct{}{}:
				default:
				}
			}
		}()
	}
	return w
}

func (w *memberWatcher) stop() { w.cancel() }

// waitFor waits until every member holds want; it returns when the first member held its
// share, relative to start.
func (w *memberWatcher) waitFor(ctx context.Context, want []int32, timeout time.Duration, start time.Time) (time.Duration, error) {
	deadline := time.After(timeout)
	var first time.Duration
	for {
		w.mu.Lock()
		done := slices.Equal(w.current, want)
		got := slices.Clone(w.current)
		w.mu.Unlock()
		for i := range got {
			if first == 0 && got[i] == want[i] {
				first = time.Since(start)
			}
		}
		if done {
			return first, nil
		}
		select {
		case <-w.changed:
		case <-deadline:
			return 0, fmt.Errorf("members hold %v, want %v", got, want)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}
