package adapter

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"github.com/kedacore/keda/v2/pkg/scalers/scalersconfig"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

// The keys the hub adds to a trigger's metadata (docs/adapter.md, "What a request becomes"). None of them reaches
// KEDA's scaler: they become the fields of its ScalerConfig.
const (
	keyPrefix         = "fleetscale.dev/"
	keyTriggerType    = keyPrefix + "trigger-type"
	keyTriggerName    = keyPrefix + "trigger-name"
	keyTriggerIndex   = keyPrefix + "trigger-index"
	keyMetricType     = keyPrefix + "metric-type"
	keyAsMetricSource = keyPrefix + "as-metric-source"
	keyObjectKind     = keyPrefix + "object-kind"
	keyPodIdentity    = keyPrefix + "pod-identity"
	keyAuthPrefix     = keyPrefix + "auth."
	keyEnvPrefix      = keyPrefix + "env."
)

// The kinds of hub object a trigger belongs to.
const (
	KindDSO = "DistributedScaledObject"
	KindDSJ = "DistributedScaledJob"
)

// maxTriggerIndex bounds fleetscale.dev/trigger-index; KEDA objects have a handful of triggers.
const maxTriggerIndex = 1 << 16

// trigger is one request's trigger: what the hub sent, split into KEDA's ScalerConfig fields.
type trigger struct {
	Type     string
	Name     string
	Index    int
	HasIndex bool
	// Kind is KindDSO unless the hub said otherwise; KindKnown is whether it said.
	Kind      string
	KindKnown bool
	Namespace string
	Object    string
	// Metadata is the trigger's metadata without the fleetscale.dev/ keys.
	Metadata       map[string]string
	Auth           map[string]string
	Env            map[string]string
	PodIdentity    string
	MetricType     autoscalingv2.MetricTargetType
	AsMetricSource bool
}

// invalidRequestError is a request the hub should not have sent (unknown type, malformed
// fleetscale.dev/ key): it becomes codes.InvalidArgument.
type invalidRequestError struct{ msg string }

func (e *invalidRequestError) Error() string { return e.msg }

func invalidf(format string, args ...any) error {
	return &invalidRequestError{msg: fmt.Sprintf(format, args...)}
}

// parseRef splits a ScaledObjectRef into a trigger. Only the type is required, so a hub that
// sends just metadata and fleetscale.dev/trigger-type is served too.
func parseRef(ref *externalscaler.ScaledObjectRef) (*trigger, error) {
	md := ref.GetScalerMetadata()
	t := &trigger{
		Namespace: ref.GetNamespace(),
		Object:    ref.GetName(),
		Kind:      KindDSO,
		Metadata:  map[string]string{},
		Auth:      map[string]string{},
		Env:       map[string]string{},
	}
	for k, v := range md {
		switch {
		case !strings.HasPrefix(k, keyPrefix):
			t.Metadata[k] = v
		case k == keyTriggerType:
			t.Type = v
		case k == keyTriggerName:
			t.Name = v
		case k == keyTriggerIndex:
			i, err := strconv.Atoi(v)
			if err != nil || i < 0 || i > maxTriggerIndex {
				return nil, invalidf("%s %q is not a trigger index", keyTriggerIndex, v)
			}
			t.Index, t.HasIndex = i, true
		case k == keyMetricType:
			switch mt := autoscalingv2.MetricTargetType(v); mt {
			case "", autoscalingv2.AverageValueMetricType, autoscalingv2.ValueMetricType:
				t.MetricType = mt
			default:
				return nil, invalidf("%s %q is not one of AverageValue, Value", keyMetricType, v)
			}
		case k == keyAsMetricSource:
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, invalidf("%s %q is not a boolean", keyAsMetricSource, v)
			}
			t.AsMetricSource = b
		case k == keyObjectKind:
			if v != KindDSO && v != KindDSJ {
				return nil, invalidf("%s %q is not one of %s, %s", keyObjectKind, v, KindDSO, KindDSJ)
			}
			t.Kind, t.KindKnown = v, true
		case k == keyPodIdentity:
			t.PodIdentity = v
		case strings.HasPrefix(k, keyAuthPrefix):
			t.Auth[strings.TrimPrefix(k, keyAuthPrefix)] = v
		case strings.HasPrefix(k, keyEnvPrefix):
			t.Env[strings.TrimPrefix(k, keyEnvPrefix)] = v
		default:
			// A key of a newer hub: ignored, as KEDA ignores metadata keys it does not know.
		}
	}
	if t.Type == "" {
		return nil, invalidf("metadata %s is missing: the hub names the KEDA trigger type there", keyTriggerType)
	}
	if _, ok := constructors[t.Type]; !ok {
		if why, excluded := Excluded[t.Type]; excluded {
			return nil, invalidf("unknown trigger type %q: fleetscale-keda-scalers does not serve it (%s)", t.Type, why)
		}
		return nil, invalidf("unknown trigger type %q", t.Type)
	}
	return t, nil
}

