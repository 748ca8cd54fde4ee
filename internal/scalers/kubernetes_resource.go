package scalers

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	yaml "go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The kubernetes-resource trigger reproduces KEDA's kubernetes_resource_scaler.go: it reads one
// key of a ConfigMap or Secret in the object's namespace and uses it as the metric.
const kubernetesResourceType = "kubernetes-resource"

// Metadata values of kubernetes-resource.
const (
	formatNumber = "number"
	formatJSON   = "json"
	formatYAML   = "yaml"

	valueTypeFloat64  = "float64"
	valueTypeInt64    = "int64"
	valueTypeQuantity = "quantity"
)

// kubernetesResourceMetadata is the parsed metadata of a kubernetes-resource trigger.
type kubernetesResourceMetadata struct {
	ResourceKind          string // ConfigMap | Secret
	ResourceName          string
	Key                   string
	Format                string // number (default) | json | yaml
	ValueLocation         string // GJSON path (json) or dot path (yaml)
	ValueType             string // float64 (default) | int64 | quantity
	TargetValue           float64
	ActivationTargetValue float64 // default 0
}

// parseKubernetesResourceMetadata checks the metadata as KEDA does: the same keys, enums,
// defaults and cross-field rules. asMetricSource relaxes targetValue > 0 (scalingModifiers).
func parseKubernetesResourceMetadata(values map[string]string, asMetricSource bool) (kubernetesResourceMetadata, error) {
	m := newMetadata(values)
	var md kubernetesResourceMetadata
	md.ResourceKind, _ = m.oneOf("resourceKind", "", KindConfigMap, KindSecret)
	md.ResourceName, _ = m.required("resourceName")
	md.Key, _ = m.required("key")
	format, formatOK := m.oneOf("format", formatNumber, formatNumber, formatJSON, formatYAML)
	md.Format = format
	md.ValueLocation, _ = m.lookup("valueLocation")
	md.ValueType, _ = m.oneOf("valueType", valueTypeFloat64, valueTypeFloat64, valueTypeInt64, valueTypeQuantity)
	target, targetOK := m.float("targetValue", true, 0)
	md.TargetValue = target
	md.ActivationTargetValue, _ = m.float("activationTargetValue", false, 0)

	if targetOK && target <= 0 && !asMetricSource {
		m.problem("targetValue must be greater than 0, got %s", strconv.FormatFloat(target, 'g', -1, 64))
	}
	if formatOK {
		switch {
		case format == formatNumber && md.ValueLocation != "":
			m.problem("valueLocation is only used with format json or yaml, not number")
		case format != formatNumber && md.ValueLocation == "":
			m.problem("valueLocation is required with format %s", format)
		case format == formatJSON && md.ResourceKind == KindSecret && !plainPath(md.ValueLocation):
			// A GJSON query or modifier (#(token=="abc"), @this, wildcards) would turn a
			// secret string into a yes/no answer that the replica count reveals.
			m.problem("valueLocation %q: on a Secret only a plain path is allowed (names and list indexes separated by dots, such as queues.0.length): no GJSON queries, modifiers or wildcards", md.ValueLocation)
		}
	}
	return md, m.err(kubernetesResourceType)
}

// kubernetesResourceReference names the object a kubernetes-resource trigger reads.
func kubernetesResourceReference(values map[string]string, namespace string) (ObjectRef, bool) {
	m := newMetadata(values)
	kind, _ := m.lookup("resourceKind")
	name, ok := m.lookup("resourceName")
	if !ok || (kind != KindConfigMap && kind != KindSecret) {
		return ObjectRef{}, false
	}
	return ObjectRef{Kind: kind, Namespace: namespace, Name: name}, true
}

type kubernetesResourceScaler struct {
	reader client.Reader
	object ObjectRef
	md     kubernetesResourceMetadata
	spec   MetricSpec
}

func newKubernetesResourceScaler(_ context.Context, cfg Config) (Scaler, error) {
	md, err := parseKubernetesResourceMetadata(cfg.Trigger.Metadata, cfg.AsMetricSource)
	metricType, problem := metricTargetType(cfg.Trigger.MetricType)
	if problem != "" {
		var merr *MetadataError
		if !errors.As(err, &merr) {
			merr = &MetadataError{TriggerType: kubernetesResourceType}
		}
		merr.Problems = append(merr.Problems, problem)
		err = merr
	}
	if err != nil {
		return nil, err
	}
	if cfg.HubReader == nil {
		return nil, errors.New("kubernetes-resource trigger: no hub reader configured")
	}
	if cfg.Namespace == "" {
		return nil, errors.New("kubernetes-resource trigger: no namespace configured")
	}
	return &kubernetesResourceScaler{
		reader: cfg.HubReader,
		object: ObjectRef{Kind: md.ResourceKind, Namespace: cfg.Namespace, Name: md.ResourceName},
		md:     md,
		spec: MetricSpec{
			Name:             metricName(cfg, strings.ToLower(md.ResourceKind)+"-"+md.ResourceName+"-"+md.Key),
			Target:           asMilli(md.TargetValue),
			ActivationTarget: md.ActivationTargetValue,
			Type:             metricType,
			Sensitive:        md.ResourceKind == KindSecret,
		},
	}, nil
}

