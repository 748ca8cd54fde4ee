package scalers

import (
	"context"
	"crypto/tls"
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
	// ErrNotAllowed is wrapped (through *NotAllowedError) when the hub's Policy refuses what a
	// trigger asks for (an external address, a ClusterTriggerAuthentication). Like
	// ErrInvalidMetadata it is a spec problem: nothing is read until the spec or policy changes.
	ErrNotAllowed = errors.New("not allowed by the hub's policy")
)

// NotAllowedError says what the Policy refused and why.
type NotAllowedError struct {
	What string
	Err  error
}

func (e *NotAllowedError) Error() string {
	return fmt.Sprintf("%s is not allowed by the hub's policy: %v", e.What, e.Err)
}

// Is makes errors.Is(err, ErrNotAllowed) true.
func (e *NotAllowedError) Is(target error) bool { return target == ErrNotAllowed }

// IsSpecError reports whether err means the spec (or the admin policy) must change rather
// than that a read failed: such errors are reported as InvalidSpec and not retried faster.
func IsSpecError(err error) bool {
	return errors.Is(err, ErrUnsupportedTrigger) || errors.Is(err, ErrInvalidMetadata) || errors.Is(err, ErrNotAllowed)
}

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
	// Sensitive is true when the value is read from a Secret: it drives scaling but is never
	// shown (status shows SensitiveValue) nor exported as a metric.
	Sensitive bool
}

// SensitiveValue stands for a value read from a Secret wherever a value would be shown.
const SensitiveValue = "<secret>"

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
	// ObjectKind is DistributedScaledObject or DistributedScaledJob (sent to the adapter).
	ObjectKind string
	// Auth is the trigger's resolved authentication and environment (internal/triggerauth).
	Auth Auth
	// OnPush, when set, is called when a push trigger (external-push) reports a change, so the
	// object is evaluated at once.
	OnPush func()
	Options
}

// Auth is what KEDA's ScalerConfig carries from the resolver: AuthParams, ResolvedEnv (only
// the variables the trigger's …FromEnv keys name) and the pod identity provider.
type Auth struct {
	Params map[string]string
	Env    map[string]string
	// PodIdentity is the TriggerAuthentication's podIdentity provider; empty or "none": none.
	PodIdentity string
}

// podIdentity reports the provider when one other than none is set.
func (a Auth) podIdentity() (string, bool) {
	return a.PodIdentity, a.PodIdentity != "" && a.PodIdentity != "none"
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
	// ExternalScalerTLS, when set, is the client TLS (mTLS) config for ExternalScalerAddress;
	// nil dials it in plaintext, which Validate allows only on a loopback address.
	ExternalScalerTLS *tls.Config
	// Policy is the hub admin's say over ClusterTriggerAuthentications and external addresses;
	// nil allows everything.
	Policy Policy
	// ReadBudget bounds how long one evaluation waits for all of its object's trigger reads
	// together (default DefaultReadBudget); a read still running then goes on off the worker.
	ReadBudget time.Duration
	// MaxReadTime bounds one trigger read (building the scaler included) and caps the timeout
	// metadata of HTTP triggers; zero means DefaultMaxReadTime.
	MaxReadTime time.Duration
	// HubVersions, when set, answers PartialObjectMetadata Gets of hub ConfigMaps and Secrets
	// from the manager's metadata-only informers: a referenced object still at the version
	// last read is not read again (versionedReader). Nil reads every time.
	HubVersions client.Reader
}

// DefaultMaxReadTime bounds a trigger read when Options.MaxReadTime is zero.
const DefaultMaxReadTime = 10 * time.Second

func (o Options) readBudget() time.Duration {
	if o.ReadBudget > 0 {
		return o.ReadBudget
	}
	return DefaultReadBudget
}

func (o Options) maxReadTime() time.Duration {
	if o.MaxReadTime > 0 {
		return o.MaxReadTime
	}
	return DefaultMaxReadTime
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
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
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
	externalPushType:       {build: newExternalPushScaler},
	prometheusType:         {build: newPrometheusScaler},
	metricsAPIType:         {build: newMetricsAPIScaler},
	kubernetesWorkloadType: {build: newKubernetesWorkloadScaler},
}

// refused are KEDA trigger types the hub knows it cannot evaluate, with the reason; they are
// not sent to the adapter either, where they would fail the same way.
var refused = map[string]string{
	"cpu": "cpu and memory triggers need the resource usage of the target's pods in every member (metrics.k8s.io), " +
		"which fleetscale does not read yet; scale on a prometheus or kubernetes-workload trigger instead",
	"memory": "cpu and memory triggers need the resource usage of the target's pods in every member (metrics.k8s.io), " +
		"which fleetscale does not read yet; scale on a prometheus or kubernetes-workload trigger instead",
}

// Supported returns the trigger types New implements, sorted.
func Supported() []string {
	return slices.Sorted(maps.Keys(builtins))
}

// New builds the scaler for cfg.Trigger. A trigger type with no built-in scaler gives an error
// wrapping ErrUnsupportedTrigger; wrong metadata gives an error wrapping ErrInvalidMetadata.
func New(ctx context.Context, cfg Config) (Scaler, error) {
	if why, ok := refused[cfg.Trigger.Type]; ok {
		return nil, fmt.Errorf("%w %q: %s", ErrUnsupportedTrigger, cfg.Trigger.Type, why)
	}
	b, ok := builtins[cfg.Trigger.Type]
	if !ok && cfg.ExternalScalerAddress != "" {
		return newAdapterScaler(ctx, cfg)
	}
	if !ok {
		return nil, fmt.Errorf("%w %q: the hub implements %s, and no KEDA scalers adapter is configured for the other KEDA types (--external-scaler-address)",
			ErrUnsupportedTrigger, cfg.Trigger.Type, strings.Join(Supported(), ", "))
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

// Kinds of authentication object a trigger may reference (KEDA's API group keda.sh).
const (
	KindTriggerAuthentication        = "TriggerAuthentication"
	KindClusterTriggerAuthentication = "ClusterTriggerAuthentication"
)

// References returns every hub object a trigger reads directly: the object of a
// kubernetes-resource trigger and its authenticationRef (a ClusterTriggerAuthentication has
// no namespace). Like Reference it is lenient with wrong metadata.
func References(trigger v1alpha1.ScaleTriggers, namespace string) []ObjectRef {
	var refs []ObjectRef
	if ref, ok := Reference(trigger, namespace); ok {
		refs = append(refs, ref)
	}
	if a := trigger.AuthenticationRef; a != nil && a.Name != "" {
		switch a.Kind {
		case "", KindTriggerAuthentication:
			refs = append(refs, ObjectRef{Kind: KindTriggerAuthentication, Namespace: namespace, Name: a.Name})
		case KindClusterTriggerAuthentication:
			refs = append(refs, ObjectRef{Kind: KindClusterTriggerAuthentication, Name: a.Name})
		}
	}
	return refs
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

// metricTypeProblem is metricTargetType's problem for the trigger, empty when none.
func metricTypeProblem(cfg Config) string {
	_, problem := metricTargetType(cfg.Trigger.MetricType)
	return problem
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
