package scalers

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

// The external trigger reproduces KEDA's external_scaler.go: the metric comes from a server
// speaking KEDA's external-scaler gRPC protocol (GetMetricSpec, GetMetrics, IsActive) at
// metadata scalerAddress; the metadata is passed to it as ScaledObjectRef.scalerMetadata, with
// each …FromEnv key's value replaced by the variable it names. external-push adds KEDA's
// StreamIsActive stream: each message the server pushes makes the object evaluate at once.
const (
	externalType     = "external"
	externalPushType = "external-push"
)

// Metadata keys the hub adds when it sends a trigger type it does not implement to the
// adapter at Options.ExternalScalerAddress (fleetscale-keda-scalers); the adapter strips every
// key with the fleetscale.dev/ prefix before building KEDA's ScalerConfig.
const (
	adapterKeyPrefix = "fleetscale.dev/"
	// TriggerTypeMetadataKey is the KEDA trigger type, e.g. redis.
	TriggerTypeMetadataKey = adapterKeyPrefix + "trigger-type"
	TriggerNameMetadataKey = adapterKeyPrefix + "trigger-name"
	// TriggerIndexMetadataKey is the trigger's index in the object's triggers, in decimal.
	TriggerIndexMetadataKey = adapterKeyPrefix + "trigger-index"
	// MetricTypeMetadataKey is AverageValue or Value.
	MetricTypeMetadataKey     = adapterKeyPrefix + "metric-type"
	AsMetricSourceMetadataKey = adapterKeyPrefix + "as-metric-source"
	// ObjectKindMetadataKey is DistributedScaledObject or DistributedScaledJob.
	ObjectKindMetadataKey = adapterKeyPrefix + "object-kind"
	// AuthMetadataPrefix + param carries each resolved authentication parameter.
	AuthMetadataPrefix = adapterKeyPrefix + "auth."
	// EnvMetadataPrefix + NAME carries each resolved environment value.
	EnvMetadataPrefix = adapterKeyPrefix + "env."
	// PodIdentityMetadataKey is the TriggerAuthentication's podIdentity provider.
	PodIdentityMetadataKey = adapterKeyPrefix + "pod-identity"
)

// externalCallTimeout bounds each call to an external scaler.
const externalCallTimeout = 5 * time.Second

// grpcServiceConfig balances over every address a name resolves to, as KEDA dials.
const grpcServiceConfig = `{"loadBalancingConfig": [{"round_robin":{}}]}`

// Connections shares one gRPC connection per external scaler address (and TLS settings)
// between scalers and evaluations, as KEDA pools its connections. The zero value is not
// usable; use NewConnections.
type Connections struct {
	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

// NewConnections returns an empty connection cache.
func NewConnections() *Connections { return &Connections{conns: map[string]*grpc.ClientConn{}} }

func (c *Connections) get(key, address string, creds credentials.TransportCredentials) (*grpc.ClientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if conn, ok := c.conns[key]; ok {
		return conn, nil
	}
	conn, err := dialExternal(address, creds)
	if err != nil {
		return nil, err
	}
	c.conns[key] = conn
	return conn, nil
}

// Close closes every cached connection.
func (c *Connections) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for key, conn := range c.conns {
		errs = append(errs, conn.Close())
		delete(c.conns, key)
	}
	return errors.Join(errs...)
}

// dialExternal creates a lazy connection (no I/O until the first call).
func dialExternal(address string, creds credentials.TransportCredentials) (*grpc.ClientConn, error) {
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	conn, err := grpc.NewClient(address, grpc.WithTransportCredentials(creds), grpc.WithDefaultServiceConfig(grpcServiceConfig))
	if err != nil {
		return nil, fmt.Errorf("external scaler %s: %w", address, err)
	}
	return conn, nil
}

