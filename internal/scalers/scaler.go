package scalers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

var (
	// ErrUnsupportedTrigger is wrapped by New when no built-in scaler implements the trigger's type.
	ErrUnsupportedTrigger = errors.New("unsupported trigger type")
	// ErrInvalidMetadata is wrapped (through *MetadataError) by New when the trigger's metadata
	// or metricType is wrong. Like ErrUnsupportedTrigger it means the spec must change.
	ErrInvalidMetadata = errors.New("invalid trigger metadata")
)

// MetricSpec is what a trigger asks for: the metric's name and target. It is the part of
// KEDA's external MetricSpec that the replica math uses.
type MetricSpec struct {
	// Name is the trigger's name when set, else KEDA's external metric name
	// (s{triggerIndex}-{scaler-specific}, e.g. s0-configmap-mock-metric-metric-value).
	Name string
	// Target is the target value (targetValue for kubernetes-resource, 1 for cron), rounded to
	// thousandths as KEDA's milli-quantities round it.
	Target float64
	// ActivationTarget is the threshold the value must exceed for the trigger to be active
	// (informational: GetMetricsAndActivity already applies it).
	ActivationTarget float64
	// Type is AverageValue or Value (trigger.metricType, default AverageValue).
	Type autoscalingv2.MetricTargetType
}

// MetricValue is one value read for the metric of the same name.
type MetricValue struct {
	Name  string
	Value float64
}

// Scaler is one trigger, built by New.
type Scaler interface {
	// MetricSpecs returns the metrics this trigger provides; it does not change after New.
	MetricSpecs() []MetricSpec
	// GetMetricsAndActivity reads the current values and whether the trigger is active.
	GetMetricsAndActivity(ctx context.Context) ([]MetricValue, bool, error)
	// Close releases what the scaler holds (connections); the scaler is unusable afterwards.
	Close(ctx context.Context) error
}

// Timed is implemented by scalers whose value changes with the clock rather than with an object
// the controller watches (cron). NextChange returns when the value may change next, so the
// caller can requeue for that moment instead of polling; the zero time means never.
type Timed interface {
	NextChange(now time.Time) time.Time
}

// Config is what New needs to build a scaler for one trigger.
type Config struct {
	// Trigger is the trigger as written in the DSO or DSJ.
	Trigger v1alpha1.ScaleTriggers
	// TriggerIndex is the trigger's position in the triggers list; it is part of KEDA's metric
	// name.
	TriggerIndex int
	// Namespace is the namespace of the DSO or DSJ in the hub; objects a trigger reads are
	// read from it, as KEDA reads them from the ScaledObject's namespace.
	Namespace string
	// HubReader reads hub objects (ConfigMaps, Secrets). Pass the manager's cache-backed
	// client so reads are cheap and the cache's watches can drive evaluation.
	HubReader client.Reader
	// AsMetricSource is true when the object uses scalingModifiers: KEDA then ignores each
	// trigger's own target, so targetValue may be 0 or negative (it must still be present).
	AsMetricSource bool
	// Now returns the current time (time-based triggers); nil means time.Now.
	Now func() time.Time
	// ObjectName is the DSO's or DSJ's name (external scalers receive it, as KEDA sends the
	// ScaledObject's name).
	ObjectName string
	Options
}

// Options are what every trigger of one controller shares.
type Options struct {
	// ExternalScalerAddress, when set, is where trigger types without a built-in scaler go:
	// an adapter speaking KEDA's external-scaler protocol (fleetscale-keda-scalers), told the
	// type in metadata TriggerTypeMetadataKey.
	ExternalScalerAddress string
	// Connections caches gRPC connections to external scalers across evaluations; nil dials
	// per scaler and closes on Close.
	Connections *Connections
}

// Kinds of hub object a trigger may read.
const (
	KindConfigMap = "ConfigMap"
	KindSecret    = "Secret"
)

// ObjectRef names a hub object a trigger reads.
type ObjectRef struct {
	Kind      string // KindConfigMap or KindSecret
	Namespace string
	Name      string
}