// plainPath reports whether a GJSON path is only names and indexes: segments of letters,
// digits, '_' and '-' separated by single dots.
func plainPath(p string) bool {
	if p == "" {
		return false
	}
	for _, seg := range strings.Split(p, ".") {
		if seg == "" {
			return false
		}
		for _, r := range seg {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
				return false
			}
		}
	}
	return true
}

func (s *kubernetesResourceScaler) MetricSpecs() []MetricSpec { return []MetricSpec{s.spec} }

func (s *kubernetesResourceScaler) Close(context.Context) error { return nil }

// GetMetricsAndActivity reads the key, parses it, and reports the value as KEDA reports it
// (negative and non-finite values become 0, three decimals); active means the value read is
// above activationTargetValue.
func (s *kubernetesResourceScaler) GetMetricsAndActivity(ctx context.Context) ([]MetricValue, bool, error) {
	raw, err := s.read(ctx)
	if err != nil {
		return nil, false, err
	}
	v, err := s.parse(raw)
	if err != nil {
		return nil, false, err
	}
	return []MetricValue{{Name: s.spec.Name, Value: asMilli(v)}}, v > s.md.ActivationTargetValue, nil
}

// objectError is a read error with a short message that still unwraps to the API error, so
// apierrors.IsNotFound works on it.
type objectError struct {
	msg string
	err error
}

func (e *objectError) Error() string { return e.msg }
func (e *objectError) Unwrap() error { return e.err }

// read returns the raw value of the key. Like KEDA it looks only at ConfigMap data (not
// binaryData) and Secret data.
func (s *kubernetesResourceScaler) read(ctx context.Context) (string, error) {
	key := client.ObjectKey{Namespace: s.object.Namespace, Name: s.object.Name}
	var (
		raw    string
		exists bool
		err    error
	)
	switch s.object.Kind {
	case KindConfigMap:
		cm := &corev1.ConfigMap{}
		if err = s.reader.Get(ctx, key, cm); err == nil {
			raw, exists = cm.Data[s.md.Key]
		}
	case KindSecret:
		secret := &corev1.Secret{}
		if err = s.reader.Get(ctx, key, secret); err == nil {
			var b []byte
			b, exists = secret.Data[s.md.Key]
			raw = string(b)
		}
	default:
		return "", fmt.Errorf("unsupported resourceKind %q", s.object.Kind)
	}
	switch {
	case apierrors.IsNotFound(err):
		return "", &objectError{msg: s.object.String() + " not found", err: err}
	case err != nil:
		return "", &objectError{msg: fmt.Sprintf("reading %s: %v", s.object, err), err: err}
	case !exists:
		return "", fmt.Errorf("%s has no key %q", s.object, s.md.Key)
	}
	return raw, nil
}

func (s *kubernetesResourceScaler) parse(raw string) (float64, error) {
	switch s.md.Format {
	case formatJSON:
		return s.parseJSON(raw)
	case formatYAML:
		return s.parseYAML(raw)
	default:
		return s.parseNumber(raw)
	}
}

// where says where a value came from: `key metric-value in ConfigMap default/mock-metric`.
func (s *kubernetesResourceScaler) where() string {
	return fmt.Sprintf("key %s in %s", s.md.Key, s.object)
}

// show quotes a value for an error message; Secret values are never shown.
func (s *kubernetesResourceScaler) show(v string) string {
	if s.object.Kind == KindSecret {
		return ""
	}
	return fmt.Sprintf(" %q", v)
}

// parseNumber parses the whole value. fmt.Sscanf, as KEDA uses, reads the leading number and
// ignores what follows ("5\n" is 5, and so is "5 pods"); int64 reads "12.5" as 12.
func (s *kubernetesResourceScaler) parseNumber(raw string) (float64, error) {
	switch s.md.ValueType {
	case valueTypeInt64:
		var i int64
		if _, err := fmt.Sscanf(raw, "%d", &i); err != nil {
			return 0, fmt.Errorf("value%s of %s is not an integer", s.show(raw), s.where())
		}
		return float64(i), nil
	case valueTypeQuantity:
		q, err := resource.ParseQuantity(raw)
		if err != nil {
			return 0, fmt.Errorf("value%s of %s is not a quantity (such as 500m or 2Gi)", s.show(raw), s.where())
		}
		return q.AsApproximateFloat64(), nil
	default:
		var f float64
		if _, err := fmt.Sscanf(raw, "%f", &f); err != nil {
			return 0, fmt.Errorf("value%s of %s is not a number", s.show(raw), s.where())
		}
		return f, nil
	}
}

