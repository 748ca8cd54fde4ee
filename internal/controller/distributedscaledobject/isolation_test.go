package distributedscaledobject_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	. "github.com/onsi/gomega"
	"google.golang.org/grpc"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/fleetscale/fleetscale/internal/manager"
)

// silentScaler is a KEDA external scaler that never answers: every call waits until the
// caller gives up.
type silentScaler struct {
	externalscaler.UnimplementedExternalScalerServer
}

func (silentScaler) GetMetricSpec(ctx context.Context, _ *externalscaler.ScaledObjectRef) (*externalscaler.GetMetricSpecResponse, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (silentScaler) GetMetrics(ctx context.Context, _ *externalscaler.GetMetricsRequest) (*externalscaler.GetMetricsResponse, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (silentScaler) IsActive(ctx context.Context, _ *externalscaler.ScaledObjectRef) (*externalscaler.IsActiveResponse, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func startSilentScaler(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	srv := grpc.NewServer()
	externalscaler.RegisterExternalScalerServer(srv, silentScaler{})
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return l.Addr().String()
}

// reconcileTimes reads controller-runtime's reconcile-time histogram of the DSO controller:
// how many reconciles ran and how many took at most 1.5 s.
func reconcileTimes(g Gomega) (count, within uint64) {
	families, err := crmetrics.Registry.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	for _, mf := range families {
		if mf.GetName() != "controller_runtime_reconcile_time_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == "distributedscaledobject" {
					h := m.GetHistogram()
					for _, b := range h.GetBucket() {
						if b.GetUpperBound() == 1.5 {
							within = b.GetCumulativeCount()
						}
					}
					return h.GetSampleCount(), within
				}
			}
		}
	}
	return 0, 0
}

// workers is controller-runtime's gauge of the DSO controller's workers.
func workers(g Gomega) float64 {
	families, err := crmetrics.Registry.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	for _, mf := range families {
		if mf.GetName() != "controller_runtime_max_concurrent_reconciles" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == "distributedscaledobject" {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}

// TestHangingScalersDoNotDelayOthers: a DSO whose three external scalers never answer is
// re-evaluated every second, and each evaluation waits at most the trigger-read budget
// (500 ms) for them, so it never holds a worker long; meanwhile another DSO's ConfigMap change
// reaches every member's replicas within a second of the change.
func TestHangingScalersDoNotDelayOthers(t *testing.T) {
	RegisterTestingT(t)
	f, hungNS := fleetWith(t, 1, 1, 1)
	Eventually(func(g Gomega) {
		g.Expect(workers(g)).To(BeEquivalentTo(manager.DefaultConcurrentReconciles), "--concurrent-reconciles' default")
	}, timeout, poll).Should(Succeed())
	count0, within0 := reconcileTimes(Default)
	var triggers []string
	for range 3 {
		triggers = append(triggers, fmt.Sprintf("    - type: external\n      metadata:\n        scalerAddress: %s\n", startSilentScaler(t)))
	}
	apply(t, f.Hub, hungNS, `apiVersion: keda.kedify.io/v1alpha1
kind: DistributedScaledObject
metadata:
  name: nginx
spec:
  scaledObjectSpec:
    scaleTargetRef:
      name: nginx
    pollingInterval: 1
    maxReplicaCount: 10
    triggers:
`+strings.Join(triggers, ""))
	ns := namespace(t, f)
	for _, m := range f.Members {
		createNginx(t, m, ns, 1)
	}
	setMetric(t, f, ns, "20")
	apply(t, f.Hub, ns, dsoManifest("    maxReplicaCount: 30\n"))
	Eventually(func() []int32 { return sorted(replicas(f, ns)) }, timeout, poll).Should(Equal([]int32{1, 1, 2}))
	// The hanging DSO is being evaluated: its triggers are reported as failing.
	Eventually(func(g Gomega) {
		dso := getDSO(g, f, hungNS, "nginx")
		g.Expect(dso.Status.Triggers).To(HaveLen(3))
		for key, tr := range dso.Status.Triggers {
			g.Expect(tr.Error).NotTo(BeEmpty(), "trigger %s", key)
		}
	}, timeout, poll).Should(Succeed())

	// Upward steps only: a scale-down would wait for the HPA's 300 s stabilisation window.
	for i, metric := range []string{"30", "45", "70"} {
		want := map[string]int32{"30": 6, "45": 9, "70": 14}[metric]
		setMetric(t, f, ns, metric)
		changed := time.Now()
		Eventually(func() int32 { return sum(replicas(f, ns)) }, time.Second, 10*time.Millisecond).Should(BeEquivalentTo(want),
			"change %d (metric %s) within 1s", i+1, metric)
		t.Logf("metric %s → %d replicas over the members in %s", metric, want, time.Since(changed).Round(time.Millisecond))
		// The HPA's rate limits allow the next step only a sync period (1s here) later.
		Eventually(func(g Gomega) {
			g.Expect(getDSO(g, f, ns, "nginx").Status.RateLimitedUntil).To(BeNil())
		}, timeout, poll).Should(Succeed())
	}
	count, within := reconcileTimes(Default)
	Expect(count-count0).To(BeNumerically(">", 3), "the DSOs were evaluated")
	Expect(within-within0).To(Equal(count-count0), "no DSO evaluation took more than 1.5s while 3 scalers hang")
	t.Logf("%d DSO evaluations since the hanging DSO was created, all within 1.5s", count-count0)
}