// String returns e.g. "ConfigMap default/mock-metric", the way errors name the object.
func (r ObjectRef) String() string {
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// builtin is one trigger type implemented in this package.
type builtin struct {
	build func(ctx context.Context, cfg Config) (Scaler, error)
	// reference, when set, says which hub object a trigger of this type reads.
	reference func(metadata map[string]string, namespace string) (ObjectRef, bool)
}

// builtins maps a KEDA trigger type to its implementation. Adding a type (prometheus,
// metrics-api, external, ...) is one entry here and one file.
var builtins = map[string]builtin{
	kubernetesResourceType: {build: newKubernetesResourceScaler, reference: kubernetesResourceReference},
	cronType:               {build: newCronScaler},
	externalType:           {build: newExternalScaler},
}

// Supported returns the trigger types New implements, sorted.
func Supported() []string {
	return slices.Sorted(maps.Keys(builtins))
}

// New builds the scaler for cfg.Trigger. A trigger type with no built-in scaler gives an error
// wrapping ErrUnsupportedTrigger; wrong metadata gives an error wrapping ErrInvalidMetadata.
func New(ctx context.Context, cfg Config) (Scaler, error) {
	b, ok := builtins[cfg.Trigger.Type]
	if !ok && cfg.ExternalScalerAddress != "" {
		return newAdapterScaler(ctx, cfg)
	}
	if !ok {
		return nil, fmt.Errorf("%w %q (built-in types: %s)", ErrUnsupportedTrigger, cfg.Trigger.Type, strings.Join(Supported(), ", "))
	}
	return b.build(ctx, cfg)
}

// Reference returns the hub object a trigger reads, if it reads one, so a controller can map
// ConfigMap and Secret events to the objects whose triggers read them. It is lenient: a trigger
// whose metadata is otherwise wrong still reports the object it names.
func Reference(trigger v1alpha1.ScaleTriggers, namespace string) (ObjectRef, bool) {
	b, ok := builtins[trigger.Type]
	if !ok || b.reference == nil {
		return ObjectRef{}, false
	}
	return b.reference(trigger.Metadata, namespace)
}

// MetadataError lists everything wrong with one trigger's metadata, so a user fixes it in one go.
type MetadataError struct {
	TriggerType string
	Problems    []string
}

func (e *MetadataError) Error() string {
	return fmt.Sprintf("invalid %s trigger metadata: %s", e.TriggerType, strings.Join(e.Problems, "; "))
}

// Is makes errors.Is(err, ErrInvalidMetadata) true.
func (e *MetadataError) Is(target error) bool { return target == ErrInvalidMetadata }

// metricTargetType applies KEDA's rule: empty means AverageValue, Utilization is refused
// (it exists only for cpu/memory).
func metricTargetType(t autoscalingv2.MetricTargetType) (autoscalingv2.MetricTargetType, string) {
	switch t {
	case "":
		return autoscalingv2.AverageValueMetricType, ""
	case autoscalingv2.AverageValueMetricType, autoscalingv2.ValueMetricType:
		return t, ""
	case autoscalingv2.UtilizationMetricType:
		return "", "metricType Utilization is only for cpu and memory triggers; use Value or AverageValue"
	default:
		return "", fmt.Sprintf("metricType %q is not one of Value, AverageValue", t)
	}
}

// metricName is the trigger's name when set, else KEDA's external metric name.
func metricName(cfg Config, kedaSuffix string) string {
	if cfg.Trigger.Name != "" {
		return cfg.Trigger.Name
	}
	return fmt.Sprintf("s%d-%s", cfg.TriggerIndex, normalizeString(kedaSuffix))
}

// normalizeString makes a string usable in a metric name, replacing the characters KEDA
// replaces (util.NormalizeString) with dashes.
func normalizeString(s string) string {
	return strings.NewReplacer("/", "-", ".", "-", ":", "-", "%", "-", "(", "-", ")", "-").Replace(s)
}

// asMilli is the value KEDA hands to the HPA: a milli-quantity formatted with three decimals,
// where NaN, infinities and negative values become 0.
func asMilli(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0
	}
	r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'f', 3, 64), 64)
	if err != nil {
		return 0
	}
	return r
}
