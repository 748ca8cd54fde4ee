package distributedscaledobject_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// testAdapter speaks the adapter side of the hub-to-adapter protocol (docs/adapter.md, "What a request becomes") for one
// made-up backend: trigger type "redis" reads the length of metadata listName from lists,
// and requires the password the TriggerAuthentication resolves (fleetscale.dev/auth.password).
// It is the hub's counterpart in these tests; fleetscale-keda-scalers, with KEDA's real redis
// scaler, is the real one. Any other type is unknown (InvalidArgument).
type testAdapter struct {
	externalscaler.UnimplementedExternalScalerServer
	addr     string
	srv      *grpc.Server
	password string

	mu    sync.Mutex
	lists map[string]int64
	down  map[string]bool
}

func startTestAdapter() *testAdapter {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	a := &testAdapter{addr: l.Addr().String(), srv: grpc.NewServer(), password: "redis-Pa55-w0rd",
		lists: map[string]int64{}, down: map[string]bool{}}
	externalscaler.RegisterExternalScalerServer(a.srv, a)
	go func() { _ = a.srv.Serve(l) }()
	return a
}

func (a *testAdapter) set(list string, n int64, down bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lists[list], a.down[list] = n, down
}

// check validates a request as the real adapter would build KEDA's scaler from it.
func (a *testAdapter) check(ref *externalscaler.ScaledObjectRef) (string, error) {
	md := ref.GetScalerMetadata()
	typ, name := md["fleetscale.dev/trigger-type"], md["fleetscale.dev/trigger-name"]
	if name == "" {
		name = md["fleetscale.dev/trigger-index"]
	}
	if typ != "redis" {
		return "", status.Errorf(codes.InvalidArgument, "unknown trigger type %q", typ)
	}
	list := md["listName"]
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.down[list]:
		return "", status.Errorf(codes.Unavailable, "redis trigger %q: dial tcp 127.0.0.1:6379: connect: connection refused", name)
	case md["fleetscale.dev/auth.password"] != a.password:
		// The adapter redacts credentials; the hub redacts again before status and Events.
		return "", status.Errorf(codes.Unavailable, "redis trigger %q: WRONGPASS invalid username-password pair (password %s)", name, md["fleetscale.dev/auth.password"])
	}
	return list, nil
}

func (a *testAdapter) GetMetricSpec(_ context.Context, ref *externalscaler.ScaledObjectRef) (*externalscaler.GetMetricSpecResponse, error) {
	list, err := a.check(ref)
	if err != nil {
		return nil, err
	}
	target, _ := strconv.ParseFloat(ref.GetScalerMetadata()["listLength"], 64)
	return &externalscaler.GetMetricSpecResponse{MetricSpecs: []*externalscaler.MetricSpec{
		{MetricName: fmt.Sprintf("redis-%s", list), TargetSizeFloat: target}}}, nil
}

func (a *testAdapter) GetMetrics(_ context.Context, r *externalscaler.GetMetricsRequest) (*externalscaler.GetMetricsResponse, error) {
	list, err := a.check(r.GetScaledObjectRef())
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return &externalscaler.GetMetricsResponse{MetricValues: []*externalscaler.MetricValue{{MetricName: r.GetMetricName(), MetricValue: a.lists[list]}}}, nil
}

func (a *testAdapter) IsActive(_ context.Context, ref *externalscaler.ScaledObjectRef) (*externalscaler.IsActiveResponse, error) {
	list, err := a.check(ref)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return &externalscaler.IsActiveResponse{Result: a.lists[list] > 0}, nil
}