// IsLoopback reports whether address (host:port) is on this host only: localhost or a
// loopback IP. The adapter receives resolved credentials, so it is dialled in plaintext only
// there.
func IsLoopback(address string) bool {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// externalTarget is where and how an external scaler is dialled.
type externalTarget struct {
	address string
	creds   credentials.TransportCredentials
	// key identifies address and TLS settings in Connections.
	key string
}

type externalScaler struct {
	client   externalscaler.ExternalScalerClient
	conn     *grpc.ClientConn
	ref      *externalscaler.ScaledObjectRef
	address  string
	adapter  bool
	typeName string
	// owned is true when the scaler dialled its own connection (no Connections): Close closes it.
	owned bool
	specs []MetricSpec
	// names maps our metric name (s{index}-name) to the scaler's own name.
	names map[string]string

	// push stream (external-push only)
	stopPush context.CancelFunc
	pushDone chan struct{}
}

func newExternalScaler(ctx context.Context, cfg Config) (Scaler, error) {
	return newExternal(ctx, cfg, false)
}

func newExternalPushScaler(ctx context.Context, cfg Config) (Scaler, error) {
	return newExternal(ctx, cfg, true)
}

func newExternal(ctx context.Context, cfg Config, push bool) (Scaler, error) {
	m := newMetadata(cfg.Trigger.Metadata).withAuth(cfg.Auth)
	address, hasAddress := m.get(fromMetadata, "scalerAddress")
	if !hasAddress {
		m.problem("scalerAddress is required")
	}
	enableTLS := m.boolean(fromMetadata, "enableTLS", false)
	unsafeSsl := m.boolean(fromMetadata, "unsafeSsl", false)
	ca, _ := m.get(fromAuth, "caCert")
	cert, _ := m.get(fromAuth, "tlsClientCert")
	key, _ := m.get(fromAuth, "tlsClientKey")
	if problem := metricTypeProblem(cfg); problem != "" {
		m.problem("%s", problem)
	}
	if err := m.err(cfg.Trigger.Type); err != nil {
		return nil, err
	}
	if cfg.Policy != nil {
		if err := cfg.Policy.AllowExternalAddress(ctx, cfg.Namespace, address); err != nil {
			return nil, &NotAllowedError{What: fmt.Sprintf("scalerAddress %s", address), Err: err}
		}
	}
	target := externalTarget{address: address, key: address}
	if enableTLS || (cert != "" && key != "") || ca != "" {
		tc, err := tlsConfig(cert, key, ca, unsafeSsl)
		if err != nil {
			return nil, &MetadataError{TriggerType: cfg.Trigger.Type, Problems: []string{strings.NewReplacer(
				"authentication parameters cert and key", "authentication parameters tlsClientCert and tlsClientKey",
				"authentication parameter ca", "authentication parameter caCert").Replace(err.Error())}}
		}
		target.creds = credentials.NewTLS(tc)
		sum := sha256.Sum256([]byte(strconv.FormatBool(unsafeSsl) + "\x00" + ca + "\x00" + cert + "\x00" + key))
		target.key = address + "/tls/" + hex.EncodeToString(sum[:8])
	}
	// KEDA's originalMetadata: …FromEnv keys carry the variable's value; unresolved ones are dropped.
	metadata := map[string]string{}
	for k, v := range cfg.Trigger.Metadata {
		if strings.HasSuffix(k, "FromEnv") {
			if val := cfg.Auth.Env[strings.TrimSpace(v)]; val != "" {
				metadata[k] = val
			}
			continue
		}
		metadata[k] = v
	}
	metricType, _ := metricTargetType(cfg.Trigger.MetricType)
	s, err := connectExternal(ctx, cfg, target, metadata, metricType, false)
	if err != nil || !push {
		return s, err
	}
	es := s.(*externalScaler)
	es.startPush(cfg.OnPush)
	return es, nil
}

// newAdapterScaler sends a trigger type the hub does not implement to the adapter at
// cfg.ExternalScalerAddress, as an external trigger whose metadata carries the type, the
// trigger's identity and its resolved authentication (docs/adapter.md, "What a request becomes").
func newAdapterScaler(ctx context.Context, cfg Config) (Scaler, error) {
	metricType, problem := metricTargetType(cfg.Trigger.MetricType)
	if problem != "" {
		return nil, &MetadataError{TriggerType: cfg.Trigger.Type, Problems: []string{problem}}
	}
	metadata := maps.Clone(cfg.Trigger.Metadata)
	if metadata == nil {
		metadata = map[string]string{}
	}
	for k := range metadata {
		if strings.HasPrefix(k, adapterKeyPrefix) {
			// The adapter strips these keys: a user's own would be lost or, worse, taken as ours.
			return nil, &MetadataError{TriggerType: cfg.Trigger.Type, Problems: []string{
				fmt.Sprintf("metadata key %q: keys starting with %s are reserved", k, adapterKeyPrefix)}}
		}
	}
	metadata[TriggerTypeMetadataKey] = cfg.Trigger.Type
	if cfg.Trigger.Name != "" {
		metadata[TriggerNameMetadataKey] = cfg.Trigger.Name
	}
	metadata[TriggerIndexMetadataKey] = strconv.Itoa(cfg.TriggerIndex)
	metadata[MetricTypeMetadataKey] = string(metricType)
	if cfg.AsMetricSource {
		metadata[AsMetricSourceMetadataKey] = "true"
	}
	if cfg.ObjectKind != "" {
		metadata[ObjectKindMetadataKey] = cfg.ObjectKind
	}
	for k, v := range cfg.Auth.Params {
		metadata[AuthMetadataPrefix+k] = v
	}
	for k, v := range cfg.Auth.Env {
		metadata[EnvMetadataPrefix+k] = v
	}
	if provider, ok := cfg.Auth.podIdentity(); ok {
		metadata[PodIdentityMetadataKey] = provider
	}
	target := externalTarget{address: cfg.ExternalScalerAddress, key: "adapter/" + cfg.ExternalScalerAddress}
	if cfg.ExternalScalerTLS != nil {
		target.creds = credentials.NewTLS(cfg.ExternalScalerTLS)
		target.key += "/mtls"
	}
	return connectExternal(ctx, cfg, target, metadata, metricType, true)
}

func connectExternal(ctx context.Context, cfg Config, target externalTarget, metadata map[string]string, metricType autoscalingv2.MetricTargetType, adapter bool) (Scaler, error) {
	s := &externalScaler{
		ref:      &externalscaler.ScaledObjectRef{Name: cfg.ObjectName, Namespace: cfg.Namespace, ScalerMetadata: metadata},
		names:    map[string]string{},
		address:  target.address,
		adapter:  adapter,
		typeName: cfg.Trigger.Type,
	}
	var err error
	if cfg.Connections != nil {
		s.conn, err = cfg.Connections.get(target.key, target.address, target.creds)
	} else {
		s.conn, err = dialExternal(target.address, target.creds)
		s.owned = true
	}
	if err != nil {
		return nil, err
	}
	s.client = externalscaler.NewExternalScalerClient(s.conn)
	callCtx, cancel := context.WithTimeout(ctx, externalCallTimeout)
	defer cancel()
	resp, err := s.client.GetMetricSpec(callCtx, s.ref)
	if err != nil {
		_ = s.Close(ctx)
		if adapter && status.Code(err) == codes.InvalidArgument {
			return nil, fmt.Errorf("%w %q: neither the hub nor the KEDA scalers adapter at %s implements it (%s)",
				ErrUnsupportedTrigger, cfg.Trigger.Type, target.address, status.Convert(err).Message())
		}
		return nil, s.callError("GetMetricSpec", err)
	}
	for _, spec := range resp.GetMetricSpecs() {
		// KEDA: targetSizeFloat when positive, else targetSize.
		target := spec.GetTargetSizeFloat()
		if target <= 0 {
			target = float64(spec.GetTargetSize())
		}
		name := metricName(cfg, spec.GetMetricName())
		s.names[name] = spec.GetMetricName()
		s.specs = append(s.specs, MetricSpec{Name: name, Target: asMilli(target), Type: metricType})
	}
	if len(s.specs) == 0 {
		_ = s.Close(ctx)
		return nil, fmt.Errorf("%s returned no metric spec", s.who())
	}
	return s, nil
}

// who names the server in messages.
func (s *externalScaler) who() string {
	if s.adapter {
		return "KEDA scalers adapter at " + s.address
	}
	return "external scaler " + s.address
}

// callError describes a failed call; the adapter's message already names the trigger.
func (s *externalScaler) callError(call string, err error) error {
	st := status.Convert(err)
	switch st.Code() {
	case codes.DeadlineExceeded:
		return fmt.Errorf("%s: %s timed out after %s", s.who(), call, externalCallTimeout)
	case codes.Unavailable:
		return fmt.Errorf("%s unavailable: %s", s.who(), withoutLocalAddress(st.Message()))
	default:
		return fmt.Errorf("%s: %s: %s", s.who(), call, st.Message())
	}
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
			return nil, false, s.callError("GetMetrics "+s.names[spec.Name], err)
		}
		for _, v := range resp.GetMetricValues() {
			// KEDA: metricValueFloat when positive, else metricValue.
			value := v.GetMetricValueFloat()
			if value <= 0 {
				value = float64(v.GetMetricValue())
			}
			values = append(values, MetricValue{Name: spec.Name, Value: asMilli(value)})
		}
	}
	active, err := s.client.IsActive(ctx, s.ref)
	if err != nil {
		return nil, false, s.callError("IsActive", err)
	}
	return values, active.GetResult(), nil
}

