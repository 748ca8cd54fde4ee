package scalers

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

// testScaler is a real gRPC server speaking KEDA's external-scaler protocol whose GetMetrics
// can hang (until released or the caller gives up), fail, or echo a credential.
type testScaler struct {
	externalscaler.UnimplementedExternalScalerServer
	value       atomic.Int64
	hang        atomic.Bool
	release     chan struct{}
	specCalls   atomic.Int32
	metricCalls atomic.Int32
	streams     atomic.Int32
	push        chan bool
	fail        atomic.Pointer[error]

	mu   sync.Mutex
	refs []*externalscaler.ScaledObjectRef
}

func newTestScaler() *testScaler {
	return &testScaler{release: make(chan struct{}), push: make(chan bool)}
}

func (s *testScaler) GetMetricSpec(_ context.Context, ref *externalscaler.ScaledObjectRef) (*externalscaler.GetMetricSpecResponse, error) {
	s.specCalls.Add(1)
	s.mu.Lock()
	s.refs = append(s.refs, ref)
	s.mu.Unlock()
	if err := s.fail.Load(); err != nil {
		return nil, *err
	}
	return &externalscaler.GetMetricSpecResponse{MetricSpecs: []*externalscaler.MetricSpec{{MetricName: "queue", TargetSize: 5}}}, nil
}

func (s *testScaler) GetMetrics(ctx context.Context, r *externalscaler.GetMetricsRequest) (*externalscaler.GetMetricsResponse, error) {
	s.metricCalls.Add(1)
	if s.hang.Load() {
		select {
		case <-s.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err := s.fail.Load(); err != nil {
		return nil, *err
	}
	return &externalscaler.GetMetricsResponse{MetricValues: []*externalscaler.MetricValue{{MetricName: r.GetMetricName(), MetricValue: s.value.Load()}}}, nil
}

func (s *testScaler) IsActive(context.Context, *externalscaler.ScaledObjectRef) (*externalscaler.IsActiveResponse, error) {
	return &externalscaler.IsActiveResponse{Result: s.value.Load() > 0}, nil
}

func (s *testScaler) StreamIsActive(_ *externalscaler.ScaledObjectRef, stream externalscaler.ExternalScaler_StreamIsActiveServer) error {
	s.streams.Add(1)
	defer s.streams.Add(-1)
	for {
		select {
		case active := <-s.push:
			if err := stream.Send(&externalscaler.IsActiveResponse{Result: active}); err != nil {
				return err
			}
		case <-stream.Context().Done():
			return nil
		}
	}
}

func (s *testScaler) lastRef() *externalscaler.ScaledObjectRef {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.refs) == 0 {
		return nil
	}
	return s.refs[len(s.refs)-1]
}

func serve(t *testing.T, s externalscaler.ExternalScalerServer, opts ...grpc.ServerOption) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(opts...)
	externalscaler.RegisterExternalScalerServer(srv, s)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return l.Addr().String()
}

// newTestCache returns a cache whose finished reads land in the returned queue.
func newTestCache(t *testing.T, o Options) (*Cache, workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	t.Helper()
	c := NewCache(CacheOptions{Options: o, ObjectKind: "DistributedScaledObject"})
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	if err := c.Source().Start(t.Context(), q); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); q.ShutDown() })
	return c, q
}

// nextRequest waits (generously) for the queue to hand out a request.
func nextRequest(t *testing.T, q workqueue.TypedRateLimitingInterface[reconcile.Request], within time.Duration) reconcile.Request {
	t.Helper()
	got := make(chan reconcile.Request, 1)
	go func() {
		r, _ := q.Get()
		q.Done(r)
		got <- r
	}()
	select {
	case r := <-got:
		return r
	case <-time.After(within):
		t.Fatalf("nothing enqueued within %s", within)
		return reconcile.Request{}
	}
}

var obj = types.NamespacedName{Namespace: "shop", Name: "worker"}

func externalTrigger(addr string) v1alpha1.ScaleTriggers {
	return v1alpha1.ScaleTriggers{Type: "external", Metadata: map[string]string{"scalerAddress": addr}}
}

