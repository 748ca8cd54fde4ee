package scalers

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The prometheus trigger reproduces KEDA's prometheus_scaler.go: an instant query against
// {serverAddress}/api/v1/query; the metric is the one sample it returns (no sample, a NaN or
// an infinity is 0 with ignoreNullValues, the default, and an error without); active means the
// value is above activationThreshold.
const prometheusType = "prometheus"

type prometheusMetadata struct {
	serverAddress       string
	query               string
	queryParameters     map[string]string
	threshold           float64
	activationThreshold float64
	namespace           string
	customHeaders       map[string]string
	ignoreNullValues    bool
	unsafeSsl           bool
	timeout             time.Duration
	auth                httpAuth
}

func parsePrometheusMetadata(cfg Config) (prometheusMetadata, error) {
	m := newMetadata(cfg.Trigger.Metadata).withAuth(cfg.Auth)
	var md prometheusMetadata
	var ok bool
	if md.serverAddress, ok = m.get(fromMetadata, "serverAddress"); !ok {
		m.problem("serverAddress is required")
	} else if u, err := url.Parse(md.serverAddress); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		m.problem("serverAddress %q is not an http or https URL", md.serverAddress)
	}
	if md.query, ok = m.get(fromMetadata, "query"); !ok {
		m.problem("query is required")
	}
	md.queryParameters = m.keyValues(fromMetadata, "queryParameters")
	md.threshold, _ = m.number(fromMetadata, "threshold", true, 0)
	md.activationThreshold, _ = m.number(fromMetadata, "activationThreshold", false, 0)
	md.namespace, _ = m.get(fromMetadata, "namespace")
	md.customHeaders = m.keyValues(fromMetadata, "customHeaders")
	md.ignoreNullValues = m.boolean(fromMetadata, "ignoreNullValues", true)
	md.unsafeSsl = m.boolean(fromMetadata, "unsafeSsl", false)
	md.timeout = m.duration(fromMetadata, "timeout")
	md.auth = parseHTTPAuth(m, nil)
	if provider, set := cfg.Auth.podIdentity(); set {
		if !md.auth.disabled() {
			m.problem("pod identity cannot be enabled with other auth types")
		} else {
			// KEDA signs with the cloud identity of its own pod (Azure Managed Prometheus, GCP,
			// AWS SigV4); the hub controller has none to lend.
			m.problem("podIdentity %s is not supported by the hub's prometheus trigger; use authModes with a TriggerAuthentication", provider)
		}
	}
	if problem := metricTypeProblem(cfg); problem != "" {
		m.problem("%s", problem)
	}
	return md, m.err(prometheusType)
}

type prometheusScaler struct {
	md     prometheusMetadata
	client *http.Client
	spec   MetricSpec
}

func newPrometheusScaler(ctx context.Context, cfg Config) (Scaler, error) {
	md, err := parsePrometheusMetadata(cfg)
	if err != nil {
		return nil, err
	}
	if err := allowURL(ctx, cfg, "serverAddress", md.serverAddress); err != nil {
		return nil, err
	}
	a := md.auth
	tlsCfg, err := prometheusTLS(&a)
	if err != nil {
		return nil, fmt.Errorf("prometheus trigger: %w", err)
	}
	metricType, _ := metricTargetType(cfg.Trigger.MetricType)
	return &prometheusScaler{
		md:     md,
		client: httpClient(md.timeout, cfg.maxReadTime(), tlsCfg, md.unsafeSsl, &a),
		spec: MetricSpec{Name: metricName(cfg, "prometheus"), Target: asMilli(md.threshold),
			ActivationTarget: md.activationThreshold, Type: metricType},
	}, nil
}

// prometheusTLS: KEDA builds a TLS config only when authentication is enabled and uses a CA or
// the tls mode; that config always verifies the server (unsafeSsl applies only without it).
func prometheusTLS(a *httpAuth) (*tls.Config, error) {
	if a.disabled() || (a.ca == "" && !a.enabled(authTLS)) {
		return nil, nil
	}
	cert, key := "", ""
	if a.enabled(authTLS) {
		cert, key = a.cert, a.key
	}
	return tlsConfig(cert, key, a.ca, false)
}