// label names the trigger in error messages: `<type> trigger "<name or index>"`.
func (t *trigger) label() string {
	switch {
	case t.Name != "":
		return fmt.Sprintf("%s trigger %q", t.Type, t.Name)
	case t.HasIndex:
		return fmt.Sprintf("%s trigger \"%d\"", t.Type, t.Index)
	default:
		return fmt.Sprintf("%s trigger of %s/%s", t.Type, t.Namespace, t.Object)
	}
}

// hash identifies everything that goes into the scaler's config: a change of any of it (a
// metadata edit, a rotated password) means a new scaler. It is kept in memory only.
func (t *trigger) hash() string {
	h := sha256.New()
	field := func(s string) { fmt.Fprintf(h, "%d:%s;", len(s), s) }
	for _, s := range []string{t.Type, t.Name, strconv.Itoa(t.Index), strconv.FormatBool(t.HasIndex), t.Kind,
		t.Namespace, t.Object, t.PodIdentity, string(t.MetricType), strconv.FormatBool(t.AsMetricSource)} {
		field(s)
	}
	for _, m := range []map[string]string{t.Metadata, t.Auth, t.Env} {
		field(strconv.Itoa(len(m)))
		for _, k := range slices.Sorted(maps.Keys(m)) {
			field(k)
			field(m[k])
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// key is what one cached scaler belongs to, as KEDA's scale handler keys its cache by
// ScaledObject and trigger index. A hub that does not send the index gets one scaler per
// distinct trigger config instead.
type key struct {
	Namespace, Object, Kind string
	// Index is the trigger index, or "config:<hash>" when the hub did not send it.
	Index string
}

func (t *trigger) key() key {
	k := key{Namespace: t.Namespace, Object: t.Object, Kind: t.Kind}
	if t.HasIndex {
		k.Index = strconv.Itoa(t.Index)
	} else {
		k.Index = "config:" + t.hash()
	}
	return k
}

// String is the key in logs; it holds no metadata value (a config hash is cut short).
func (k key) String() string {
	return fmt.Sprintf("%s %s/%s trigger %s", k.Kind, k.Namespace, k.Object, k.Index[:min(len(k.Index), len("config:")+12)])
}

// kedaKind is the ScalableObjectType KEDA's scalers expect ("ScaledObject" or "ScaledJob",
// KEDA's WithTriggers.InternalKind).
func (t *trigger) kedaKind() string {
	if t.Kind == KindDSJ {
		return "ScaledJob"
	}
	return "ScaledObject"
}

// scalerConfig builds KEDA's ScalerConfig the way KEDA's buildScalers does
// (pkg/scaling/scalers_builder.go), from what the hub resolved.
func (t *trigger) scalerConfig(httpTimeout time.Duration) *scalersconfig.ScalerConfig {
	cfg := &scalersconfig.ScalerConfig{
		ScalableObjectName:      t.Object,
		ScalableObjectNamespace: t.Namespace,
		ScalableObjectType:      t.kedaKind(),
		TriggerName:             t.Name,
		TriggerMetadata:         maps.Clone(t.Metadata),
		TriggerType:             t.Type,
		ResolvedEnv:             maps.Clone(t.Env),
		AuthParams:              maps.Clone(t.Auth),
		GlobalHTTPTimeout:       httpTimeout,
		TriggerIndex:            t.Index,
		MetricType:              t.MetricType,
		AsMetricSource:          t.AsMetricSource,
		TriggerUniqueKey:        fmt.Sprintf("%s-%s-%s-%s", t.Kind, t.Namespace, t.Object, t.key().Index),
	}
	if t.PodIdentity != "" {
		cfg.PodIdentity = kedav1alpha1.AuthPodIdentity{Provider: kedav1alpha1.PodIdentityProvider(t.PodIdentity)}
	}
	return cfg
}

// redact replaces every auth and env value in msg with [redacted] (also their URL-escaped
// forms, which connection errors quote), longest first so no fragment of a longer one is left.
func (t *trigger) redact(msg string) string {
	var secrets []string
	for _, m := range []map[string]string{t.Auth, t.Env} {
		for _, v := range m {
			if v == "" {
				continue
			}
			secrets = append(secrets, v, url.QueryEscape(v), url.PathEscape(v), url.UserPassword("", v).String()[1:])
		}
	}
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return msg
}
