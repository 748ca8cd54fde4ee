package scalers

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/tidwall/gjson"
	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"
)

// The metrics-api trigger reproduces KEDA's metrics_api_scaler.go: a GET of url, the value at
// valueLocation in the response (format json: a GJSON path; yaml and xml: a dot path;
// prometheus: a metric selector such as `queue_length{queue="orders"}`), a number or a
// quantity string; active means the value is above activationTargetValue.
const metricsAPIType = "metrics-api"

// Formats of metrics-api.
const (
	apiFormatJSON       = "json"
	apiFormatYAML       = "yaml"
	apiFormatXML        = "xml"
	apiFormatPrometheus = "prometheus"
)

type metricsAPIMetadata struct {
	targetValue           float64
	activationTargetValue float64
	url                   string
	format                string
	valueLocation         string
	unsafeSsl             bool
	timeout               time.Duration
	auth                  httpAuth
	// selector is valueLocation parsed, for format prometheus.
	selector promSelector
}

func parseMetricsAPIMetadata(cfg Config) (metricsAPIMetadata, error) {
	m := newMetadata(cfg.Trigger.Metadata).withAuth(cfg.Auth)
	var md metricsAPIMetadata
	md.targetValue, _ = m.number(fromMetadata, "targetValue", false, 0)
	md.activationTargetValue, _ = m.number(fromMetadata, "activationTargetValue", false, 0)
	var ok bool
	if md.url, ok = m.get(fromMetadata, "url"); !ok {
		m.problem("url is required")
	} else if u, err := url.Parse(md.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		m.problem("url %q is not an http or https URL", md.url)
	}
	md.format = m.enum(fromMetadata, "format", apiFormatJSON, apiFormatPrometheus, apiFormatJSON, apiFormatXML, apiFormatYAML)
	if md.valueLocation, ok = m.get(fromMetadata, "valueLocation"); !ok {
		m.problem("valueLocation is required")
	} else if md.format == apiFormatPrometheus {
		sel, err := parsePromSelector(md.valueLocation)
		if err != nil {
			m.problem("valueLocation %q: %v", md.valueLocation, err)
		}
		md.selector = sel
	}
	md.unsafeSsl = m.boolean(fromMetadata, "unsafeSsl", false)
	if m.boolean(fromMetadata, "aggregateFromKubeServiceEndpoints", false) {
		// KEDA lists the Service's EndpointSlices in its own cluster; a DSO's pods run in the
		// members, whose endpoints the hub does not read.
		m.problem("aggregateFromKubeServiceEndpoints is not supported in the hub: the service's endpoints live in the member clusters; point url at one address that serves the total")
	}
	m.enum(fromMetadata, "aggregationType", "average", "average", "sum", "max", "min")
	md.timeout = m.duration(fromMetadata, "timeout")
	md.auth = parseHTTPAuth(m, []string{authAPIKey, authBasic, authTLS, authBearer})
	if md.targetValue == 0 && !cfg.AsMetricSource {
		m.problem("targetValue is required (and not 0)")
	}
	if provider, set := cfg.Auth.podIdentity(); set {
		m.problem("podIdentity %s is not supported by the metrics-api trigger", provider)
	}
	if problem := metricTypeProblem(cfg); problem != "" {
		m.problem("%s", problem)
	}
	return md, m.err(metricsAPIType)
}

type metricsAPIScaler struct {
	md     metricsAPIMetadata
	client *http.Client
	spec   MetricSpec
}

func newMetricsAPIScaler(ctx context.Context, cfg Config) (Scaler, error) {
	md, err := parseMetricsAPIMetadata(cfg)
	if err != nil {
		return nil, err
	}
	if err := allowURL(ctx, cfg, "url", md.url); err != nil {
		return nil, err
	}
	var tlsCfg *tls.Config
	if md.auth.enabled(authTLS) {
		if tlsCfg, err = tlsConfig(md.auth.cert, md.auth.key, md.auth.ca, md.unsafeSsl); err != nil {
			return nil, fmt.Errorf("metrics-api trigger: %w", err)
		}
	}
	metricType, _ := metricTargetType(cfg.Trigger.MetricType)
	return &metricsAPIScaler{
		md:     md,
		client: httpClient(md.timeout, cfg.maxReadTime(), tlsCfg, md.unsafeSsl, nil),
		spec: MetricSpec{Name: metricName(cfg, "metric-api-"+md.valueLocation), Target: asMilli(md.targetValue),
			ActivationTarget: md.activationTargetValue, Type: metricType},
	}, nil
}

func (s *metricsAPIScaler) MetricSpecs() []MetricSpec { return []MetricSpec{s.spec} }

func (s *metricsAPIScaler) Close(context.Context) error {
	s.client.CloseIdleConnections()
	return nil
}

