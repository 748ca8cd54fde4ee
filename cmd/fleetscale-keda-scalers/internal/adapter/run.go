package adapter

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"k8s.io/client-go/rest"
)

// maxMessageBytes bounds one request: a trigger's metadata and its resolved credentials are a
// few KiB, and what a client sends must not decide how much memory the adapter spends.
const maxMessageBytes = 1 << 20

// Config is what Run needs.
type Config struct {
	// Listen is the gRPC address. Plaintext is served only on a loopback address; any other
	// needs the three TLS files (mTLS, client certificate required).
	Listen                                   string
	TLSCertFile, TLSKeyFile, TLSClientCAFile string
	// HealthAddress, when set, serves /healthz and /readyz over plain HTTP.
	HealthAddress string
	// Hub is the hub's API, whose DistributedScaledObjects and DistributedScaledJobs are watched.
	Hub *rest.Config
	// WatchSyncTimeout bounds the first list of the watched objects.
	WatchSyncTimeout time.Duration
	Options
	// Ready, when set, is called with the gRPC address and the server once it serves (tests).
	Ready func(addr net.Addr, s *Server)
}

// Validate checks the transport rule (and reads the TLS files) before anything starts.
func (c Config) Validate() error {
	_, err := transportCredentials(c)
	return err
}

// Run serves until ctx ends, then closes every scaler.
func Run(ctx context.Context, cfg Config) error {
	creds, err := transportCredentials(cfg)
	if err != nil {
		return err
	}
	if cfg.WatchSyncTimeout <= 0 {
		cfg.WatchSyncTimeout = 2 * time.Minute
	}
	log := cfg.Log
	srv := NewServer(cfg.Options)
	defer srv.Close()
	var ready atomic.Bool
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // before wg.Wait: the goroutines stop with ctx
	if cfg.HealthAddress != "" {
		hs, err := healthServer(cfg.HealthAddress, &ready)
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ctx.Done()
			_ = hs.Close()
		}()
	}
	if cfg.Hub != nil {
		if err := srv.Watch(ctx, cfg.Hub, cfg.WatchSyncTimeout); err != nil {
			return err
		}
	}

	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	gs := grpc.NewServer(
		grpc.Creds(creds),
		grpc.MaxRecvMsgSize(maxMessageBytes),
		grpc.MaxConcurrentStreams(256),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	)
	externalscaler.RegisterExternalScalerServer(gs, srv)

	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(max(srv.opts.IdleTimeout/4, time.Second))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				srv.Sweep()
			}
		}
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- gs.Serve(l) }()
	ready.Store(true)
	log.Info("serving KEDA's scalers over the external-scaler protocol", "address", l.Addr().String(),
		"tls", cfg.TLSCertFile != "", "types", len(constructors))
	if cfg.Ready != nil {
		cfg.Ready(l.Addr(), srv)
	}
	select {
	case <-ctx.Done():
		ready.Store(false)
		stopped := make(chan struct{})
		go func() { gs.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			gs.Stop()
		}
		return nil
	case err := <-serveErr:
		return err
	}
}

// transportCredentials enforces the transport rule: resolved credentials travel in every
// request, so plaintext is allowed only on loopback, and anything else is mTLS.
func transportCredentials(cfg Config) (credentials.TransportCredentials, error) {
	files := map[string]string{"--tls-cert-file": cfg.TLSCertFile, "--tls-key-file": cfg.TLSKeyFile, "--tls-client-ca-file": cfg.TLSClientCAFile}
	var missing []string
	set := 0
	for _, flag := range []string{"--tls-cert-file", "--tls-key-file", "--tls-client-ca-file"} {
		if files[flag] == "" {
			missing = append(missing, flag)
		} else {
			set++
		}
	}
	if set == 0 {
		loopback, err := IsLoopback(cfg.Listen)
		if err != nil {
			return nil, err
		}
		if !loopback {
			return nil, fmt.Errorf("--listen %s is not a loopback address: the adapter receives resolved credentials, so it serves other addresses only with mTLS (--tls-cert-file, --tls-key-file, --tls-client-ca-file)", cfg.Listen)
		}
		return insecure.NewCredentials(), nil
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("mTLS needs --tls-cert-file, --tls-key-file and --tls-client-ca-file; missing %v", missing)
	}
	keyPair, err := newKeyPairReloader(cfg.TLSCertFile, cfg.TLSKeyFile)
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(cfg.TLSClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-client-ca-file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("--tls-client-ca-file %s holds no PEM certificate", cfg.TLSClientCAFile)
	}
	return credentials.NewTLS(&tls.Config{
		MinVersion:     tls.VersionTLS12,
		ClientAuth:     tls.RequireAndVerifyClientCert,
		ClientCAs:      pool,
		GetCertificate: keyPair.get,
	}), nil
}

// IsLoopback reports whether a host:port listen address is on loopback only. An empty host
// listens on every interface, so it is not.
func IsLoopback(address string) (bool, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return false, fmt.Errorf("--listen %q: %w", address, err)
	}
	if host == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

// keyPairReloader serves the certificate in its files and re-reads them when they change
// (cert-manager and kubelet rotate Secret volumes in place).
type keyPairReloader struct {
	certFile, keyFile string
	mu                sync.Mutex
	cert              *tls.Certificate
	modTime           time.Time
	checked           time.Time
}

func newKeyPairReloader(certFile, keyFile string) (*keyPairReloader, error) {
	r := &keyPairReloader{certFile: certFile, keyFile: keyFile}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *keyPairReloader) load() error {
	st, err := os.Stat(r.certFile)
	if err != nil {
		return fmt.Errorf("--tls-cert-file: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("--tls-cert-file/--tls-key-file: %w", err)
	}
	r.cert, r.modTime = &cert, st.ModTime()
	return nil
}

func (r *keyPairReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) > 10*time.Second {
		r.checked = time.Now()
		if st, err := os.Stat(r.certFile); err == nil && !st.ModTime().Equal(r.modTime) {
			// Keep serving the old pair when the new one is half written.
			_ = r.load()
		}
	}
	return r.cert, nil
}

func healthServer(address string, ready *atomic.Bool) (*http.Server, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "not serving yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	l, err := net.Listen("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("--health-probe-bind-address: %w", err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(l) }()
	return hs, nil
}
