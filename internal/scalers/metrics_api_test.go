package scalers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

// metricsAPI is a real HTTP server for metrics-api triggers: path → body, and it records the
// last request.
type metricsAPI struct {
	mu     sync.Mutex
	bodies map[string]string
	status int
	last   *http.Request
	srv    *httptest.Server
}

func newMetricsAPI(t *testing.T) *metricsAPI {
	a := &metricsAPI{bodies: map[string]string{}, status: http.StatusOK}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.last = r.Clone(context.Background())
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.bodies[r.URL.Path]))
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *metricsAPI) set(path, body string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.bodies[path] = body
}

func (a *metricsAPI) lastRequest() *http.Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

func apiTrigger(url string, kv ...string) v1alpha1.ScaleTriggers {
	md := map[string]string{"url": url, "targetValue": "4"}
	for i := 0; i+1 < len(kv); i += 2 {
		md[kv[i]] = kv[i+1]
	}
	return v1alpha1.ScaleTriggers{Type: "metrics-api", Metadata: md}
}

func TestMetricsAPIFormats(t *testing.T) {
	api := newMetricsAPI(t)
	api.set("/json", `{"queues":[{"name":"a","length":7},{"name":"b","length":"1500m"}]}`)
	api.set("/yaml", "queues:\n- name: a\n  length: 9\n- name: b\n  length: 250m\n")
	api.set("/xml", `<?xml version="1.0"?><stats><queue><name>a</name><length>11</length></queue><queue><name>b</name><length>2k</length></queue></stats>`)
	api.set("/prom", "# TYPE queue_length gauge\nqueue_length{queue=\"a\"} 13\nqueue_length{queue=\"b\",zone=\"x\"} 4.5\n# TYPE jobs_total counter\njobs_total 42")
	tests := []struct {
		path, format, location string
		want                   float64
	}{
		{"/json", "", "queues.0.length", 7},
		{"/json", "json", "queues.1.length", 1.5},
		{"/json", "json", `queues.#(name=="a").length`, 7},
		{"/yaml", "yaml", "queues.0.length", 9},
		{"/yaml", "yaml", "queues.1.length", 0.25},
		{"/xml", "xml", "queue.0.length", 11},
		{"/xml", "xml", "queue.1.length", 2000},
		{"/prom", "prometheus", `queue_length{queue="a"}`, 13},
		{"/prom", "prometheus", `queue_length{zone="x"}`, 4.5},
		{"/prom", "prometheus", `jobs_total`, 42},
	}
	for _, tt := range tests {
		t.Run(tt.format+" "+tt.location, func(t *testing.T) {
			trigger := apiTrigger(api.srv.URL+tt.path, "valueLocation", tt.location, "activationTargetValue", "5")
			if tt.format != "" {
				trigger.Metadata["format"] = tt.format
			}
			values, active, err := readOnceWith(t, Config{Trigger: trigger})
			if err != nil {
				t.Fatal(err)
			}
			if values[0].Value != tt.want || active != (tt.want > 5) {
				t.Errorf("value %v active %v, want %v", values[0].Value, active, tt.want)
			}
		})
	}
}

func TestMetricsAPIReadErrors(t *testing.T) {
	api := newMetricsAPI(t)
	api.set("/json", `{"length":"lots","list":[1]}`)
	api.set("/prom", "queue_length{queue=\"a\"} 13\n")
	for _, tt := range []struct {
		trigger v1alpha1.ScaleTriggers
		want    string
	}{
		{apiTrigger(api.srv.URL+"/json", "valueLocation", "length"), `valueLocation "length" points to a string that is not parseable as a Quantity`},
		{apiTrigger(api.srv.URL+"/json", "valueLocation", "list"), `valueLocation "list" must point to a numeric value or a string parseable as a Quantity, got JSON`},
		{apiTrigger(api.srv.URL+"/json", "valueLocation", "missing"), `got Null`},
		{apiTrigger(api.srv.URL+"/json", "valueLocation", "length", "format", "yaml"), `is not parseable as a Quantity`},
		{apiTrigger(api.srv.URL+"/prom", "valueLocation", `queue_length{queue="b"}`, "format", "prometheus"), `value queue_length{queue="b"} not found`},
		{apiTrigger(api.srv.URL+"/prom", "valueLocation", `other`, "format", "prometheus"), `metric 'other' not found`},
	} {
		_, _, err := readOnceWith(t, Config{Trigger: tt.trigger})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want %q", tt.trigger.Metadata, err, tt.want)
		}
	}
	api.mu.Lock()
	api.status = http.StatusServiceUnavailable
	api.mu.Unlock()
	_, _, err := readOnceWith(t, Config{Trigger: apiTrigger(api.srv.URL+"/json?token=abc", "valueLocation", "length")})
	if err == nil || !strings.Contains(err.Error(), "api returned HTTP 503") || strings.Contains(err.Error(), "token=abc") {
		t.Errorf("err = %v", err)
	}
}

