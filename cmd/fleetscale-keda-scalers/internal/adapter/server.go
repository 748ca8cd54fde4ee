package adapter

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"github.com/kedacore/keda/v2/pkg/scalers"
	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	v2 "k8s.io/api/autoscaling/v2"
	"k8s.io/metrics/pkg/apis/external_metrics"
)

// activityReuse is how long IsActive reuses the activity a GetMetrics call just read. A KEDA
// external-scaler client (the hub, KEDA's own external scaler) calls GetMetrics and then
// IsActive for one evaluation, while KEDA's scalers return both from one read: reusing it
// keeps one evaluation at one query of the source.
const activityReuse = 2 * time.Second

// Options configure a Server.
type Options struct {
	// HTTPTimeout is KEDA's GlobalHTTPTimeout (KEDA_HTTP_DEFAULT_TIMEOUT, 3s by default), the
	// bound of the HTTP requests of HTTP-based scalers.
	HTTPTimeout time.Duration
	// CallTimeout bounds each gRPC call, building the scaler included.
	CallTimeout time.Duration
	// MaxScalers caps the cached scalers.
	MaxScalers int
	// IdleTimeout closes a scaler no call used for that long.
	IdleTimeout time.Duration
	Log         logr.Logger
}

// Defaults of Options.
const (
	DefaultHTTPTimeout = 3 * time.Second
	DefaultCallTimeout = 10 * time.Second
	DefaultMaxScalers  = 2000
	DefaultIdleTimeout = 10 * time.Minute
)

