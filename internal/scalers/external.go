package scalers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

// The external trigger reproduces KEDA's external_scaler.go: the metric comes from a server
// speaking KEDA's external-scaler gRPC protocol (GetMetricSpec, GetMetrics, IsActive) at
// metadata scalerAddress; all metadata is passed to it as ScaledObjectRef.scalerMetadata.
const externalType = "external"

// TriggerTypeMetadataKey carries the original trigger type when the hub sends a trigger type
// it does not implement to the adapter at Config.ExternalScalerAddress (fleetscale-keda-scalers
// reads it to pick KEDA's scaler of that type).
const TriggerTypeMetadataKey = "fleetscale.dev/trigger-type"

// externalCallTimeout bounds each call to an external scaler.
const externalCallTimeout = 5 * time.Second

// Connections shares one gRPC connection per external scaler address between evaluations,
// as KEDA caches its clients. The zero value is not usable; use NewConnections.
type Connections struct {
	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

// NewConnections returns an empty connection cache.
func NewConnections() *Connections { return &Connections{conns: map[string]*grpc.ClientConn{}} }

func (c *Connections) get(address string) (*grpc.ClientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if conn, ok := c.conns[address]; ok {
		return conn, nil
	}
	conn, err := dialExternal(address)
	if err != nil {
		return nil, err
	}
	c.conns[address] = conn
	return conn, nil
}

// Close closes every cached connection.
func (c *Connections) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for address, conn := range c.conns {
		errs = append(errs, conn.Close())
		delete(c.conns, address)
	}
	return errors.Join(errs...)
}

// dialExternal creates a lazy connection (no I/O until the first call).
func dialExternal(address string) (*grpc.ClientConn, error) {
	conn, err := grpc.NewClient(address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("external scaler %s: %w", address, err)
	}
	return conn, nil
}

type externalScaler struct {
	client externalscaler.ExternalScalerClient
	ref    *externalscaler.ScaledObjectRef
	// owned is closed by Close when the scaler dialled its own connection.
	owned *grpc.ClientConn
	specs []MetricSpec
	// names maps our metric name (s{index}-name) to the scaler's own name.
	names map[string]string
}

func newExternalScaler(ctx context.Context, cfg Config) (Scaler, error) {
	m := newMetadata(cfg.Trigger.Metadata)
	address, _ := m.required("scalerAddress")
	for _, key := range []string{"tlsCertFile", "caCert", "tlsClientCert", "tlsClientKey", "enableTLS"} {
		if _, ok := m.lookup(key); ok {
			m.problem("%s: TLS to external scalers is not supported yet; reach the scaler over a plaintext address", key)
		}
	}
	metricType, problem := metricTargetType(cfg.Trigger.MetricType)
	if problem != "" {
		m.problem("%s", problem)
	}
	if err := m.err(externalType); err != nil {
		return nil, err
	}
	return connectExternal(ctx, cfg, address, cfg.Trigger.Metadata, metricType)
}

// newAdapterScaler sends a trigger type the hub does not implement to the adapter at
// cfg.ExternalScalerAddress, as an external trigger whose metadata names the type.
func newAdapterScaler(ctx context.Context, cfg Config) (Scaler, error) {
	metricType, problem := metricTargetType(cfg.Trigger.MetricType)
	if problem != "" {
		return nil, &MetadataError{TriggerType: cfg.Trigger.Type, Problems: []string{problem}}
	}
	metadata := maps.Clone(cfg.Trigger.Metadata)
	if metadata == nil {
		metadata = map[string]string{}
	}
	metadata[TriggerTypeMetadataKey] = cfg.Trigger.Type
	return connectExternal(ctx, cfg, cfg.ExternalScalerAddress, metadata, metricType)
}

func connectExternal(ctx context.Context, cfg Config, address string, metadata map[string]string, metricType autoscalingv2.MetricTargetType) (Scaler, error) {
	s := &externalScaler{
		ref:   &externalscaler.ScaledObjectRef{Name: cfg.ObjectName, Namespace: cfg.Namespace, ScalerMetadata: metadata},
		names: map[string]string{},
	}
	var conn *grpc.ClientConn
	var err error
	if cfg.Connections != nil {
		conn, err = cfg.Connections.get(address)
	} else {
		conn, err = dialExternal(address)
		s.owned = conn
	}
	if err != nil {
		return nil, err
	}
	s.client = externalscaler.NewExternalScalerClient(conn)
	callCtx, cancel := context.WithTimeout(ctx, externalCallTimeout)
	defer cancel()
	resp, err := s.client.GetMetricSpec(callCtx, s.ref)
	if err != nil {
		_ = s.Close(ctx)
		return nil, fmt.Errorf("external scaler %s: GetMetricSpec: %w", address, err)
	}
	for _, spec := range resp.GetMetricSpecs() {
		target := spec.GetTargetSizeFloat()
		if target == 0 {
			target = float64(spec.GetTargetSize())
		}
		name := metricName(cfg, spec.GetMetricName())
		s.names[name] = spec.GetMetricName()
		s.specs = append(s.specs, MetricSpec{Name: name, Target: asMilli(target), Type: metricType})
	}
	if len(s.specs) == 0 {
		_ = s.Close(ctx)
		return nil, fmt.Errorf("external scaler %s returned no metric spec", address)
	}
	return s, nil
}

func (s *externalScaler) MetricSpecs() []MetricSpec { return s.specs }

// GetMetricsAndActivity asks for every metric, then whether the scaler is active, as KEDA does.
func (s *externalScaler) GetMetricsAndActivity(ctx context.Context) ([]MetricValue, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, externalCallTimeout)
	defer cancel()
	var values []MetricValue
	for _, spec := range s.specs {
		resp, err := s.client.GetMetrics(ctx, &externalscaler.GetMetricsRequest{ScaledObjectRef: s.ref, MetricName: s.names[spec.Name]})
		if err != nil {
			return nil, false, fmt.Errorf("external scaler: GetMetrics %s: %w", s.names[spec.Name], err)
		}
		for _, v := range resp.GetMetricValues() {
			value := v.GetMetricValueFloat()
			if value == 0 {
				value = float64(v.GetMetricValue())
			}
			values = append(values, MetricValue{Name: spec.Name, Value: asMilli(value)})
		}
	}
	active, err := s.client.IsActive(ctx, s.ref)
	if err != nil {
		return nil, false, fmt.Errorf("external scaler: IsActive: %w", err)
	}
	return values, active.GetResult(), nil
}

func (s *externalScaler) Close(context.Context) error {
	if s.owned == nil {
		return nil
	}
	return s.owned.Close()
}