// A hung external scaler never holds the evaluation longer than the read budget: the first
// evaluation reports the read as pending, later ones do not wait for it at all, the finished
// read enqueues the object, and once the scaler is fast again evaluations wait for it.
func TestCacheHungScalerDoesNotHoldTheEvaluation(t *testing.T) {
	s := newTestScaler()
	s.value.Store(20)
	s.hang.Store(true)
	addr := serve(t, s)
	c, q := newTestCache(t, Options{ReadBudget: 200 * time.Millisecond, MaxReadTime: 2 * time.Second})
	req := ReadRequest{Object: obj, Triggers: []v1alpha1.ScaleTriggers{externalTrigger(addr)}}

	start := time.Now()
	r := c.Read(t.Context(), req)[0]
	if !errors.Is(r.Err, ErrPending) {
		t.Fatalf("first read: %+v", r)
	}
	// Far below the hang (until MaxReadTime, 2s): the evaluation did not wait for the read.
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("the first evaluation took %s", took)
	}
	start = time.Now()
	r = c.Read(t.Context(), req)[0]
	if !errors.Is(r.Err, ErrPending) || time.Since(start) > 100*time.Millisecond {
		t.Errorf("second read (should not wait for a known-slow trigger): %+v after %s", r, time.Since(start))
	}
	if n := s.metricCalls.Load(); n != 1 {
		t.Errorf("GetMetrics called %d times while one read was in flight", n)
	}

	// The hung read gives up at MaxReadTime; its result enqueues the object.
	if got := nextRequest(t, q, 30*time.Second); got.NamespacedName != obj {
		t.Fatalf("enqueued %v", got)
	}
	r = c.Read(t.Context(), req)[0]
	if r.Err == nil || errors.Is(r.Err, ErrPending) || !strings.Contains(r.Err.Error(), "timed out") {
		t.Fatalf("after the read gave up: %+v", r)
	}

	// The scaler answers again: the next read is not waited for (still known slow), shows the
	// previous result as stale, and enqueues the object when it finishes.
	s.hang.Store(false)
	r = c.Read(t.Context(), req)[0]
	if !r.Stale || r.Err == nil {
		t.Errorf("read while the trigger is known slow: %+v", r)
	}
	nextRequest(t, q, 30*time.Second)
	r = c.Read(t.Context(), req)[0]
	if r.Err != nil || len(r.Metrics) != 1 || r.Metrics[0].Value != 20 || r.Metrics[0].Name != "s0-queue" || !r.Active {
		t.Fatalf("after recovery: %+v", r)
	}
	// Fast again: the evaluation waits for its read and gets the new value at once.
	s.value.Store(30)
	r = c.Read(t.Context(), req)[0]
	if r.Err != nil || r.Stale || r.Metrics[0].Value != 30 {
		t.Fatalf("fast read: %+v", r)
	}
	if q.Len() != 0 {
		t.Errorf("a read the evaluation waited for also enqueued the object")
	}
}

// Many objects whose scalers hang cost an evaluation of another object nothing.
func TestCacheReadsOfObjectsAreIndependent(t *testing.T) {
	s := newTestScaler()
	s.hang.Store(true)
	addr := serve(t, s)
	fast := newTestScaler()
	fast.value.Store(7)
	fastAddr := serve(t, fast)
	c, _ := newTestCache(t, Options{ReadBudget: 100 * time.Millisecond, MaxReadTime: 5 * time.Second, Connections: NewConnections()})
	for i := range 20 {
		hung := ReadRequest{Object: types.NamespacedName{Namespace: "shop", Name: "hung-" + strings.Repeat("x", i)},
			Triggers: []v1alpha1.ScaleTriggers{externalTrigger(addr)}}
		if r := c.Read(t.Context(), hung)[0]; !errors.Is(r.Err, ErrPending) {
			t.Fatalf("hung object: %+v", r)
		}
	}
	start := time.Now()
	r := c.Read(t.Context(), ReadRequest{Object: obj, Triggers: []v1alpha1.ScaleTriggers{externalTrigger(fastAddr)}})[0]
	if r.Err != nil || r.Metrics[0].Value != 7 {
		t.Fatalf("fast object: %+v", r)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the fast object's evaluation took %s beside 20 hung ones", took)
	}
	close(s.release)
}

