package scalers

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/testservers"
)

// One real Prometheus (behind basic auth) for the package, scraping one exporter.
var promServer struct {
	once     sync.Once
	prom     *testservers.Prometheus
	exporter *testservers.Exporter
	err      error
}

const (
	promUser     = "fleetscale"
	promPassword = "s3cret-Pa55word"
)

// startPrometheus returns the package's Prometheus, starting it on first use; the exporter
// serves queue_length{queue="orders"} = 12 and queue_length{queue="refunds"} = 3.
func startPrometheus(t *testing.T) (*testservers.Prometheus, *testservers.Exporter) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts Prometheus")
	}
	promServer.once.Do(func() {
		e := testservers.NewExporter()
		g := e.Gauge("queue_length", "queue")
		g.WithLabelValues("orders").Set(12)
		g.WithLabelValues("refunds").Set(3)
		p, err := testservers.StartPrometheus(context.Background(), testservers.PrometheusOptions{
			Targets: []string{e.Addr}, User: promUser, Password: promPassword})
		if err == nil {
			err = p.WaitForSample(context.Background(), `queue_length{queue="orders"}`, "12")
		}
		promServer.prom, promServer.exporter, promServer.err = p, e, err
	})
	if promServer.err != nil {
		t.Fatal(promServer.err)
	}
	return promServer.prom, promServer.exporter
}

func stopPrometheus() {
	if promServer.prom != nil {
		_ = promServer.prom.Stop()
	}
	if promServer.exporter != nil {
		promServer.exporter.Close()
	}
}

func promTrigger(server, query string, extra ...string) v1alpha1.ScaleTriggers {
	md := map[string]string{"serverAddress": server, "query": query, "threshold": "5", "activationThreshold": "10",
		"authModes": "basic"}
	for i := 0; i+1 < len(extra); i += 2 {
		md[extra[i]] = extra[i+1]
	}
	return v1alpha1.ScaleTriggers{Type: "prometheus", Metadata: md}
}

var promAuth = Auth{Params: map[string]string{"username": promUser, "password": promPassword}}

func readOnceWith(t *testing.T, cfg Config) ([]MetricValue, bool, error) {
	t.Helper()
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer s.Close(context.Background())
	return s.GetMetricsAndActivity(context.Background())
}