// parseJSON reads valueLocation as a GJSON path. Accepted, as in KEDA: float64 takes a number or
// a quantity string; int64 takes a number (truncated); quantity takes a quantity string or a
// number.
func (s *kubernetesResourceScaler) parseJSON(raw string) (float64, error) {
	r := gjson.Get(raw, s.md.ValueLocation)
	if !r.Exists() {
		if !gjson.Valid(raw) {
			return 0, fmt.Errorf("path %q not found in %s: the value is not valid JSON", s.md.ValueLocation, s.where())
		}
		return 0, fmt.Errorf("path %q not found in the JSON of %s", s.md.ValueLocation, s.where())
	}
	at := fmt.Sprintf("at path %q in the JSON of %s", s.md.ValueLocation, s.where())
	switch {
	case r.Type == gjson.Number && s.md.ValueType == valueTypeInt64:
		return float64(r.Int()), nil
	case r.Type == gjson.Number:
		return r.Float(), nil
	case r.Type == gjson.String && s.md.ValueType != valueTypeInt64:
		q, err := resource.ParseQuantity(r.String())
		if err != nil {
			return 0, fmt.Errorf("value%s %s is not a quantity (such as 500m or 2Gi)", s.show(r.String()), at)
		}
		return q.AsApproximateFloat64(), nil
	case s.md.ValueType == valueTypeInt64:
		return 0, fmt.Errorf("value %s is a JSON %s, not a number", at, jsonTypeName(r))
	default:
		return 0, fmt.Errorf("value %s is a JSON %s, not a number or a quantity string", at, jsonTypeName(r))
	}
}

func jsonTypeName(r gjson.Result) string {
	switch {
	case r.Type == gjson.String:
		return "string"
	case r.Type == gjson.True || r.Type == gjson.False:
		return "boolean"
	case r.Type == gjson.Null:
		return "null"
	case r.IsArray():
		return "array"
	case r.IsObject():
		return "object"
	default:
		return r.Type.String()
	}
}

// parseYAML reads valueLocation as a dot path (list items by index: items.0.count) with KEDA's
// util.GetValueByPath rules, including its quirk that a path stops at the first scalar it
// meets ("a.b.c" where a.b is 5 gives 5). A number is taken as is, whatever valueType says; a
// string is parsed as a quantity (valueType quantity) or as a leading number.
func (s *kubernetesResourceScaler) parseYAML(raw string) (float64, error) {
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(raw), &doc); err != nil {
		what := "valid YAML"
		if typeErr := (*yaml.TypeError)(nil); errors.As(err, &typeErr) {
			what = "a YAML mapping"
		}
		if s.object.Kind == KindSecret { // the parser's message may quote the value
			return 0, fmt.Errorf("%s is not %s", s.where(), what)
		}
		return 0, fmt.Errorf("%s is not %s: %v", s.where(), what, err)
	}
	v, problem := valueByPath(doc, s.md.ValueLocation)
	if problem != "" {
		return 0, fmt.Errorf("path %q %s in the YAML of %s", s.md.ValueLocation, problem, s.where())
	}
	at := fmt.Sprintf("at path %q in the YAML of %s", s.md.ValueLocation, s.where())
	switch t := v.(type) {
	case int:
		return float64(t), nil
	case int64:
		return float64(t), nil
	case float64:
		return t, nil
	case string:
		if s.md.ValueType == valueTypeQuantity {
			q, err := resource.ParseQuantity(t)
			if err != nil {
				return 0, fmt.Errorf("value%s %s is not a quantity (such as 500m or 2Gi)", s.show(t), at)
			}
			return q.AsApproximateFloat64(), nil
		}
		var f float64
		if _, err := fmt.Sscanf(t, "%f", &f); err != nil {
			return 0, fmt.Errorf("value%s %s is not a number", s.show(t), at)
		}
		return f, nil
	case nil:
		return 0, fmt.Errorf("value %s is null, not a number", at)
	default:
		return 0, fmt.Errorf("value %s is a %T, not a number", at, v)
	}
}

// valueByPath follows a dot path through maps and lists (by index). It returns the first
// scalar it meets, or a problem: "not found", or "leads to a map or list" when the path ends
// on one.
func valueByPath(doc map[string]any, path string) (any, string) {
	current := doc
	for _, key := range strings.Split(path, ".") {
		v, ok := current[key]
		if !ok {
			return nil, "not found"
		}
		switch t := v.(type) {
		case map[string]any:
			current = t
		case map[any]any:
			current = make(map[string]any, len(t))
			for k, e := range t {
				current[fmt.Sprint(k)] = e
			}
		case []any:
			current = make(map[string]any, len(t))
			for i, e := range t {
				current[fmt.Sprint(i)] = e
			}
		default:
			return v, ""
		}
	}
	return nil, "leads to a map or list, not a value"
}

// Compile-time check.
var _ Scaler = (*kubernetesResourceScaler)(nil)
