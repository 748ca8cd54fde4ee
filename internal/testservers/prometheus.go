// Package testservers starts the real servers trigger tests read from, on 127.0.0.1 with free
// ports: Prometheus from the Debian package (`apt-get install -y prometheus`; .ci/run installs
// it), and a metrics exporter made with client_golang for it to scrape. Each process dies with
// the test binary, whatever kills it.
package testservers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/crypto/bcrypt"
)

// PrometheusOptions configure StartPrometheus.
type PrometheusOptions struct {
	// Targets are host:port addresses scraped at /metrics every ScrapeInterval (default 1s).
	Targets        []string
	ScrapeInterval time.Duration
	// User and Password, when set, put the whole server behind basic auth (--web.config.file).
	User, Password string
	// Dir holds the config and the TSDB; a new temporary directory when empty.
	Dir string
}

// Prometheus is a running Prometheus server.
type Prometheus struct {
	// URL is http://127.0.0.1:PORT, what a prometheus trigger's serverAddress names.
	URL  string
	opts PrometheusOptions
	cmd  *exec.Cmd
	// exited is closed when the process has exited.
	exited chan struct{}
	dir    string
	own    bool
	log    *os.File
}

// PrometheusBinary finds the prometheus binary on PATH (or $PROMETHEUS).
func PrometheusBinary() (string, error) {
	if p := os.Getenv("PROMETHEUS"); p != "" {
		return p, nil
	}
	p, err := exec.LookPath("prometheus")
	if err != nil {
		return "", errors.New("prometheus is not installed: apt-get install -y prometheus (.ci/run does it)")
	}
	return p, nil
}

// StartPrometheus starts Prometheus and waits until it is ready.
func StartPrometheus(ctx context.Context, o PrometheusOptions) (*Prometheus, error) {
	bin, err := PrometheusBinary()
	if err != nil {
		return nil, err
	}
	if o.ScrapeInterval == 0 {
		o.ScrapeInterval = time.Second
	}
	p := &Prometheus{opts: o, dir: o.Dir, exited: make(chan struct{})}
	if p.dir == "" {
		if p.dir, err = os.MkdirTemp("", "fleetscale-prometheus-"); err != nil {
			return nil, err
		}
		p.own = true
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p.URL = "http://" + addr
	cfg := fmt.Sprintf("global:\n  scrape_interval: %s\n  evaluation_interval: %s\nscrape_configs:\n- job_name: test\n  static_configs:\n  - targets: [%s]\n",
		o.ScrapeInterval, o.ScrapeInterval, strings.Join(quoteAll(o.Targets), ", "))
	if err := os.WriteFile(filepath.Join(p.dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	args := []string{"--config.file=" + filepath.Join(p.dir, "prometheus.yml"),
		"--storage.tsdb.path=" + filepath.Join(p.dir, "data"), "--web.listen-address=" + addr, "--log.level=warn"}
	if o.User != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(o.Password), bcrypt.MinCost)
		if err != nil {
			return nil, err
		}
		web := fmt.Sprintf("basic_auth_users:\n  %s: %q\n", o.User, hash)
		if err := os.WriteFile(filepath.Join(p.dir, "web.yml"), []byte(web), 0o600); err != nil {
			return nil, err
		}
		args = append(args, "--web.config.file="+filepath.Join(p.dir, "web.yml"))
	}
	if p.log, err = os.Create(filepath.Join(p.dir, "prometheus.log")); err != nil {
		return nil, err
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start prometheus: %w", err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	if err := p.waitReady(ctx); err != nil {
		_ = p.Stop()
		return nil, err
	}
	return p, nil
}

func quoteAll(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprintf("%q", x)
	}
	return out
}

func (p *Prometheus) get(ctx context.Context, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+path, nil)
	if err != nil {
		return 0, nil, err
	}
	if p.opts.User != "" {
		req.SetBasicAuth(p.opts.User, p.opts.Password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (p *Prometheus) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		if code, _, err := p.get(ctx, "/-/ready"); err == nil && code == http.StatusOK {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("prometheus exited; log:\n%s", p.LogTail())
		case <-ctx.Done():
			return fmt.Errorf("prometheus not ready at %s: %w; log:\n%s", p.URL, ctx.Err(), p.LogTail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// WaitForSample waits until the instant query returns at least one sample whose value is
// want (any value when want is empty), e.g. after a scrape. It queries at the current second,
// as KEDA's prometheus trigger does, so a sample scraped within this second does not count.
func (p *Prometheus) WaitForSample(ctx context.Context, query, want string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var last string
	for {
		code, body, err := p.get(ctx, "/api/v1/query?query="+url.QueryEscape(query)+"&time="+time.Now().UTC().Format(time.RFC3339))
		last = fmt.Sprintf("HTTP %d %s %v", code, body, err)
		if err == nil && code == http.StatusOK && strings.Contains(string(body), `"value":[`) &&
			(want == "" || strings.Contains(string(body), `,"`+want+`"]`)) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("query %s never returned %q: last %s", query, want, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// LogTail returns the end of Prometheus' log.
func (p *Prometheus) LogTail() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "prometheus.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Running reports whether the process is still up.
func (p *Prometheus) Running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Stop kills Prometheus and removes its directory when StartPrometheus made it.
func (p *Prometheus) Stop() error {
	if p.cmd != nil && p.cmd.Process != nil && p.Running() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	if p.log != nil {
		_ = p.log.Close()
		p.log = nil
	}
	if p.own {
		p.own = false
		return os.RemoveAll(p.dir)
	}
	return nil
}

// FreePort returns a TCP port free on 127.0.0.1 right now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Exporter is a /metrics endpoint made with client_golang, for Prometheus to scrape.
type Exporter struct {
	// Addr is host:port; Registry holds the metrics it serves.
	Addr     string
	Registry *prometheus.Registry
	srv      *httptest.Server
}

// NewExporter serves an empty registry at http://Addr/metrics.
func NewExporter() *Exporter {
	reg := prometheus.NewRegistry()
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := httptest.NewServer(mux)
	return &Exporter{Addr: strings.TrimPrefix(srv.URL, "http://"), Registry: reg, srv: srv}
}

// Gauge registers a gauge vector.
func (e *Exporter) Gauge(name string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: name}, labels)
	e.Registry.MustRegister(g)
	return g
}

// Close stops the endpoint.
func (e *Exporter) Close() { e.srv.Close() }