func (s *metricsAPIScaler) GetMetricsAndActivity(ctx context.Context) ([]MetricValue, bool, error) {
	v, err := s.read(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("metrics API %s: %w", redactURL(s.md.url), err)
	}
	return []MetricValue{{Name: s.spec.Name, Value: asMilli(v)}}, v > s.md.activationTargetValue, nil
}

func (s *metricsAPIScaler) read(ctx context.Context) (float64, error) {
	a := &s.md.auth
	target := s.md.url
	if a.enabled(authAPIKey) && a.apiKeyMethod == "query" {
		u, err := url.Parse(target)
		if err != nil {
			return 0, errors.New("url is not a URL")
		}
		q := u.Query()
		q.Set(firstNonEmpty(a.apiKey2, "api_key"), a.apiKey)
		u.RawQuery = q.Encode()
		target = u.String()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return 0, errors.New("cannot build the request")
	}
	if a.enabled(authAPIKey) && a.apiKeyMethod != "query" {
		req.Header.Add(firstNonEmpty(a.apiKey2, "X-API-KEY"), a.apiKey)
	}
	if a.enabled(authBasic) {
		req.SetBasicAuth(a.username, a.password)
	}
	if a.enabled(authBearer) {
		req.Header.Add("Authorization", "Bearer "+a.bearerToken)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		// Not the *url.Error: with apiKey in the query its URL would hold the key.
		return 0, errors.New(requestFailure(err))
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
		return 0, fmt.Errorf("api returned HTTP %d", resp.StatusCode)
	}
	body, err := readBody(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("reading the response: %w", err)
	}
	switch s.md.format {
	case apiFormatPrometheus:
		return valueFromPrometheusText(body, s.md.selector, s.md.valueLocation)
	case apiFormatXML:
		return valueFromXML(body, s.md.valueLocation)
	case apiFormatYAML:
		return valueFromYAML(body, s.md.valueLocation)
	default:
		return valueFromJSON(body, s.md.valueLocation)
	}
}

// requestFailure describes a failed request without its URL.
func requestFailure(err error) string {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "request timed out"
	}
	return "request failed: " + err.Error()
}

// redactURL drops the userinfo and query of a URL for messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(url)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// valueFromJSON is KEDA's getValueFromJSONResponse: a number, or a string parsed as a quantity.
func valueFromJSON(body []byte, location string) (float64, error) {
	r := gjson.GetBytes(body, location)
	switch r.Type {
	case gjson.String:
		q, err := resource.ParseQuantity(r.String())
		if err != nil {
			return 0, fmt.Errorf("valueLocation %q points to a string that is not parseable as a Quantity", location)
		}
		return q.AsApproximateFloat64(), nil
	case gjson.Number:
		return r.Num, nil
	default:
		return 0, fmt.Errorf("valueLocation %q must point to a numeric value or a string parseable as a Quantity, got %s", location, r.Type)
	}
}

// valueFromYAML is KEDA's getValueFromYAMLResponse: util.GetValueByPath on the document.
func valueFromYAML(body []byte, location string) (float64, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(body, &doc); err != nil {
		return 0, fmt.Errorf("the response is not a YAML mapping: %w", err)
	}
	return scalarValue(doc, location)
}

func scalarValue(doc map[string]any, location string) (float64, error) {
	v, problem := valueByPath(doc, location)
	if problem != "" {
		return 0, fmt.Errorf("valueLocation %q %s", location, problem)
	}
	switch t := v.(type) {
	case int:
		return float64(t), nil
	case int64:
		return float64(t), nil
	case float64:
		return t, nil
	case string:
		q, err := resource.ParseQuantity(strings.TrimSpace(t))
		if err != nil {
			return 0, fmt.Errorf("valueLocation %q points to a string that is not parseable as a Quantity", location)
		}
		return q.AsApproximateFloat64(), nil
	default:
		return 0, fmt.Errorf("valueLocation %q must point to a numeric value or a string parseable as a Quantity, got %T", location, v)
	}
}

// valueFromXML follows a dot path of element names below the document's root element
// (`stats.queue.length` in <metrics><stats><queue><length>4</length>…), list items by index
// when an element repeats. KEDA 2.21 decodes XML into a map with encoding/xml, which cannot
// decode into a map, so every xml response fails there: this is the evident intent, and the
// path rules are those of its yaml format.
func valueFromXML(body []byte, location string) (float64, error) {
	doc, err := decodeXML(body)
	if err != nil {
		return 0, fmt.Errorf("the response is not XML: %w", err)
	}
	return scalarValue(doc, location)
}

// decodeXML turns the root element's content into maps of element names: text-only elements
// become strings (numbers as float64), repeated elements lists. Depth and size are bounded by
// the response size.
func decodeXML(body []byte) (map[string]any, error) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		if _, ok := tok.(xml.StartElement); ok {
			v, err := xmlElement(dec, 0)
			if err != nil {
				return nil, err
			}
			m, ok := v.(map[string]any)
			if !ok {
				return nil, errors.New("the root element has no child elements")
			}
			return m, nil
		}
	}
}

