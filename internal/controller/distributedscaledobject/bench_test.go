package distributedscaledobject_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/utils/ptr"

	"github.com/fleetscale/fleetscale/internal/distribution"
	"github.com/fleetscale/fleetscale/internal/fleettest"
)

// BenchmarkConfigMapChangeToMemberScale measures, over 120 ConfigMap changes, the delay from
// the ConfigMap update until every member's Deployment holds its new share (seen through a
// watch on each member). The DSO's behavior has zero windows and policies that allow each
// change in one step, so every change is one evaluation. Run: make bench.
func BenchmarkConfigMapChangeToMemberScale(b *testing.B) {
	const changes = 120
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
	delays := make([]time.Duration, 0, changes)
	b.ResetTimer()
	for i := 0; i < changes; i++ {
		total := totals[i%len(totals)]
		want := distribution.Split(total, members, dsoUID)
		expected := []int32{want[members[0].Name], want[members[1].Name], want[members[2].Name]}
		start := time.Now()
		setMetric(b, f, ns, strconv.Itoa(int(total*5)))
		if err := watcher.waitFor(ctx, expected, 30*time.Second); err != nil {
			b.Fatalf("change %d to total %d: %v", i, total, err)
		}
		delays = append(delays, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(delays)
	pct := func(p float64) time.Duration { return delays[int(p*float64(len(delays)-1))] }
	b.ReportMetric(float64(pct(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(pct(0.95).Microseconds())/1000, "p95-ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(delays[len(delays)-1].Microseconds())/1000, "max-ms")
	b.Logf("%d changes: p50 %v, p95 %v, p99 %v, max %v", len(delays), pct(0.50), pct(0.95), pct(0.99), delays[len(delays)-1])
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

func (w *memberWatcher) waitFor(ctx context.Context, want []int32, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		w.mu.Lock()
		done := slices.Equal(w.current, want)
		got := slices.Clone(w.current)
		w.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-w.changed:
		case <-deadline:
			return fmt.Errorf("members hold %v, want %v", got, want)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