// The auth modes of KEDA's metrics-api: apiKey in a header or the query, basic, bearer; the
// credentials come from the authentication parameters and never show in errors.
func TestMetricsAPIAuth(t *testing.T) {
	api := newMetricsAPI(t)
	api.set("/m", `{"v": 3}`)
	read := func(auth Auth, kv ...string) *http.Request {
		t.Helper()
		trigger := apiTrigger(api.srv.URL+"/m", append([]string{"valueLocation", "v"}, kv...)...)
		if _, _, err := readOnceWith(t, Config{Trigger: trigger, Auth: auth}); err != nil {
			t.Fatal(err)
		}
		return api.lastRequest()
	}
	r := read(Auth{Params: map[string]string{"apiKey": "k-111111"}}, "authMode", "apiKey")
	if r.Header.Get("X-API-KEY") != "k-111111" {
		t.Errorf("apiKey header: %v", r.Header)
	}
	r = read(Auth{Params: map[string]string{"apiKey": "k-222222", "method": "query", "keyParamName": "key"}}, "authMode", "apiKey")
	if r.URL.Query().Get("key") != "k-222222" || r.Header.Get("X-API-KEY") != "" {
		t.Errorf("apiKey query: %s %v", r.URL, r.Header)
	}
	r = read(Auth{Params: map[string]string{"username": "u", "password": "p-333333"}}, "authModes", "basic")
	if u, p, ok := r.BasicAuth(); !ok || u != "u" || p != "p-333333" {
		t.Errorf("basic: %v", r.Header)
	}
	r = read(Auth{Params: map[string]string{"bearerToken": "b-444444"}}, "authModes", "bearer")
	if r.Header.Get("Authorization") != "Bearer b-444444" {
		t.Errorf("bearer: %v", r.Header)
	}
	// apiKey in the query of a server that fails: the error does not hold the URL's key.
	api.mu.Lock()
	api.status = http.StatusUnauthorized
	api.mu.Unlock()
	trigger := apiTrigger(api.srv.URL+"/m", "valueLocation", "v", "authMode", "apiKey")
	_, _, err := readOnceWith(t, Config{Trigger: trigger, Auth: Auth{Params: map[string]string{"apiKey": "k-555555", "method": "query"}}})
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") || strings.Contains(err.Error(), "k-555555") {
		t.Errorf("err = %v", err)
	}

	_, err = New(context.Background(), Config{Trigger: apiTrigger(api.srv.URL, "valueLocation", "v", "authModes", "custom")})
	if !errors.Is(err, ErrInvalidMetadata) || !strings.Contains(err.Error(), `auth mode "custom" is not supported by this trigger`) {
		t.Errorf("err = %v", err)
	}
}

func TestMetricsAPIMetadataErrors(t *testing.T) {
	for _, tt := range []struct {
		md   map[string]string
		want []string
	}{
		{map[string]string{}, []string{"url is required", "valueLocation is required", "targetValue is required"}},
		{map[string]string{"url": "ftp://x", "valueLocation": "v", "targetValue": "1", "format": "csv"},
			[]string{`url "ftp://x" is not an http or https URL`, `format "csv" is not one of prometheus, json, xml, yaml`}},
		{map[string]string{"url": "http://x", "valueLocation": `q{a=~"b"}`, "targetValue": "1", "format": "prometheus"},
			[]string{"only = label matchers are supported"}},
		{map[string]string{"url": "http://x", "valueLocation": "v", "targetValue": "1", "aggregateFromKubeServiceEndpoints": "true"},
			[]string{"aggregateFromKubeServiceEndpoints is not supported in the hub"}},
	} {
		_, err := New(context.Background(), Config{Trigger: v1alpha1.ScaleTriggers{Type: "metrics-api", Metadata: tt.md}})
		if !errors.Is(err, ErrInvalidMetadata) {
			t.Fatalf("%v: err = %v", tt.md, err)
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not say %q", err, w)
			}
		}
	}
	// targetValue may be absent with scalingModifiers (KEDA's AsMetricSource).
	if _, err := New(context.Background(), Config{AsMetricSource: true,
		Trigger: v1alpha1.ScaleTriggers{Type: "metrics-api", Metadata: map[string]string{"url": "http://x", "valueLocation": "v"}}}); err != nil {
		t.Errorf("as metric source: %v", err)
	}
}

func TestParsePromSelector(t *testing.T) {
	sel, err := parsePromSelector(`queue_length{queue="a", zone='eu\'1'}`)
	if err != nil || sel.name != "queue_length" || sel.labels["queue"] != "a" || sel.labels["zone"] != "eu'1" {
		t.Fatalf("sel %+v err %v", sel, err)
	}
	for _, bad := range []string{"", "1abc", `q{a="b"`, `q{a!="b"}`, `q{a=b}`, `q{a="b" c="d"}`, `q{="b"}`} {
		if _, err := parsePromSelector(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// auth mode tls: the client certificate and CA come from the authentication parameters (PEM),
// and the server verifies the client.
func TestMetricsAPIClientCertificate(t *testing.T) {
	ca := newTestCA(t)
	serverCert := ca.issue(t, "api", x509.ExtKeyUsageServerAuth, "127.0.0.1")
	clientCert := ca.issue(t, "scaler", x509.ExtKeyUsageClientAuth)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"v": 8}`))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	defer srv.Close()
	key, _ := x509.MarshalPKCS8PrivateKey(clientCert.PrivateKey)
	auth := Auth{Params: map[string]string{
		"ca":   string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.der})),
		"cert": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: clientCert.Certificate[0]})),
		"key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key})),
	}}
	trigger := apiTrigger(srv.URL+"/m", "valueLocation", "v", "authModes", "tls")
	values, _, err := readOnceWith(t, Config{Trigger: trigger, Auth: auth})
	if err != nil || values[0].Value != 8 {
		t.Fatalf("values %v err %v", values, err)
	}
	// Without the client certificate the server refuses the handshake.
	delete(auth.Params, "cert")
	if _, err := New(t.Context(), Config{Trigger: trigger, Auth: auth}); !errors.Is(err, ErrInvalidMetadata) || !strings.Contains(err.Error(), "needs the authentication parameters cert and key") {
		t.Errorf("err = %v", err)
	}
	trigger.Metadata["authModes"] = ""
	if _, _, err := readOnceWith(t, Config{Trigger: trigger}); err == nil {
		t.Error("no client certificate, no CA: read succeeded")
	}
}