const maxXMLDepth = 64

func xmlElement(dec *xml.Decoder, depth int) (any, error) {
	if depth > maxXMLDepth {
		return nil, fmt.Errorf("nested deeper than %d elements", maxXMLDepth)
	}
	children := map[string]any{}
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			v, err := xmlElement(dec, depth+1)
			if err != nil {
				return nil, err
			}
			name := t.Name.Local
			switch prev := children[name].(type) {
			case nil:
				children[name] = v
			case []any:
				children[name] = append(prev, v)
			default:
				children[name] = []any{prev, v}
			}
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			if len(children) > 0 {
				return children, nil
			}
			s := strings.TrimSpace(text.String())
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				return f, nil
			}
			return s, nil
		}
	}
}

// promSelector is a metric name with label equality matchers.
type promSelector struct {
	name   string
	labels map[string]string
}

// parsePromSelector reads `name` or `name{label="value",...}`. KEDA parses valueLocation with
// PromQL's selector parser and then compares every matcher's value for equality, whatever its
// operator; only = matchers are accepted here, so a selector never means something else.
func parsePromSelector(s string) (promSelector, error) {
	sel := promSelector{labels: map[string]string{}}
	s = strings.TrimSpace(s)
	open := strings.IndexByte(s, '{')
	if open < 0 {
		sel.name = s
	} else {
		if !strings.HasSuffix(s, "}") {
			return sel, errors.New("a selector with labels ends with }")
		}
		sel.name = strings.TrimSpace(s[:open])
		body := s[open+1 : len(s)-1]
		for body = strings.TrimSpace(body); body != ""; body = strings.TrimSpace(body) {
			eq := strings.IndexByte(body, '=')
			if eq <= 0 {
				return sel, fmt.Errorf("label matcher %q is not label=\"value\"", body)
			}
			label := strings.TrimSpace(body[:eq])
			rest := strings.TrimSpace(body[eq+1:])
			if strings.HasSuffix(label, "!") || strings.HasPrefix(rest, "~") {
				return sel, errors.New("only = label matchers are supported")
			}
			if !model.LegacyValidation.IsValidLabelName(label) {
				return sel, fmt.Errorf("%q is not a label name", label)
			}
			value, n, err := quoted(rest)
			if err != nil {
				return sel, fmt.Errorf("label %s: %w", label, err)
			}
			sel.labels[label] = value
			body = strings.TrimSpace(rest[n:])
			if body != "" {
				if body[0] != ',' {
					return sel, fmt.Errorf("expected , after label %s", label)
				}
				body = body[1:]
			}
		}
	}
	if sel.name == "" || !model.LegacyValidation.IsValidMetricName(sel.name) {
		return sel, fmt.Errorf("%q is not a metric name", sel.name)
	}
	return sel, nil
}

// quoted reads a double-quoted (or backquoted, single-quoted) string at the start of s.
func quoted(s string) (string, int, error) {
	if s == "" || (s[0] != '"' && s[0] != '\'' && s[0] != '`') {
		return "", 0, errors.New("the value must be quoted")
	}
	q := s[0]
	for i := 1; i < len(s); i++ {
		switch {
		case s[i] == '\\' && q != '`':
			i++
		case s[i] == q:
			raw := s[:i+1]
			if q == '\'' {
				inner := strings.ReplaceAll(raw[1:len(raw)-1], `\'`, `'`)
				raw = `"` + strings.ReplaceAll(inner, `"`, `\"`) + `"`
			}
			v, err := strconv.Unquote(raw)
			if err != nil {
				return "", 0, errors.New("bad escape in the value")
			}
			return v, i + 1, nil
		}
	}
	return "", 0, errors.New("unterminated value")
}

// valueFromPrometheusText is KEDA's getValueFromPrometheusResponse: the first sample of the
// family that carries every label of the selector; untyped, counter or gauge.
func valueFromPrometheusText(body []byte, sel promSelector, location string) (float64, error) {
	text := strings.ReplaceAll(string(body), "\r\n", "\n")
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		return 0, fmt.Errorf("prometheus format parsing error: %w", err)
	}
	family, ok := families[sel.name]
	if !ok {
		return 0, fmt.Errorf("metric '%s' not found", sel.name)
	}
	for _, metric := range family.GetMetric() {
		if !hasLabels(metric, sel.labels) {
			continue
		}
		switch {
		case metric.GetUntyped() != nil && metric.GetUntyped().Value != nil:
			return metric.GetUntyped().GetValue(), nil
		case metric.GetCounter() != nil && metric.GetCounter().Value != nil:
			return metric.GetCounter().GetValue(), nil
		case metric.GetGauge() != nil && metric.GetGauge().Value != nil:
			return metric.GetGauge().GetValue(), nil
		}
	}
	return 0, fmt.Errorf("value %s not found", location)
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	for name, value := range want {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == name && l.GetValue() == value {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}