// One scaler per trigger, kept across evaluations; a changed trigger rebuilds it and closes
// the old one, a removed trigger or object closes it (here: its push stream ends).
func TestCacheScalerLifecycle(t *testing.T) {
	s := newTestScaler()
	s.value.Store(3)
	addr := serve(t, s)
	c, q := newTestCache(t, Options{ReadBudget: 2 * time.Second})
	push := v1alpha1.ScaleTriggers{Type: "external-push", Metadata: map[string]string{"scalerAddress": addr}}
	req := ReadRequest{Object: obj, Triggers: []v1alpha1.ScaleTriggers{push}}

	for range 3 {
		if r := c.Read(t.Context(), req)[0]; r.Err != nil || r.Metrics[0].Value != 3 {
			t.Fatalf("read: %+v", r)
		}
	}
	if n := s.specCalls.Load(); n != 1 {
		t.Errorf("the scaler was built %d times for three reads of the same trigger", n)
	}
	waitFor(t, "the push stream opens", func() bool { return s.streams.Load() == 1 })

	// A push enqueues the object at once.
	s.push <- true
	if got := nextRequest(t, q, 10*time.Second); got.NamespacedName != obj {
		t.Fatalf("push enqueued %v", got)
	}

	// Changed metadata: a new scaler; the old one is closed (its stream ends).
	push.Metadata = map[string]string{"scalerAddress": addr, "queue": "b"}
	req.Triggers = []v1alpha1.ScaleTriggers{push}
	if r := c.Read(t.Context(), req)[0]; r.Err != nil {
		t.Fatal(r.Err)
	}
	if n := s.specCalls.Load(); n != 2 {
		t.Errorf("built %d times after a change, want 2", n)
	}
	waitFor(t, "one stream after the rebuild", func() bool { return s.streams.Load() == 1 && c.Scalers() == 1 })

	// A second trigger, then only the first again: the removed one is closed.
	req.Triggers = []v1alpha1.ScaleTriggers{push, externalTrigger(addr)}
	c.Read(t.Context(), req)
	if c.Scalers() != 2 {
		t.Errorf("%d scalers cached for two triggers", c.Scalers())
	}
	req.Triggers = req.Triggers[:1]
	c.Read(t.Context(), req)
	waitFor(t, "the removed trigger's scaler closed", func() bool { return c.Scalers() == 1 })

	c.Forget(obj)
	waitFor(t, "every scaler of the object closed", func() bool { return c.Scalers() == 0 && s.streams.Load() == 0 })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Errors that hold a credential are redacted before anyone sees them, and a Policy refusal
// is a spec error.
func TestCacheRedactsAndAppliesPolicy(t *testing.T) {
	s := newTestScaler()
	failure := status.Error(codes.Unavailable, `redis trigger "orders": WRONGPASS invalid username-password pair (password "hunter2-secret")`)
	s.fail.Store(&failure)
	addr := serve(t, s)
	c, _ := newTestCache(t, Options{ExternalScalerAddress: addr, ReadBudget: 2 * time.Second})
	// The authentication comes from a resolver; here the adapter is handed Auth directly
	// through a trigger whose metadata is the credential (what a …FromEnv key could carry).
	cfg := Config{Trigger: v1alpha1.ScaleTriggers{Type: "redis", Name: "orders"}, Namespace: "shop", ObjectName: "worker",
		Auth: Auth{Params: map[string]string{"password": "hunter2-secret"}}, Options: c.opts.Options}
	_, err := New(t.Context(), cfg)
	red := redactError(err, []string{"hunter2-secret"})
	if red == nil || strings.Contains(red.Error(), "hunter2-secret") || !strings.Contains(red.Error(), Redacted) || !strings.Contains(red.Error(), "WRONGPASS") {
		t.Fatalf("redacted: %v", red)
	}
	if ref := s.lastRef(); ref.GetScalerMetadata()[AuthMetadataPrefix+"password"] != "hunter2-secret" {
		t.Errorf("the adapter did not receive the password: %v", ref.GetScalerMetadata())
	}

	denied := errors.New("namespace shop may not dial 10.0.0.0/8")
	c2, _ := newTestCache(t, Options{Policy: denyAddresses{err: denied}})
	r := c2.Read(t.Context(), ReadRequest{Object: obj, Triggers: []v1alpha1.ScaleTriggers{externalTrigger("10.1.2.3:9000")}})[0]
	if !IsSpecError(r.Err) || !errors.Is(r.Err, ErrNotAllowed) || !strings.Contains(r.Err.Error(), "scalerAddress 10.1.2.3:9000 is not allowed by the hub's policy") {
		t.Errorf("denied: %v", r.Err)
	}
	// The HTTP triggers' addresses go through the same policy.
	prom := v1alpha1.ScaleTriggers{Type: "prometheus", Metadata: map[string]string{"serverAddress": "http://169.254.169.254", "query": "up", "threshold": "1"}}
	api := v1alpha1.ScaleTriggers{Type: "metrics-api", Metadata: map[string]string{"url": "https://metrics.internal/q", "valueLocation": "v", "targetValue": "1"}}
	rs := c2.Read(t.Context(), ReadRequest{Object: obj, Triggers: []v1alpha1.ScaleTriggers{prom, api}})
	if !errors.Is(rs[0].Err, ErrNotAllowed) || !strings.Contains(rs[0].Err.Error(), "serverAddress 169.254.169.254:80") {
		t.Errorf("prometheus: %v", rs[0].Err)
	}
	if !errors.Is(rs[1].Err, ErrNotAllowed) || !strings.Contains(rs[1].Err.Error(), "url metrics.internal:443") {
		t.Errorf("metrics-api: %v", rs[1].Err)
	}
}

type denyAddresses struct{ err error }

func (d denyAddresses) AllowClusterTriggerAuthentication(context.Context, string, string) error {
	return nil
}
func (d denyAddresses) AllowExternalAddress(context.Context, string, string) error { return d.err }

func TestRedact(t *testing.T) {
	for _, tt := range []struct {
		msg       string
		sensitive []string
		want      string
	}{
		{"dial tcp: user hunter2 failed", []string{"hunter2"}, "dial tcp: user [redacted] failed"},
		{"GET /q?token=a%2Fb%2Bc%3D", []string{"a/b+c="}, "GET /q?token=[redacted]"},
		{"Authorization: Basic dXNlcjpodW50ZXIy", []string{"user", "hunter2"}, "Authorization: Basic [redacted]"},
		{"wrong pin 42 for user", []string{"42"}, withheldMessage},
		{"error 4242 happened", []string{"42"}, "error 4242 happened"},
		{"nothing here", nil, "nothing here"},
	} {
		if got := Redact(tt.msg, tt.sensitive); got != tt.want {
			t.Errorf("Redact(%q, %q) = %q, want %q", tt.msg, tt.sensitive, got, tt.want)
		}
	}
}