// The prometheus trigger against a real Prometheus behind basic auth: the value of the query,
// KEDA's metric name and target, activation above activationThreshold, and every failure
// (bad credentials, bad query, no sample, several samples, server down) an error that never
// holds the password.
func TestPrometheusAgainstRealServer(t *testing.T) {
	prom, _ := startPrometheus(t)

	t.Run("value, spec and activation", func(t *testing.T) {
		cfg := Config{Trigger: promTrigger(prom.URL, `sum(queue_length{queue="orders"})`), TriggerIndex: 2, Auth: promAuth}
		s, err := New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(context.Background())
		spec := s.MetricSpecs()[0]
		if spec.Name != "s2-prometheus" || spec.Target != 5 || spec.ActivationTarget != 10 || spec.Type != "AverageValue" {
			t.Errorf("spec = %+v", spec)
		}
		values, active, err := s.GetMetricsAndActivity(context.Background())
		if err != nil || len(values) != 1 || values[0].Value != 12 || !active {
			t.Fatalf("values %v active %v err %v", values, active, err)
		}
		// 3 is not above activationThreshold 10.
		cfg.Trigger = promTrigger(prom.URL, `queue_length{queue="refunds"}`)
		values, active, err = readOnceWith(t, cfg)
		if err != nil || values[0].Value != 3 || active {
			t.Fatalf("values %v active %v err %v", values, active, err)
		}
	})

	t.Run("credentials from the authentication parameters, never shown", func(t *testing.T) {
		cfg := Config{Trigger: promTrigger(prom.URL, `queue_length{queue="orders"}`),
			Auth: Auth{Params: map[string]string{"username": promUser, "password": "wrong-password-123"}}}
		_, _, err := readOnceWith(t, cfg)
		if err == nil || !strings.Contains(err.Error(), "HTTP 401") || strings.Contains(err.Error(), "wrong-password-123") {
			t.Fatalf("err = %v", err)
		}
		cfg.Trigger.Metadata["authModes"] = ""
		if _, _, err = readOnceWith(t, cfg); err == nil || !strings.Contains(err.Error(), "HTTP 401") {
			t.Fatalf("without authModes, err = %v", err)
		}
	})

	t.Run("bad query", func(t *testing.T) {
		_, _, err := readOnceWith(t, Config{Trigger: promTrigger(prom.URL, `sum(queue_length{`), Auth: promAuth})
		if err == nil || !strings.Contains(err.Error(), "HTTP 400") || !strings.Contains(err.Error(), "parse error") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("no sample: 0 by default, an error without ignoreNullValues", func(t *testing.T) {
		values, active, err := readOnceWith(t, Config{Trigger: promTrigger(prom.URL, `queue_length{queue="none"}`), Auth: promAuth})
		if err != nil || values[0].Value != 0 || active {
			t.Fatalf("values %v active %v err %v", values, active, err)
		}
		_, _, err = readOnceWith(t, Config{Trigger: promTrigger(prom.URL, `queue_length{queue="none"}`, "ignoreNullValues", "false"), Auth: promAuth})
		if err == nil || !strings.Contains(err.Error(), "no sample") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("several samples", func(t *testing.T) {
		_, _, err := readOnceWith(t, Config{Trigger: promTrigger(prom.URL, `queue_length`), Auth: promAuth})
		if err == nil || !strings.Contains(err.Error(), "returned multiple elements") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("a scalar is not a vector", func(t *testing.T) {
		_, _, err := readOnceWith(t, Config{Trigger: promTrigger(prom.URL, `scalar(sum(queue_length))`), Auth: promAuth})
		if err == nil || !strings.Contains(err.Error(), "returned a scalar") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("server down", func(t *testing.T) {
		port, _ := testservers.FreePort()
		_, _, err := readOnceWith(t, Config{Trigger: promTrigger("http://127.0.0.1:"+strconv.Itoa(port), `up`), Auth: promAuth})
		if err == nil || !strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), promPassword) {
			t.Fatalf("err = %v", err)
		}
	})
}

// What KEDA's prometheus scaler puts on the request: the query, namespace, query parameters,
// custom headers and one auth header by mode (bearer, custom).
func TestPrometheusRequest(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"7.5"]}]}}`))
	}))
	defer srv.Close()
	trigger := v1alpha1.ScaleTriggers{Type: "prometheus", Metadata: map[string]string{
		"serverAddress": srv.URL, "query": `sum(rate(x[1m]))`, "threshold": "2", "namespace": "team-a",
		"queryParameters": "dedup=true, partial_response=false", "customHeaders": "X-Scope-OrgID=tenant-1",
		"authModes": "bearer"}}
	values, active, err := readOnceWith(t, Config{Trigger: trigger, Auth: Auth{Params: map[string]string{"bearerToken": "tok-123456"}}})
	if err != nil || values[0].Value != 7.5 || !active {
		t.Fatalf("values %v active %v err %v", values, active, err)
	}
	q := got.URL.Query()
	if got.URL.Path != "/api/v1/query" || q.Get("query") != `sum(rate(x[1m]))` || q.Get("time") == "" || q.Get("namespace") != "team-a" ||
		q.Get("dedup") != "true" || q.Get("partial_response") != "false" {
		t.Errorf("request URL %s", got.URL)
	}
	if got.Header.Get("X-Scope-OrgID") != "tenant-1" || got.Header.Get("Authorization") != "Bearer tok-123456" {
		t.Errorf("headers %v", got.Header)
	}

	// oauth: a client-credentials token from the token endpoint, then sent as a bearer token.
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if u, p, _ := r.BasicAuth(); u != "cid" || p != "csecret-1" || r.Form.Get("grant_type") != "client_credentials" || r.Form.Get("scope") != "read" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"from-idp-42","token_type":"bearer","expires_in":3600}`))
	}))
	defer idp.Close()
	trigger.Metadata["authModes"] = "oauth"
	_, _, err = readOnceWith(t, Config{Trigger: trigger, Auth: Auth{Params: map[string]string{
		"oauthTokenURI": idp.URL, "clientID": "cid", "clientSecret": "csecret-1", "scopes": "read"}}})
	if err != nil || got.Header.Get("Authorization") != "Bearer from-idp-42" {
		t.Fatalf("oauth: err %v headers %v", err, got.Header)
	}

	trigger.Metadata["authModes"] = "custom"
	_, _, err = readOnceWith(t, Config{Trigger: trigger, Auth: Auth{Params: map[string]string{"customAuthHeader": "X-Key", "customAuthValue": "v-987654"}}})
	if err != nil || got.Header.Get("X-Key") != "v-987654" || got.Header.Get("Authorization") != "" {
		t.Fatalf("err %v headers %v", err, got.Header)
	}
}

func TestPrometheusMetadataErrors(t *testing.T) {
	tests := []struct {
		name string
		md   map[string]string
		auth Auth
		want []string
	}{
		{"required", map[string]string{}, Auth{}, []string{"serverAddress is required", "query is required", "threshold is required"}},
		{"types", map[string]string{"serverAddress": "localhost:9090", "query": "up", "threshold": "five", "ignoreNullValues": "maybe",
			"timeout": "-1s", "customHeaders": "a:b"},
			Auth{}, []string{`serverAddress "localhost:9090" is not an http or https URL`, `threshold "five" is not a number`,
				`ignoreNullValues "maybe" is not a boolean`, `timeout "-1s" must not be negative`, `customHeaders: element "a:b" is not key=value`}},
		{"auth modes", map[string]string{"serverAddress": "http://p:9090", "query": "up", "threshold": "1", "authModes": "basic,bearer,kerberos"},
			Auth{}, []string{`"kerberos" is not one of`, "may hold only one of bearer, basic, oauth"}},
		{"bearer needs a token", map[string]string{"serverAddress": "http://p:9090", "query": "up", "threshold": "1", "authModes": "bearer"},
			Auth{}, []string{"auth mode bearer needs the authentication parameter bearerToken"}},
		{"pod identity", map[string]string{"serverAddress": "http://p:9090", "query": "up", "threshold": "1"},
			Auth{PodIdentity: "azure-workload"}, []string{"podIdentity azure-workload is not supported by the hub's prometheus trigger"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(context.Background(), Config{Trigger: v1alpha1.ScaleTriggers{Type: "prometheus", Metadata: tt.md}, Auth: tt.auth})
			if !errors.Is(err, ErrInvalidMetadata) {
				t.Fatalf("err = %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
