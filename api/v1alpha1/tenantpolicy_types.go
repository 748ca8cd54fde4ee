package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// TenantPolicySpec says what DSOs and DSJs in the hub namespaces it selects may do beyond the
// defaults. Without any TenantPolicy an object in hub namespace X acts only on member
// namespace X, may use no ClusterTriggerAuthentication, its `external` triggers may dial any
// address, and a DSJ's pod template is held to the Pod Security "baseline" level.
//
// Several policies selecting the same namespace combine as the union of what they allow: a
// target namespace or ClusterTriggerAuthentication allowed by any of them is allowed; the
// most permissive podSecurity level set by any of them applies; an external address is
// allowed when any policy that restricts external addresses allows it. A field left unset
// says nothing: it neither allows nor restricts.
// +kubebuilder:validation:XValidation:rule="has(self.namespaces) || has(self.namespaceSelector)",message="select hub namespaces with namespaces, namespaceSelector or both"
type TenantPolicySpec struct {
	// Namespaces names hub namespaces this policy applies to.
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	Namespaces []string `json:"namespaces,omitempty"`
	// NamespaceSelector selects hub namespaces by their labels; {} selects every namespace.
	// A namespace is selected when it is named in namespaces or matches this selector.
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || self.matchExpressions.all(e, e.operator in ['In', 'NotIn'] ? (has(e.values) && size(e.values) > 0) : (e.operator in ['Exists', 'DoesNotExist'] && (!has(e.values) || size(e.values) == 0)))",message="matchExpressions: operator In or NotIn needs values, Exists or DoesNotExist takes none"
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	// TargetNamespaces are member namespaces the objects may act on besides their own: a
	// namespace name, a prefix ending in "*" ("team-a-*"), or "*" for every namespace.
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:Pattern=`^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?|[a-z0-9][-a-z0-9]*\*)$`
	// +optional
	TargetNamespaces []string `json:"targetNamespaces,omitempty"`
	// ClusterTriggerAuthentications the objects' triggers may reference, by name, or "*" for all.
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:Pattern=`^(\*|[a-z0-9]([-a-z0-9.]*[a-z0-9])?)$`
	// +optional
	ClusterTriggerAuthentications []string `json:"clusterTriggerAuthentications,omitempty"`
	// ExternalAddresses restricts the addresses `external` triggers may dial. Unset: this
	// policy does not restrict them.
	// +optional
	ExternalAddresses *ExternalAddresses `json:"externalAddresses,omitempty"`
	// PodSecurity is the Pod Security Standards level a DSJ's Job pod template must meet.
	// Unset: this policy says nothing (baseline applies when no policy sets it).
	// +optional
	PodSecurity *PodSecurity `json:"podSecurity,omitempty"`
}

// ExternalAddresses is a list of addresses `external` triggers may dial.
type ExternalAddresses struct {
	// Allow lists the allowed addresses; an empty list allows none.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	Allow []AddressRule `json:"allow"`
}

// AddressRule matches a trigger's host:port address by host name or by network.
// +kubebuilder:validation:XValidation:rule="has(self.host) != has(self.cidr)",message="set exactly one of host and cidr"
// +kubebuilder:validation:XValidation:rule="!has(self.cidr) || isCIDR(self.cidr)",message="cidr must be a network in CIDR notation, e.g. 10.0.0.0/8"
type AddressRule struct {
	// Host is a DNS name ("scaler.team-a.svc"), a wildcard matching every name below a domain
	// ("*.team-a.svc"), or an IP address; compared case-insensitively.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^(\*\.)?[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$|^[0-9A-Fa-f:.]+$`
	// +optional
	Host string `json:"host,omitempty"`
	// CIDR matches addresses written as an IP inside this network. Names are not resolved, so
	// a name never matches a CIDR rule.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	CIDR string `json:"cidr,omitempty"`
	// Ports allowed with it; empty: any port.
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:Minimum=1
	// +kubebuilder:validation:items:Maximum=65535
	// +optional
	Ports []int32 `json:"ports,omitempty"`
}

// Pod Security Standards levels, as Kubernetes names them.
const (
	PodSecurityPrivileged = "privileged"
	PodSecurityBaseline   = "baseline"
	PodSecurityRestricted = "restricted"
)

// PodSecurity is a Pod Security Standards level.
type PodSecurity struct {
	// Level is privileged (anything goes), baseline (no privileged containers, host
	// namespaces, hostPath volumes, host ports, added capabilities, ...) or restricted
	// (baseline plus non-root, no privilege escalation, a seccomp profile, ...), checked with
	// the Kubernetes Pod Security admission's own evaluator at its latest version.
	// +kubebuilder:validation:Enum=privileged;baseline;restricted
	Level string `json:"level"`
}

// TenantPolicy is a hub admin's say over what DistributedScaledObjects and
// DistributedScaledJobs in some hub namespaces may do. It is cluster-scoped and meant for hub
// admins only: tenants get no RBAC on it.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=tp
// +kubebuilder:printcolumn:name="Namespaces",type=string,JSONPath=`.spec.namespaces`
// +kubebuilder:printcolumn:name="Targets",type=string,JSONPath=`.spec.targetNamespaces`
// +kubebuilder:printcolumn:name="PodSecurity",type=string,JSONPath=`.spec.podSecurity.level`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type TenantPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec TenantPolicySpec `json:"spec"`
}

// TenantPolicyList is a list of TenantPolicy.
// +kubebuilder:object:root=true
type TenantPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TenantPolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(&TenantPolicy{}, &TenantPolicyList{})
}
