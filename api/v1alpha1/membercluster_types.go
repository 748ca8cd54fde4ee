package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// MemberClusterSpec is a member's registration, written by `kubectl fleetscale mc setup-member`.
type MemberClusterSpec struct {
	// APIURL is the member's API server URL as the hub reaches it.
	// +kubebuilder:validation:Pattern=`^https?://`
	APIURL string `json:"apiURL"`
	// KubeconfigSecretRef names the Secret, in this object's namespace, holding a kubeconfig
	// for the member's fleetscale ServiceAccount.
	KubeconfigSecretRef SecretKeyRef `json:"kubeconfigSecretRef"`
	// ServiceAccount is the member-side identity, namespace/name, for display and cleanup.
	// +optional
	ServiceAccount string `json:"serviceAccount,omitempty"`
	// TargetNamespaces limits the member credentials to these namespaces (empty: cluster-wide).
	// +optional
	TargetNamespaces []string `json:"targetNamespaces,omitempty"`
}

// SecretKeyRef points to a key of a Secret in the same namespace.
type SecretKeyRef struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// +kubebuilder:default=kubeconfig
	// +optional
	Key string `json:"key,omitempty"`
}

// MemberClusterStatus reasons for the Ready condition.
const (
	MemberReasonReady        = "Ready"
	MemberReasonUnreachable  = "Unreachable"
	MemberReasonUnauthorized = "Unauthorized"
	MemberReasonForbidden    = "Forbidden"
	MemberReasonInvalid      = "InvalidCredentials"
)

// MemberClusterStatus is what the hub's health probe saw.
type MemberClusterStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready (reason Ready, Unreachable, Unauthorized, Forbidden, InvalidCredentials).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// State is Ready or NotReady.
	// +optional
	State string `json:"state,omitempty"`
	// LastProbeTime is the time of the probe that last changed this status (state, condition,
	// version or token expiry). Probes that find nothing new write nothing, so it does not move
	// while the member stays the same; the probes themselves are counted in the controller's
	// metrics.
	// +optional
	LastProbeTime *metav1.Time `json:"lastProbeTime,omitempty"`
	// ProbeLatency is the round trip of the probe at LastProbeTime, e.g. "3ms"; every probe's
	// latency is in the controller's metrics.
	// +optional
	ProbeLatency string `json:"probeLatency,omitempty"`
	// KubernetesVersion is the member's server version.
	// +optional
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	// TokenExpirationTime is when the stored token expires, when it does.
	// +optional
	TokenExpirationTime *metav1.Time `json:"tokenExpirationTime,omitempty"`
}

// MemberCluster registers a member cluster with the hub.
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=mc;member,categories=keda
// +kubebuilder:subresource:status
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && size(self.metadata.name) <= 63",message="metadata.name must be a DNS-1123 label"
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="API URL",type=string,JSONPath=`.spec.apiURL`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.kubernetesVersion`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Latency",type=string,JSONPath=`.status.probeLatency`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type MemberCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   MemberClusterSpec   `json:"spec"`
	Status MemberClusterStatus `json:"status,omitempty"`
}

// MemberClusterList is a list of MemberCluster.
// +kubebuilder:object:root=true
type MemberClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []MemberCluster `json:"items"`
}

func init() {
	SchemeBuilder.Register(&MemberCluster{}, &MemberClusterList{})
}
