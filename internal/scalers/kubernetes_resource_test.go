package scalers

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

// base returns valid kubernetes-resource metadata with the given keys changed; an empty value
// deletes the key.
func base(changes ...string) map[string]string {
	md := map[string]string{"resourceKind": "ConfigMap", "resourceName": "my-config", "key": "threshold", "targetValue": "10"}
	for i := 0; i+1 < len(changes); i += 2 {
		if changes[i+1] == "" {
			delete(md, changes[i])
			continue
		}
		md[changes[i]] = changes[i+1]
	}
	return md
}

func TestParseKubernetesResourceMetadata(t *testing.T) {
	defaults := kubernetesResourceMetadata{
		ResourceKind: "ConfigMap", ResourceName: "my-config", Key: "threshold",
		Format: "number", ValueType: "float64", TargetValue: 10,
	}
	with := func(f func(*kubernetesResourceMetadata)) kubernetesResourceMetadata {
		md := defaults
		f(&md)
		return md
	}
	tests := []struct {
		name           string
		metadata       map[string]string
		asMetricSource bool
		want           kubernetesResourceMetadata
		wantErr        string // the full message when set
	}{
		{name: "defaults", metadata: base(), want: defaults},
		{name: "secret", metadata: base("resourceKind", "Secret"), want: with(func(m *kubernetesResourceMetadata) { m.ResourceKind = "Secret" })},
		{
			name: "every key",
			metadata: base("key", "data", "format", "json", "valueLocation", "metrics.threshold", "valueType", "int64",
				"targetValue", "2.5", "activationTargetValue", "5"),
			want: with(func(m *kubernetesResourceMetadata) {
				m.Key, m.Format, m.ValueLocation, m.ValueType, m.TargetValue, m.ActivationTargetValue = "data", "json", "metrics.threshold", "int64", 2.5, 5
			}),
		},
		{
			name:     "yaml and quantity",
			metadata: base("format", "yaml", "valueLocation", "a.0.b", "valueType", "quantity"),
			want: with(func(m *kubernetesResourceMetadata) {
				m.Format, m.ValueLocation, m.ValueType = "yaml", "a.0.b", "quantity"
			}),
		},
		{
			name:     "values are trimmed, empty means absent",
			metadata: base("resourceName", "  my-config ", "targetValue", " 1e1 ", "format", " number", "valueType", "", "activationTargetValue", "  "),
			want:     defaults,
		},
		{name: "explicit defaults", metadata: base("format", "number", "valueType", "float64", "activationTargetValue", "0"), want: defaults},
		{name: "negative activation", metadata: base("activationTargetValue", "-1"), want: with(func(m *kubernetesResourceMetadata) { m.ActivationTargetValue = -1 })},

		{name: "no resourceKind", metadata: base("resourceKind", ""), wantErr: `invalid kubernetes-resource trigger metadata: resourceKind is required (one of ConfigMap, Secret)`},
		{name: "no resourceName", metadata: base("resourceName", ""), wantErr: `invalid kubernetes-resource trigger metadata: resourceName is required`},
		{name: "no key", metadata: base("key", ""), wantErr: `invalid kubernetes-resource trigger metadata: key is required`},
		{name: "no targetValue", metadata: base("targetValue", ""), wantErr: `invalid kubernetes-resource trigger metadata: targetValue is required`},
		{name: "no targetValue as metric source", metadata: base("targetValue", ""), asMetricSource: true, wantErr: `invalid kubernetes-resource trigger metadata: targetValue is required`},
		{name: "resourceKind Pod", metadata: base("resourceKind", "Pod"), wantErr: `invalid kubernetes-resource trigger metadata: resourceKind "Pod" is not one of ConfigMap, Secret`},
		{name: "resourceKind is case sensitive", metadata: base("resourceKind", "configmap"), wantErr: `invalid kubernetes-resource trigger metadata: resourceKind "configmap" is not one of ConfigMap, Secret`},
		{name: "format xml", metadata: base("format", "xml"), wantErr: `invalid kubernetes-resource trigger metadata: format "xml" is not one of number, json, yaml`},
		{name: "valueType string", metadata: base("valueType", "string"), wantErr: `invalid kubernetes-resource trigger metadata: valueType "string" is not one of float64, int64, quantity`},
		{name: "targetValue abc", metadata: base("targetValue", "abc"), wantErr: `invalid kubernetes-resource trigger metadata: targetValue "abc" is not a number`},
		{name: "targetValue quantity is not a number", metadata: base("targetValue", "500m"), wantErr: `invalid kubernetes-resource trigger metadata: targetValue "500m" is not a number`},
		{name: "targetValue 0", metadata: base("targetValue", "0"), wantErr: `invalid kubernetes-resource trigger metadata: targetValue must be greater than 0, got 0`},
		{name: "targetValue -3", metadata: base("targetValue", "-3"), wantErr: `invalid kubernetes-resource trigger metadata: targetValue must be greater than 0, got -3`},
		{name: "targetValue 0 as metric source", metadata: base("targetValue", "0"), asMetricSource: true, want: with(func(m *kubernetesResourceMetadata) { m.TargetValue = 0 })},
		{name: "activationTargetValue abc", metadata: base("activationTargetValue", "abc"), wantErr: `invalid kubernetes-resource trigger metadata: activationTargetValue "abc" is not a number`},
		{name: "valueLocation with number", metadata: base("format", "number", "valueLocation", "some.path"), wantErr: `invalid kubernetes-resource trigger metadata: valueLocation is only used with format json or yaml, not number`},
		{name: "valueLocation with default format", metadata: base("valueLocation", "some.path"), wantErr: `invalid kubernetes-resource trigger metadata: valueLocation is only used with format json or yaml, not number`},
		{name: "json without valueLocation", metadata: base("format", "json"), wantErr: `invalid kubernetes-resource trigger metadata: valueLocation is required with format json`},
		{name: "yaml without valueLocation", metadata: base("format", "yaml", "valueLocation", " "), wantErr: `invalid kubernetes-resource trigger metadata: valueLocation is required with format yaml`},
		{
			name:     "every problem at once",
			metadata: map[string]string{"resourceKind": "Pod", "format": "json", "valueType": "bool", "targetValue": "x", "activationTargetValue": "y"},
			wantErr: `invalid kubernetes-resource trigger metadata: resourceKind "Pod" is not one of ConfigMap, Secret; resourceName is required; key is required; ` +
				`valueType "bool" is not one of float64, int64, quantity; targetValue "x" is not a number; activationTargetValue "y" is not a number; valueLocation is required with format json`,
		},
		{name: "empty metadata", metadata: nil, wantErr: `invalid kubernetes-resource trigger metadata: resourceKind is required (one of ConfigMap, Secret); resourceName is required; key is required; targetValue is required`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseKubernetesResourceMetadata(tt.metadata, tt.asMetricSource)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("no error, want %q", tt.wantErr)
				}
				if err.Error() != tt.wantErr {
					t.Fatalf("error\n got %q\nwant %q", err, tt.wantErr)
				}
				if !errors.Is(err, ErrInvalidMetadata) {
					t.Errorf("error %q does not wrap ErrInvalidMetadata", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("metadata (-want +got):\n%s", diff)
			}
		})
	}
}