func (s *prometheusScaler) MetricSpecs() []MetricSpec { return []MetricSpec{s.spec} }

func (s *prometheusScaler) Close(context.Context) error {
	s.client.CloseIdleConnections()
	return nil
}

func (s *prometheusScaler) GetMetricsAndActivity(ctx context.Context) ([]MetricValue, bool, error) {
	v, err := s.query(ctx)
	if err != nil {
		return nil, false, err
	}
	return []MetricValue{{Name: s.spec.Name, Value: asMilli(v)}}, v > s.md.activationThreshold, nil
}

// promResponse is the part of Prometheus' query API answer the trigger reads.
type promResponse struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

type promSample struct {
	Value []any `json:"value"`
}

func (s *prometheusScaler) query(ctx context.Context) (float64, error) {
	// The URL is built as KEDA builds it: namespace unescaped, query parameters escaped.
	u := fmt.Sprintf("%s/api/v1/query?query=%s&time=%s", s.md.serverAddress, url.QueryEscape(s.md.query),
		time.Now().UTC().Format(time.RFC3339))
	if s.md.namespace != "" {
		u += "&namespace=" + s.md.namespace
	}
	for k, v := range s.md.queryParameters {
		u += "&" + url.QueryEscape(k) + "=" + url.QueryEscape(v)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, fmt.Errorf("prometheus query: %w", err)
	}
	for k, v := range s.md.customHeaders {
		req.Header.Add(k, v)
	}
	switch a := &s.md.auth; {
	case a.disabled():
	case a.enabled(authBearer):
		req.Header.Set("Authorization", "Bearer "+a.bearerToken)
	case a.enabled(authBasic):
		req.SetBasicAuth(a.username, a.password)
	case a.enabled(authCustom):
		req.Header.Set(a.customHeader, a.customValue)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		// Not the *url.Error: its URL holds the query time, so the message (and the Events
		// it raises) would change at every evaluation.
		return 0, fmt.Errorf("prometheus at %s: %s", redactURL(s.md.serverAddress), requestFailure(err))
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := readBody(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("prometheus query: reading the response: %w", err)
	}
	var r promResponse
	jsonErr := json.Unmarshal(body, &r)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := fmt.Sprintf("prometheus query API returned HTTP %d", resp.StatusCode)
		if jsonErr == nil && r.Error != "" {
			msg += ": " + truncate(r.Error, 300)
		}
		return 0, errors.New(msg)
	}
	if jsonErr != nil {
		return 0, fmt.Errorf("prometheus query: the response is not Prometheus JSON: %w", jsonErr)
	}
	var samples []promSample
	if err := json.Unmarshal(r.Data.Result, &samples); err != nil {
		return 0, fmt.Errorf("prometheus query %s returned a %s; the trigger reads an instant vector", s.md.query, r.Data.ResultType)
	}
	switch {
	case len(samples) == 0:
		if s.md.ignoreNullValues {
			return 0, nil
		}
		return 0, errors.New("prometheus query returned no sample (ignoreNullValues is false): the target may be lost")
	case len(samples) > 1:
		return 0, fmt.Errorf("prometheus query %s returned multiple elements", s.md.query)
	}
	value := samples[0].Value
	switch {
	case len(value) == 0:
		if s.md.ignoreNullValues {
			return 0, nil
		}
		return 0, errors.New("prometheus query returned a sample without a value (ignoreNullValues is false): the target may be lost")
	case len(value) < 2:
		return 0, fmt.Errorf("prometheus query %s didn't return enough values", s.md.query)
	}
	v := -1.0 // KEDA's value when the sample's value is null
	if value[1] != nil {
		str, ok := value[1].(string)
		if !ok {
			return 0, fmt.Errorf("prometheus query %s returned a value that is not a string", s.md.query)
		}
		if v, err = strconv.ParseFloat(str, 64); err != nil {
			return 0, fmt.Errorf("prometheus query %s returned %q, not a number", s.md.query, truncate(str, 40))
		}
	}
	if math.IsInf(v, 0) || math.IsNaN(v) {
		if s.md.ignoreNullValues {
			return 0, nil
		}
		return 0, fmt.Errorf("prometheus query returned %v (ignoreNullValues is false)", v)
	}
	return v, nil
}

func truncate(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
