package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
		return 1
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

// GoDuration is a duration in Go syntax ("90s", "1m30s").
// +kubebuilder:validation:Type=string
// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
type GoDuration string

// Duration parses d, returning def when d is empty or invalid (the schema rejects invalid values).
func (d GoDuration) Duration(def metav1.Duration) metav1.Duration {
	if d == "" {
		return def
	}
	var out metav1.Duration
	if err := out.UnmarshalJSON([]byte(`"` + string(d) + `"`)); err != nil {
		return def
	}
	return out
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
