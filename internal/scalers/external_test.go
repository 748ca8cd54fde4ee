package scalers

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"google.golang.org/grpc"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

// fakeExternalScaler is a real gRPC server on 127.0.0.1 speaking KEDA's external-scaler
// protocol, serving one metric; it records the ScaledObjectRef it was sent.
type fakeExternalScaler struct {
	externalscaler.UnimplementedExternalScalerServer
	mu       sync.Mutex
	value    float64
	active   bool
	lastRef  *externalscaler.ScaledObjectRef
	lastName string
}

func (f *fakeExternalScaler) GetMetricSpec(_ context.Context, ref *externalscaler.ScaledObjectRef) (*externalscaler.GetMetricSpecResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastRef = ref
	return &externalscaler.GetMetricSpecResponse{MetricSpecs: []*externalscaler.MetricSpec{{MetricName: "queue-length", TargetSizeFloat: 2.5}}}, nil
}

func (f *fakeExternalScaler) GetMetrics(_ context.Context, req *externalscaler.GetMetricsRequest) (*externalscaler.GetMetricsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastName = req.GetMetricName()
	return &externalscaler.GetMetricsResponse{MetricValues: []*externalscaler.MetricValue{{MetricName: req.GetMetricName(), MetricValueFloat: f.value}}}, nil
}

func (f *fakeExternalScaler) IsActive(context.Context, *externalscaler.ScaledObjectRef) (*externalscaler.IsActiveResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &externalscaler.IsActiveResponse{Result: f.active}, nil
}

func serveExternal(t *testing.T, f *fakeExternalScaler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	externalscaler.RegisterExternalScalerServer(srv, f)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return l.Addr().String()
}

func TestExternalTriggerReadsFromTheScaler(t *testing.T) {
	fake := &fakeExternalScaler{value: 12, active: true}
	addr := serveExternal(t, fake)
	conns := NewConnections()
	defer conns.Close()
	trigger := v1alpha1.ScaleTriggers{Type: "external", Metadata: map[string]string{"scalerAddress": addr, "queue": "orders"}}
	s, err := New(context.Background(), Config{Trigger: trigger, TriggerIndex: 1, Namespace: "shop", ObjectName: "worker",
		Options: Options{Connections: conns}})
	if err != nil {
		t.Fatal(err)
	}
	specs := s.MetricSpecs()
	if len(specs) != 1 || specs[0].Name != "s1-queue-length" || specs[0].Target != 2.5 || specs[0].Type != "AverageValue" {
		t.Fatalf("specs = %+v", specs)
	}
	values, active, err := s.GetMetricsAndActivity(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !active || len(values) != 1 || values[0].Value != 12 || values[0].Name != "s1-queue-length" {
		t.Fatalf("values = %+v, active = %v", values, active)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if fake.lastName != "queue-length" {
		t.Errorf("the scaler was asked for %q; KEDA strips the s<index>- prefix", fake.lastName)
	}
	if fake.lastRef.GetName() != "worker" || fake.lastRef.GetNamespace() != "shop" || fake.lastRef.GetScalerMetadata()["queue"] != "orders" {
		t.Errorf("ScaledObjectRef = %v", fake.lastRef)
	}
}

// A trigger type the hub does not implement goes to the adapter when one is configured,
// with its type in the metadata.
func TestUnsupportedTypeGoesToTheAdapter(t *testing.T) {
	fake := &fakeExternalScaler{value: 3}
	addr := serveExternal(t, fake)
	trigger := v1alpha1.ScaleTriggers{Type: "rabbitmq", Metadata: map[string]string{"queueName": "jobs"}}
	s, err := New(context.Background(), Config{Trigger: trigger, Namespace: "shop", ObjectName: "worker",
		Options: Options{ExternalScalerAddress: addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	values, active, err := s.GetMetricsAndActivity(context.Background())
	if err != nil || active || values[0].Value != 3 {
		t.Fatalf("values = %+v, active = %v, err = %v", values, active, err)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if got := fake.lastRef.GetScalerMetadata(); got[TriggerTypeMetadataKey] != "rabbitmq" || got["queueName"] != "jobs" {
		t.Errorf("metadata sent = %v", got)
	}
	if _, ok := trigger.Metadata[TriggerTypeMetadataKey]; ok {
		t.Error("the trigger's own metadata was modified")
	}
}

func TestExternalTriggerErrors(t *testing.T) {
	_, err := New(context.Background(), Config{Trigger: v1alpha1.ScaleTriggers{Type: "external", Metadata: map[string]string{"enableTLS": "yes"}}})
	if !errors.Is(err, ErrInvalidMetadata) || !strings.Contains(err.Error(), "scalerAddress is required") || !strings.Contains(err.Error(), `enableTLS "yes" is not a boolean`) {
		t.Fatalf("err = %v", err)
	}
	// A CA from the TriggerAuthentication that is not PEM: a spec error naming the parameter.
	_, err = New(context.Background(), Config{Trigger: v1alpha1.ScaleTriggers{Type: "external", Metadata: map[string]string{"scalerAddress": "127.0.0.1:1", "enableTLS": "true"}},
		Auth: Auth{Params: map[string]string{"caCert": "not a certificate"}}})
	if !errors.Is(err, ErrInvalidMetadata) || !strings.Contains(err.Error(), "caCert") || strings.Contains(err.Error(), "not a certificate") {
		t.Fatalf("err = %v", err)
	}
	// Nothing listens there: building fails with the address named, and is not a spec error.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	_, err = New(context.Background(), Config{Trigger: v1alpha1.ScaleTriggers{Type: "external", Metadata: map[string]string{"scalerAddress": addr}}})
	if err == nil || errors.Is(err, ErrInvalidMetadata) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("err = %v", err)
	}
}

func TestWithoutLocalAddress(t *testing.T) {
	in := `connection error: desc = "error reading server preface: raw-read tcp 127.0.0.1:43396->127.0.0.1:45555: use of closed network connection"`
	want := `connection error: desc = "error reading server preface: raw-read tcp 127.0.0.1:45555: use of closed network connection"`
	if got := withoutLocalAddress(in); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got := withoutLocalAddress("dial tcp 127.0.0.1:1: connect: connection refused"); got != "dial tcp 127.0.0.1:1: connect: connection refused" {
		t.Errorf("a message without a local address changed: %q", got)
	}
}