// startPush keeps KEDA's StreamIsActive stream open while the scaler lives, re-opening it with
// KEDA's backoff (2 s doubling to a minute, back to 2 s after the server ends a stream
// cleanly); every message calls onPush.
func (s *externalScaler) startPush(onPush func()) {
	ctx, cancel := context.WithCancel(context.Background())
	s.stopPush, s.pushDone = cancel, make(chan struct{})
	go func() {
		defer close(s.pushDone)
		backoff := 2 * time.Second
		for {
			if err := s.streamOnce(ctx, onPush); errors.Is(err, io.EOF) {
				backoff = 2 * time.Second
			}
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(backoff*2, time.Minute)
		}
	}()
}

func (s *externalScaler) streamOnce(ctx context.Context, onPush func()) error {
	stream, err := s.client.StreamIsActive(ctx, s.ref)
	if err != nil {
		return err
	}
	for {
		if _, err := stream.Recv(); err != nil {
			return err
		}
		if onPush != nil {
			onPush()
		}
	}
}

func (s *externalScaler) Close(context.Context) error {
	if s.stopPush != nil {
		s.stopPush()
		<-s.pushDone
	}
	if !s.owned || s.conn == nil {
		return nil
	}
	return s.conn.Close()
}

// ExternalScalerTLS builds the client TLS config for the adapter (--external-scaler-ca-file,
// --external-scaler-cert-file, --external-scaler-key-file, --external-scaler-server-name). The
// client certificate is read again at each handshake, so a rotated certificate is picked up
// without a restart. It returns nil when no file is given.
func ExternalScalerTLS(caFile, certFile, keyFile, serverName string) (*tls.Config, error) {
	if caFile == "" && certFile == "" && keyFile == "" {
		if serverName != "" {
			return nil, errors.New("--external-scaler-server-name needs --external-scaler-ca-file, --external-scaler-cert-file and --external-scaler-key-file")
		}
		return nil, nil
	}
	if caFile == "" || certFile == "" || keyFile == "" {
		return nil, errors.New("mTLS to the KEDA scalers adapter needs all of --external-scaler-ca-file, --external-scaler-cert-file and --external-scaler-key-file")
	}
	pool, err := loadCAFile(caFile)
	if err != nil {
		return nil, err
	}
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		return nil, fmt.Errorf("--external-scaler-cert-file/--external-scaler-key-file: %w", err)
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The adapter receives credentials: always verify it.
		RootCAs:    pool,
		ServerName: serverName,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			pair, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				return nil, fmt.Errorf("client certificate for the KEDA scalers adapter: %w", err)
			}
			return &pair, nil
		},
	}, nil
}

func loadCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--external-scaler-ca-file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--external-scaler-ca-file %s holds no PEM certificate", path)
	}
	return pool, nil
}

// localAddress is the local end of a connection in a transport error ("tcp 127.0.0.1:43396->"):
// a new port on every connection, which would make the same failure read as a new one.
var localAddress = regexp.MustCompile(`\b(tcp|udp)[46]? [^ ]+->`)

func withoutLocalAddress(msg string) string { return localAddress.ReplaceAllString(msg, "$1 ") }