func (o *Options) defaults() {
	if o.HTTPTimeout <= 0 {
		o.HTTPTimeout = DefaultHTTPTimeout
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.MaxScalers <= 0 {
		o.MaxScalers = DefaultMaxScalers
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
}

// Server serves KEDA's scalers over KEDA's external-scaler protocol.
type Server struct {
	externalscaler.UnimplementedExternalScalerServer
	opts  Options
	cache *cache
}

// NewServer returns a Server; Close releases its scalers.
func NewServer(o Options) *Server {
	o.defaults()
	s := &Server{opts: o}
	s.cache = newCache(s.build, o.MaxScalers, o.IdleTimeout, o.Log)
	return s
}

// Close closes every cached scaler.
func (s *Server) Close() { s.cache.Close(s.opts.CallTimeout) }

// Scalers is the number of cached scalers.
func (s *Server) Scalers() int { return s.cache.len() }

// Sweep closes the scalers unused for longer than the idle timeout.
func (s *Server) Sweep() int { return s.cache.sweep() }

func (s *Server) build(ctx context.Context, t *trigger) (scalers.Scaler, error) {
	return constructors[t.Type](ctx, t.scalerConfig(s.opts.HTTPTimeout))
}

// GetMetricSpec returns the scaler's metric names (without KEDA's s{index}- prefix, which the
// client adds, as KEDA's external scaler client does) and targets.
func (s *Server) GetMetricSpec(ctx context.Context, ref *externalscaler.ScaledObjectRef) (*externalscaler.GetMetricSpecResponse, error) {
	t, err := parseRef(ref)
	if err != nil {
		return nil, s.status(nil, err)
	}
	resp := &externalscaler.GetMetricSpecResponse{}
	err = s.call(ctx, t, func(ctx context.Context, e *entry) error {
		for _, spec := range e.scaler.GetMetricSpecForScaling(ctx) {
			if spec.External == nil {
				continue
			}
			target := spec.External.Target.AverageValue
			if spec.External.Target.Type == v2.ValueMetricType || target == nil {
				target = spec.External.Target.Value
			}
			ms := &externalscaler.MetricSpec{MetricName: t.stripIndex(spec.External.Metric.Name)}
			if target != nil {
				ms.TargetSize, ms.TargetSizeFloat = target.Value(), target.AsApproximateFloat64()
			}
			resp.MetricSpecs = append(resp.MetricSpecs, ms)
		}
		if len(resp.MetricSpecs) == 0 {
			return &readError{err: errors.New("KEDA's scaler returned no external metric")}
		}
		return nil
	})
	if err != nil {
		return nil, s.status(t, err)
	}
	return resp, nil
}

// GetMetrics reads the named metric (the first one when the name is empty).
func (s *Server) GetMetrics(ctx context.Context, req *externalscaler.GetMetricsRequest) (*externalscaler.GetMetricsResponse, error) {
	t, err := parseRef(req.GetScaledObjectRef())
	if err != nil {
		return nil, s.status(nil, err)
	}
	resp := &externalscaler.GetMetricsResponse{}
	err = s.call(ctx, t, func(ctx context.Context, e *entry) error {
		name := req.GetMetricName()
		if name == "" {
			specs := e.scaler.GetMetricSpecForScaling(ctx)
			if len(specs) == 0 || specs[0].External == nil {
				return &readError{err: errors.New("KEDA's scaler returned no external metric")}
			}
			name = specs[0].External.Metric.Name
		} else {
			name = t.withIndex(name)
		}
		values, _, err := s.read(ctx, e, name)
		if err != nil {
			return err
		}
		for _, v := range values {
			resp.MetricValues = append(resp.MetricValues, &externalscaler.MetricValue{
				MetricName: t.stripIndex(v.MetricName), MetricValue: v.Value.Value(), MetricValueFloat: v.Value.AsApproximateFloat64()})
		}
		return nil
	})
	if err != nil {
		return nil, s.status(t, err)
	}
	return resp, nil
}

// IsActive is true when any metric of the scaler is active, by KEDA's activation rule of that
// scaler (e.g. redis: list length > activationListLength).
func (s *Server) IsActive(ctx context.Context, ref *externalscaler.ScaledObjectRef) (*externalscaler.IsActiveResponse, error) {
	t, err := parseRef(ref)
	if err != nil {
		return nil, s.status(nil, err)
	}
	resp := &externalscaler.IsActiveResponse{}
	err = s.call(ctx, t, func(ctx context.Context, e *entry) error {
		specs := e.scaler.GetMetricSpecForScaling(ctx)
		for _, spec := range specs {
			if spec.External == nil {
				continue
			}
			name := spec.External.Metric.Name
			if a, ok := e.activity[name]; ok && time.Since(a.at) < activityReuse {
				delete(e.activity, name)
				resp.Result = resp.Result || a.active
				continue
			}
			_, active, err := s.read(ctx, e, name)
			if err != nil {
				return err
			}
			delete(e.activity, name)
			resp.Result = resp.Result || active
		}
		return nil
	})
	if err != nil {
		return nil, s.status(t, err)
	}
	return resp, nil
}

// StreamIsActive is not served: it exists for push scalers (KEDA's external-push), which the
// hub implements itself; every type served here is read by polling.
func (s *Server) StreamIsActive(*externalscaler.ScaledObjectRef, externalscaler.ExternalScaler_StreamIsActiveServer) error {
	return status.Error(codes.Unimplemented, "StreamIsActive is not served: fleetscale-keda-scalers serves KEDA's polled scalers (GetMetrics, IsActive)")
}

// read reads one metric; after a failure it rebuilds the scaler and reads once more, as
// KEDA's ScalersCache.GetMetricsAndActivityForScaler does.
func (s *Server) read(ctx context.Context, e *entry, name string) ([]external_metrics.ExternalMetricValue, bool, error) {
	values, active, err := e.scaler.GetMetricsAndActivity(ctx, name)
	if err != nil {
		if rerr := s.cache.refresh(ctx, e); rerr != nil {
			return nil, false, rerr
		}
		values, active, err = e.scaler.GetMetricsAndActivity(ctx, name)
		if err != nil {
			return nil, false, &readError{err: err}
		}
	}
	e.activity[name] = observedActivity{at: time.Now(), active: active}
	return values, active, nil
}

// call runs fn on the cached scaler of t within the per-call timeout.
func (s *Server) call(ctx context.Context, t *trigger, fn func(context.Context, *entry) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.CallTimeout)
	defer cancel()
	return s.cache.do(ctx, t, fn)
}

// status turns an error into the gRPC status of docs/adapter.md ("What a request becomes"): InvalidArgument for a
// request to fix, Unavailable when the scaler cannot be built or reached, Unknown when a
// read failed; the message names the type and the trigger and never holds an auth or env
// value.
func (s *Server) status(t *trigger, err error) error {
	var invalid *invalidRequestError
	if errors.As(err, &invalid) {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	code := codes.Unavailable
	var read *readError
	if errors.As(err, &read) {
		code = codes.Unknown
	}
	msg := err.Error()
	if errors.Is(err, context.DeadlineExceeded) {
		msg = fmt.Sprintf("no answer within %s: %v", s.opts.CallTimeout, err)
	}
	s.opts.Log.V(1).Info("call failed", "type", t.Type, "trigger", t.key().String(), "code", code.String())
	return status.Error(code, t.label()+": "+t.redact(msg))
}

// stripIndex removes KEDA's "s{index}-" metric name prefix, which an external-scaler client
// adds itself (KEDA's external_scaler.go GetMetricSpecForScaling).
func (t *trigger) stripIndex(name string) string {
	if rest, err := scalers.RemoveIndexFromMetricName(t.Index, name); err == nil {
		return rest
	}
	return name
}

// withIndex is the metric name KEDA's scaler knows, from the name its client uses.
func (t *trigger) withIndex(name string) string {
	if _, err := scalers.RemoveIndexFromMetricName(t.Index, name); err == nil {
		return name
	}
	return scalers.GenerateMetricNameWithIndex(t.Index, name)
}
