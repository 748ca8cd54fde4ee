package distributedscaledobject_test

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	. "github.com/onsi/gomega"
	"google.golang.org/grpc"
)

// queueScaler is a real external scaler (KEDA's gRPC protocol) on 127.0.0.1 whose queue
// length the test sets.
type queueScaler struct {
	externalscaler.UnimplementedExternalScalerServer
	length atomic.Int64
}

func (q *queueScaler) GetMetricSpec(context.Context, *externalscaler.ScaledObjectRef) (*externalscaler.GetMetricSpecResponse, error) {
	return &externalscaler.GetMetricSpecResponse{MetricSpecs: []*externalscaler.MetricSpec{{MetricName: "queue", TargetSize: 5}}}, nil
}

func (q *queueScaler) GetMetrics(_ context.Context, r *externalscaler.GetMetricsRequest) (*externalscaler.GetMetricsResponse, error) {
	return &externalscaler.GetMetricsResponse{MetricValues: []*externalscaler.MetricValue{{MetricName: r.GetMetricName(), MetricValue: q.length.Load()}}}, nil
}

func (q *queueScaler) IsActive(context.Context, *externalscaler.ScaledObjectRef) (*externalscaler.IsActiveResponse, error) {
	return &externalscaler.IsActiveResponse{Result: q.length.Load() > 0}, nil
}

// A `type: external` trigger drives the total from an external scaler, polled every
// pollingInterval, exactly as KEDA's external trigger would.
func TestExternalTriggerDrivesTheTotal(t *testing.T) {
	f, ns := fleetWith(t, 1, 1, 1)
	q := &queueScaler{}
	q.length.Store(20)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	srv := grpc.NewServer()
	externalscaler.RegisterExternalScalerServer(srv, q)
	go func() { _ = srv.Serve(l) }()
	defer srv.Stop()

	apply(t, f.Hub, ns, fmt.Sprintf(`apiVersion: keda.kedify.io/v1alpha1
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
    - type: external
      metadata:
        scalerAddress: %s
`, l.Addr()))
	Eventually(func() int32 { return sum(replicas(f, ns)) }, timeout, poll).Should(BeEquivalentTo(4))
	q.length.Store(30)
	Eventually(func() int32 { return sum(replicas(f, ns)) }, timeout, poll).Should(BeEquivalentTo(6))
}