func configMap(name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "test", Name: name}, Data: data}
}

func secret(name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "test", Name: name}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func newKubernetesResource(t *testing.T, md map[string]string, reader *objectReader) Scaler {
	t.Helper()
	s, err := New(context.Background(), Config{
		Trigger:   v1alpha1.ScaleTriggers{Type: "kubernetes-resource", Metadata: md},
		Namespace: "test",
		HubReader: reader,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestKubernetesResourceValue(t *testing.T) {
	tests := []struct {
		name       string
		metadata   map[string]string
		data       map[string]string
		secret     bool
		wantValue  float64
		wantActive bool
	}{
		// KEDA's own cases (kubernetes_resource_scaler_test.go).
		{name: "number below activation", metadata: base("activationTargetValue", "5"), data: map[string]string{"threshold": "3"}, wantValue: 3},
		{name: "number above activation", metadata: base("activationTargetValue", "5"), data: map[string]string{"threshold": "8"}, wantValue: 8, wantActive: true},
		{name: "json", metadata: base("key", "data", "format", "json", "valueLocation", "metrics.threshold"), data: map[string]string{"data": `{"metrics": {"threshold": 15}}`}, wantValue: 15, wantActive: true},
		{name: "yaml", metadata: base("key", "data", "format", "yaml", "valueLocation", "metrics.threshold"), data: map[string]string{"data": "metrics:\n  threshold: 20\n"}, wantValue: 20, wantActive: true},
		{name: "quantity", metadata: base("valueType", "quantity"), data: map[string]string{"threshold": "500m"}, wantValue: 0.5, wantActive: true},
		{name: "int64", metadata: base("valueType", "int64"), data: map[string]string{"threshold": "42"}, wantValue: 42, wantActive: true},
		{name: "secret number", metadata: base("resourceKind", "Secret"), secret: true, data: map[string]string{"threshold": "25"}, wantValue: 25, wantActive: true},
		{name: "secret json", metadata: base("resourceKind", "Secret", "key", "data", "format", "json", "valueLocation", "limit"), secret: true, data: map[string]string{"data": `{"limit": 150}`}, wantValue: 150, wantActive: true},

		// Activation is strict: equal is inactive; 0 with the default 0 is inactive.
		{name: "equal to activation", metadata: base("activationTargetValue", "5"), data: map[string]string{"threshold": "5"}, wantValue: 5},
		{name: "zero", metadata: base(), data: map[string]string{"threshold": "0"}, wantValue: 0},
		// Reported as KEDA reports it: negative becomes 0, three decimals; activity uses the value read.
		{name: "negative", metadata: base("activationTargetValue", "-10"), data: map[string]string{"threshold": "-2"}, wantValue: 0, wantActive: true},
		{name: "rounded to thousandths", metadata: base(), data: map[string]string{"threshold": "0.0004"}, wantValue: 0, wantActive: true},
		{name: "three decimals kept", metadata: base(), data: map[string]string{"threshold": "1.2346"}, wantValue: 1.235, wantActive: true},

		// fmt.Sscanf leniency, as in KEDA.
		{name: "trailing newline", metadata: base(), data: map[string]string{"threshold": "7\n"}, wantValue: 7, wantActive: true},
		{name: "leading spaces", metadata: base(), data: map[string]string{"threshold": "  7"}, wantValue: 7, wantActive: true},
		{name: "trailing text", metadata: base(), data: map[string]string{"threshold": "7 pods"}, wantValue: 7, wantActive: true},
		{name: "exponent", metadata: base(), data: map[string]string{"threshold": "1e2"}, wantValue: 100, wantActive: true},
		{name: "int64 truncates", metadata: base("valueType", "int64"), data: map[string]string{"threshold": "12.9"}, wantValue: 12, wantActive: true},
		{name: "quantity Gi", metadata: base("valueType", "quantity"), data: map[string]string{"threshold": "2Gi"}, wantValue: 2147483648, wantActive: true},

		// JSON: GJSON paths and per-valueType conversions.
		{name: "json array index", metadata: base("key", "d", "format", "json", "valueLocation", "items.1.n"), data: map[string]string{"d": `{"items":[{"n":1},{"n":2}]}`}, wantValue: 2, wantActive: true},
		{name: "json count", metadata: base("key", "d", "format", "json", "valueLocation", "items.#"), data: map[string]string{"d": `{"items":[1,2,3]}`}, wantValue: 3, wantActive: true},
		{name: "json float64 takes a quantity string", metadata: base("key", "d", "format", "json", "valueLocation", "v"), data: map[string]string{"d": `{"v":"250m"}`}, wantValue: 0.25, wantActive: true},
		{name: "json quantity takes a number", metadata: base("key", "d", "format", "json", "valueLocation", "v", "valueType", "quantity"), data: map[string]string{"d": `{"v":1.5}`}, wantValue: 1.5, wantActive: true},
		{name: "json int64 truncates", metadata: base("key", "d", "format", "json", "valueLocation", "v", "valueType", "int64"), data: map[string]string{"d": `{"v":3.9}`}, wantValue: 3, wantActive: true},

		// YAML: dot paths with list indexes, KEDA's stop-at-first-scalar rule, numeric strings.
		{name: "yaml list index", metadata: base("key", "d", "format", "yaml", "valueLocation", "items.1.n"), data: map[string]string{"d": "items:\n- n: 1\n- n: 2\n"}, wantValue: 2, wantActive: true},
		{name: "yaml float", metadata: base("key", "d", "format", "yaml", "valueLocation", "v", "valueType", "int64"), data: map[string]string{"d": "v: 2.5\n"}, wantValue: 2.5, wantActive: true},
		{name: "yaml numeric string", metadata: base("key", "d", "format", "yaml", "valueLocation", "v"), data: map[string]string{"d": "v: \"12\"\n"}, wantValue: 12, wantActive: true},
		{name: "yaml quantity string", metadata: base("key", "d", "format", "yaml", "valueLocation", "v", "valueType", "quantity"), data: map[string]string{"d": "v: 1k\n"}, wantValue: 1000, wantActive: true},
		{name: "yaml path stops at a scalar", metadata: base("key", "d", "format", "yaml", "valueLocation", "a.b.c"), data: map[string]string{"d": "a:\n  b: 4\n"}, wantValue: 4, wantActive: true},
		{name: "yaml non-string keys", metadata: base("key", "d", "format", "yaml", "valueLocation", "a.1"), data: map[string]string{"d": "a:\n  1: 9\n"}, wantValue: 9, wantActive: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reader *objectReader
			if tt.secret {
				reader = newObjectReader(secret(tt.metadata["resourceName"], tt.data))
			} else {
				reader = newObjectReader(configMap(tt.metadata["resourceName"], tt.data))
			}
			s := newKubernetesResource(t, tt.metadata, reader)
			values, active, err := s.GetMetricsAndActivity(context.Background())
			if err != nil {
				t.Fatalf("GetMetricsAndActivity: %v", err)
			}
			want := []MetricValue{{Name: s.MetricSpecs()[0].Name, Value: tt.wantValue}}
			if diff := cmp.Diff(want, values); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
			if active != tt.wantActive {
				t.Errorf("active = %v, want %v", active, tt.wantActive)
			}
		})
	}
}

func TestKubernetesResourceReadErrors(t *testing.T) {
	mock := func(data map[string]string) *objectReader {
		return newObjectReader(configMap("mock-metric", data))
	}
	md := func(changes ...string) map[string]string {
		return base(append([]string{"resourceName", "mock-metric", "key", "metric-value"}, changes...)...)
	}
	tests := []struct {
		name     string
		metadata map[string]string
		reader   *objectReader
		want     string
	}{
		{name: "configmap not found", metadata: md(), reader: newObjectReader(), want: `ConfigMap test/mock-metric not found`},
		{name: "secret not found", metadata: md("resourceKind", "Secret"), reader: newObjectReader(), want: `Secret test/mock-metric not found`},
		{name: "key missing", metadata: md(), reader: mock(map[string]string{"other": "1"}), want: `ConfigMap test/mock-metric has no key "metric-value"`},
		{name: "secret key missing", metadata: md("resourceKind", "Secret"), reader: newObjectReader(secret("mock-metric", nil)), want: `Secret test/mock-metric has no key "metric-value"`},
		{name: "not a number", metadata: md(), reader: mock(map[string]string{"metric-value": "abc"}), want: `value "abc" of key metric-value in ConfigMap test/mock-metric is not a number`},
		{name: "empty value", metadata: md(), reader: mock(map[string]string{"metric-value": ""}), want: `value "" of key metric-value in ConfigMap test/mock-metric is not a number`},
		{name: "secret value is not shown", metadata: md("resourceKind", "Secret"), reader: newObjectReader(secret("mock-metric", map[string]string{"metric-value": "s3cr3t"})), want: `value of key metric-value in Secret test/mock-metric is not a number`},
		{name: "not an integer", metadata: md("valueType", "int64"), reader: mock(map[string]string{"metric-value": "x1"}), want: `value "x1" of key metric-value in ConfigMap test/mock-metric is not an integer`},
		{name: "not a quantity", metadata: md("valueType", "quantity"), reader: mock(map[string]string{"metric-value": "invalid-quantity"}), want: `value "invalid-quantity" of key metric-value in ConfigMap test/mock-metric is not a quantity (such as 500m or 2Gi)`},
		{name: "invalid json", metadata: md("format", "json", "valueLocation", "metrics.threshold"), reader: mock(map[string]string{"metric-value": `{invalid json}`}), want: `path "metrics.threshold" not found in key metric-value in ConfigMap test/mock-metric: the value is not valid JSON`},
		{name: "json path missing", metadata: md("format", "json", "valueLocation", "missing.path"), reader: mock(map[string]string{"metric-value": `{"metrics": {"threshold": 10}}`}), want: `path "missing.path" not found in the JSON of key metric-value in ConfigMap test/mock-metric`},
		{name: "json boolean", metadata: md("format", "json", "valueLocation", "v"), reader: mock(map[string]string{"metric-value": `{"v": true}`}), want: `value at path "v" in the JSON of key metric-value in ConfigMap test/mock-metric is a JSON boolean, not a number or a quantity string`},
		{name: "json object", metadata: md("format", "json", "valueLocation", "v"), reader: mock(map[string]string{"metric-value": `{"v": {"a": 1}}`}), want: `value at path "v" in the JSON of key metric-value in ConfigMap test/mock-metric is a JSON object, not a number or a quantity string`},
		{name: "json int64 refuses strings", metadata: md("format", "json", "valueLocation", "v", "valueType", "int64"), reader: mock(map[string]string{"metric-value": `{"v": "5"}`}), want: `value at path "v" in the JSON of key metric-value in ConfigMap test/mock-metric is a JSON string, not a number`},
		{name: "json string not a quantity", metadata: md("format", "json", "valueLocation", "v"), reader: mock(map[string]string{"metric-value": `{"v": "lots"}`}), want: `value "lots" at path "v" in the JSON of key metric-value in ConfigMap test/mock-metric is not a quantity (such as 500m or 2Gi)`},
		// KEDA's "invalid YAML" case is valid YAML (a multi-line plain scalar), so the path is missing.
		{name: "keda's invalid yaml", metadata: md("format", "yaml", "valueLocation", "metrics.threshold"), reader: mock(map[string]string{"metric-value": "invalid:\n  yaml\n    bad indent"}), want: `path "metrics.threshold" not found in the YAML of key metric-value in ConfigMap test/mock-metric`},
		{name: "invalid yaml", metadata: md("format", "yaml", "valueLocation", "a"), reader: mock(map[string]string{"metric-value": "a: [1, 2\n"}), want: `key metric-value in ConfigMap test/mock-metric is not valid YAML: yaml: line 1: did not find expected ',' or ']'`},
		{name: "invalid yaml in a secret", metadata: md("resourceKind", "Secret", "format", "yaml", "valueLocation", "a"), reader: newObjectReader(secret("mock-metric", map[string]string{"metric-value": "a: [1, 2\n"})), want: `key metric-value in Secret test/mock-metric is not valid YAML`},
		{name: "yaml not a mapping", metadata: md("format", "yaml", "valueLocation", "a"), reader: mock(map[string]string{"metric-value": "- 1\n"}), want: "key metric-value in ConfigMap test/mock-metric is not a YAML mapping: yaml: unmarshal errors:\n  line 1: cannot unmarshal !!seq into map[string]interface {}"},
		{name: "yaml path missing", metadata: md("format", "yaml", "valueLocation", "a.x"), reader: mock(map[string]string{"metric-value": "a:\n  b: 1\n"}), want: `path "a.x" not found in the YAML of key metric-value in ConfigMap test/mock-metric`},
		{name: "yaml path ends on a map", metadata: md("format", "yaml", "valueLocation", "a"), reader: mock(map[string]string{"metric-value": "a:\n  b: 1\n"}), want: `path "a" leads to a map or list, not a value in the YAML of key metric-value in ConfigMap test/mock-metric`},
		{name: "yaml null", metadata: md("format", "yaml", "valueLocation", "a"), reader: mock(map[string]string{"metric-value": "a: ~\n"}), want: `value at path "a" in the YAML of key metric-value in ConfigMap test/mock-metric is null, not a number`},
		{name: "yaml boolean", metadata: md("format", "yaml", "valueLocation", "a"), reader: mock(map[string]string{"metric-value": "a: true\n"}), want: `value at path "a" in the YAML of key metric-value in ConfigMap test/mock-metric is a bool, not a number`},
		{name: "yaml string", metadata: md("format", "yaml", "valueLocation", "a"), reader: mock(map[string]string{"metric-value": "a: many\n"}), want: `value "many" at path "a" in the YAML of key metric-value in ConfigMap test/mock-metric is not a number`},
		{name: "yaml not a quantity", metadata: md("format", "yaml", "valueLocation", "a", "valueType", "quantity"), reader: mock(map[string]string{"metric-value": "a: many\n"}), want: `value "many" at path "a" in the YAML of key metric-value in ConfigMap test/mock-metric is not a quantity (such as 500m or 2Gi)`},
		{name: "reader error", metadata: md(), reader: &objectReader{err: errors.New("cache not started")}, want: `reading ConfigMap test/mock-metric: cache not started`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newKubernetesResource(t, tt.metadata, tt.reader)
			values, active, err := s.GetMetricsAndActivity(context.Background())
			if err == nil {
				t.Fatalf("no error (values %v), want %q", values, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %q\nwant %q", err, tt.want)
			}
			if values != nil || active {
				t.Errorf("on error got values %v, active %v; want none", values, active)
			}
			if errors.Is(err, ErrInvalidMetadata) {
				t.Errorf("read error %q wraps ErrInvalidMetadata; it must be retryable", err)
			}
		})
	}
}

func TestKubernetesResourceNotFoundUnwraps(t *testing.T) {
	s := newKubernetesResource(t, base(), newObjectReader())
	_, _, err := s.GetMetricsAndActivity(context.Background())
	if !apierrors.IsNotFound(err) {
		t.Errorf("apierrors.IsNotFound(%q) = false", err)
	}
}

func TestKubernetesResourceMetricSpec(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		want  MetricSpec
		error string
	}{
		// KEDA's names (kubernetes_resource_scaler_test.go).
		{
			name: "configmap",
			cfg:  Config{Trigger: v1alpha1.ScaleTriggers{Metadata: base()}},
			want: MetricSpec{Name: "s0-configmap-my-config-threshold", Target: 10, Type: autoscalingv2.AverageValueMetricType},
		},
		{
			name: "secret, index 1",
			cfg:  Config{TriggerIndex: 1, Trigger: v1alpha1.ScaleTriggers{Metadata: base("resourceKind", "Secret", "resourceName", "my-secret", "key", "limit", "targetValue", "100")}},
			want: MetricSpec{Name: "s1-secret-my-secret-limit", Target: 100, Type: autoscalingv2.AverageValueMetricType, Sensitive: true},
		},
		{
			name: "index 2, underscore kept",
			cfg:  Config{TriggerIndex: 2, Trigger: v1alpha1.ScaleTriggers{Metadata: base("resourceName", "scaling-config", "key", "queue_length", "targetValue", "50")}},
			want: MetricSpec{Name: "s2-configmap-scaling-config-queue_length", Target: 50, Type: autoscalingv2.AverageValueMetricType},
		},
		{
			name: "dots normalised",
			cfg:  Config{Trigger: v1alpha1.ScaleTriggers{Metadata: base("resourceName", "a.b", "key", "x.y")}},
			want: MetricSpec{Name: "s0-configmap-a-b-x-y", Target: 10, Type: autoscalingv2.AverageValueMetricType},
		},
		{
			name: "trigger name, Value, activation, milli target",
			cfg:  Config{Trigger: v1alpha1.ScaleTriggers{Name: "queue", MetricType: autoscalingv2.ValueMetricType, Metadata: base("targetValue", "2.00049", "activationTargetValue", "3")}},
			want: MetricSpec{Name: "queue", Target: 2, ActivationTarget: 3, Type: autoscalingv2.ValueMetricType},
		},
		{
			name: "negative target as metric source",
			cfg:  Config{AsMetricSource: true, Trigger: v1alpha1.ScaleTriggers{Metadata: base("targetValue", "-1")}},
			want: MetricSpec{Name: "s0-configmap-my-config-threshold", Target: 0, Type: autoscalingv2.AverageValueMetricType},
		},
		{
			name:  "Utilization",
			cfg:   Config{Trigger: v1alpha1.ScaleTriggers{MetricType: autoscalingv2.UtilizationMetricType, Metadata: base()}},
			error: "invalid kubernetes-resource trigger metadata: metricType Utilization is only for cpu and memory triggers; use Value or AverageValue",
		},
		{
			name:  "Utilization and bad metadata",
			cfg:   Config{Trigger: v1alpha1.ScaleTriggers{MetricType: autoscalingv2.UtilizationMetricType, Metadata: base("key", "")}},
			error: "invalid kubernetes-resource trigger metadata: key is required; metricType Utilization is only for cpu and memory triggers; use Value or AverageValue",
		},
		{
			name:  "unknown metricType",
			cfg:   Config{Trigger: v1alpha1.ScaleTriggers{MetricType: "Average", Metadata: base()}},
			error: `invalid kubernetes-resource trigger metadata: metricType "Average" is not one of Value, AverageValue`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Trigger.Type = "kubernetes-resource"
			cfg.Namespace = "test"
			cfg.HubReader = newObjectReader()
			s, err := New(context.Background(), cfg)
			if tt.error != "" {
				if err == nil || err.Error() != tt.error {
					t.Fatalf("error\n got %v\nwant %s", err, tt.error)
				}
				if !errors.Is(err, ErrInvalidMetadata) {
					t.Errorf("error does not wrap ErrInvalidMetadata")
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if diff := cmp.Diff([]MetricSpec{tt.want}, s.MetricSpecs()); diff != "" {
				t.Errorf("MetricSpecs (-want +got):\n%s", diff)
			}
			if err := s.Close(context.Background()); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

func TestKubernetesResourceNeedsReaderAndNamespace(t *testing.T) {
	trigger := v1alpha1.ScaleTriggers{Type: "kubernetes-resource", Metadata: base()}
	if _, err := New(context.Background(), Config{Trigger: trigger, Namespace: "test"}); err == nil || !strings.Contains(err.Error(), "no hub reader") {
		t.Errorf("without reader: error %v, want one about the hub reader", err)
	}
	if _, err := New(context.Background(), Config{Trigger: trigger, HubReader: newObjectReader()}); err == nil || !strings.Contains(err.Error(), "no namespace") {
		t.Errorf("without namespace: error %v, want one about the namespace", err)
	}
}

// TestKubernetesResourceFollowsTheObject reads, changes the object, and reads again: nothing is
// cached in the scaler.
func TestKubernetesResourceFollowsTheObject(t *testing.T) {
	cm := configMap("my-config", map[string]string{"threshold": "1"})
	reader := newObjectReader(cm)
	s := newKubernetesResource(t, base(), reader)
	for _, step := range []struct {
		data string
		want float64
	}{{"1", 1}, {"20", 20}, {"0", 0}} {
		cm.Data["threshold"] = step.data
		values, _, err := s.GetMetricsAndActivity(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got := values[0].Value; got != step.want {
			t.Errorf("after setting %s read %v", step.data, got)
		}
	}
}
