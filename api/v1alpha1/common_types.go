package v1alpha1

import (
	"fmt"
	"regexp"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MemberClusterRef selects a registered member and its share.
type MemberClusterRef struct {
	// Name of a registered MemberCluster (a DNS-1123 label).
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`
	// Weight is the member's relative share; 0 marks a standby member that gets replicas only
	// while every weighted member is excluded.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=1
	// +optional
	Weight *int32 `json:"weight,omitempty"`
	// TargetNamespace is where the workload lives in the member (default: this object's namespace).
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	TargetNamespace string `json:"targetNamespace,omitempty"`
}

// GetWeight returns the weight, 1 when unset.
func (m MemberClusterRef) GetWeight() int32 {
	if m.Weight == nil {
		return DefaultMemberWeight
	}
	return *m.Weight
}

// TargetNamespaceOr returns the member's target namespace, or def when unset.
func (m MemberClusterRef) TargetNamespaceOr(def string) string {
	if m.TargetNamespace == "" {
		return def
	}
	return m.TargetNamespace
}

// GoDuration is a duration in Go syntax ("90s", "1m30s"). Go accepts numbers that overflow
// its 64-bit nanoseconds (99999999999h) and any order of units; the second rule keeps every
// value within about 260 years by bounding each unit once, in decreasing order (h ≤ 6 digits,
// m ≤ 7, s ≤ 9, ms ≤ 12, us ≤ 15, ns ≤ 18), so a valid object always parses.
// +kubebuilder:validation:Type=string
// +kubebuilder:validation:MaxLength=64
// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
// +kubebuilder:validation:XValidation:rule=`self.matches('^([0-9]{1,6}([.][0-9]+)?h)?([0-9]{1,7}([.][0-9]+)?m)?([0-9]{1,9}([.][0-9]+)?s)?([0-9]{1,12}([.][0-9]+)?ms)?([0-9]{1,15}([.][0-9]+)?(us|µs))?([0-9]{1,18}([.][0-9]+)?ns)?$')`,message="must be a duration of at most 999999h with its units in decreasing order (h, m, s, ms, us, ns), each at most once, e.g. 90s or 1m30s"
type GoDuration string

// goDurationBounded is the schema's second rule, so code rejects what the schema rejects even
// when an object predates it.
var goDurationBounded = regexp.MustCompile(`^([0-9]{1,6}([.][0-9]+)?h)?([0-9]{1,7}([.][0-9]+)?m)?([0-9]{1,9}([.][0-9]+)?s)?([0-9]{1,12}([.][0-9]+)?ms)?([0-9]{1,15}([.][0-9]+)?(us|µs))?([0-9]{1,18}([.][0-9]+)?ns)?$`)

// Parse returns the duration, def when d is empty, and an error for anything the schema
// rejects or time.ParseDuration cannot read (never a silent default).
func (d GoDuration) Parse(def time.Duration) (time.Duration, error) {
	if d == "" {
		return def, nil
	}
	if len(d) > 64 || !goDurationBounded.MatchString(string(d)) {
		return 0, fmt.Errorf("duration %q must be at most 999999h with its units in decreasing order (h, m, s, ms, us, ns), each at most once, e.g. 90s or 1m30s", string(d))
	}
	out, err := time.ParseDuration(string(d))
	if err != nil || out < 0 {
		return 0, fmt.Errorf("duration %q is not a Go duration such as 90s or 1m30s", string(d))
	}
	return out, nil
}

// Duration parses d, returning def when d is empty or invalid. Call it only on values
// Parse accepted (the controllers check every duration first and report a bad one).
func (d GoDuration) Duration(def metav1.Duration) metav1.Duration {
	out, err := d.Parse(def.Duration)
	if err != nil {
		return def
	}
	return metav1.Duration{Duration: out}
}

// Condition types and reasons shared by DSO and DSJ.
const (
	ConditionReady  = "Ready"
	ConditionActive = "Active"
	ConditionPaused = "Paused"
)

// Annotations that pause scaling, as KEDA names them.
const (
	AnnotationPaused         = "autoscaling.keda.sh/paused"
	AnnotationPausedReplicas = "autoscaling.keda.sh/paused-replicas"
	AnnotationPausedScaleIn  = "autoscaling.keda.sh/paused-scale-in"
	AnnotationPausedScaleOut = "autoscaling.keda.sh/paused-scale-out"
)

// MemberState values shown per member.
const (
	MemberStateReady    = "Ready"
	MemberStateNotReady = "NotReady"
)

// TriggerMetricStatus is the last value read from one trigger.
type TriggerMetricStatus struct {
	// Value is the metric value as a decimal string.
	// +optional
	Value string `json:"value,omitempty"`
	// Target is the trigger's target value.
	// +optional
	Target string `json:"target,omitempty"`
	// Active is whether the value is above the activation target.
	// +optional
	Active bool `json:"active,omitempty"`
	// Error is the last error reading the trigger, empty when it worked.
	// +optional
	Error string `json:"error,omitempty"`
	// ConsecutiveFailures counts errors in a row, for fallback.
	// +optional
	ConsecutiveFailures int32 `json:"consecutiveFailures,omitempty"`
	// +optional
	LastUpdateTime *metav1.Time `json:"lastUpdateTime,omitempty"`
	// State is Active, Inactive or Error (the reference's field).
	// +optional
	State string `json:"state,omitempty"`
	// Info says more about the state: the error, or why the trigger is inactive.
	// +optional
	Info string `json:"info,omitempty"`
	// LastChangeTime is when State last changed.
	// +optional
	LastChangeTime *metav1.Time `json:"lastChangeTime,omitempty"`
}

// Trigger states in TriggerMetricStatus.State.
const (
	TriggerStateActive   = "Active"
	TriggerStateInactive = "Inactive"
	TriggerStateError    = "Error"
)

// ProviderKubeconfig is the provider of a member registered with a kubeconfig Secret (the
// only kind there is), shown per member as the reference does.
const ProviderKubeconfig = "kubeconfig"
