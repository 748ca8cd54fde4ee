package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DistributedScaledJobSpec embeds a KEDA ScaledJob spec and says where its Jobs run.
type DistributedScaledJobSpec struct {
	// MemberClusters is the whitelist of members with weights; empty means every registered member.
	// +listType=map
	// +listMapKey=name
	// +optional
	MemberClusters []JobMemberClusterRef `json:"memberClusters,omitempty"`
	// ClusterScheduling says how Jobs are placed and when they move.
	// +optional
	ClusterScheduling *ClusterScheduling `json:"clusterScheduling,omitempty"`
	// ScaledJobSpec is KEDA's ScaledJob spec, evaluated over Jobs in all members.
	ScaledJobSpec ScaledJobSpec `json:"scaledJobSpec"`
	// DesiredJobs is the number of running Jobs the controller last aimed for (the /scale spec).
	// +kubebuilder:validation:Minimum=0
	// +optional
	DesiredJobs *int32 `json:"desiredJobs,omitempty"`
}

// JobMemberClusterRef is a member of a DSJ with optional pod overrides.
type JobMemberClusterRef struct {
	MemberClusterRef `json:",inline"`
	// PodOverrides adjust the Job's pod template in this member.
	// +optional
	PodOverrides *PodOverrides `json:"podOverrides,omitempty"`
}

// PodOverrides are merged into the pod template of Jobs created in one member.
type PodOverrides struct {
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ClusterScheduling is how Jobs are spread and failed over.
type ClusterScheduling struct {
	// +kubebuilder:validation:Enum=weightedRoundRobin;priorityFailover
	// +kubebuilder:default=weightedRoundRobin
	// +optional
	Strategy string `json:"strategy,omitempty"`
	// +optional
	FailoverPolicy *FailoverPolicy `json:"failoverPolicy,omitempty"`
}

// FailoverPolicy re-creates Jobs stuck in Pending on another member.
type FailoverPolicy struct {
	// GracePeriod is how long a Job may stay Pending before it is re-created elsewhere (default 1m).
	// +kubebuilder:default="1m"
	// +optional
	GracePeriod GoDuration `json:"gracePeriod,omitempty"`
	// SoftTaintDuration: a member whose Job failed over gets no new Jobs for this long (default 3m).
	// +kubebuilder:default="3m"
	// +optional
	SoftTaintDuration GoDuration `json:"softTaintDuration,omitempty"`
	// HardTaintDuration: a second failure within the soft taint makes it hard for this long (default 5m).
	// +kubebuilder:default="5m"
	// +optional
	HardTaintDuration GoDuration `json:"hardTaintDuration,omitempty"`
	// DuplicationPolicy decides the fate of the original Job after failover.
	// +kubebuilder:validation:Enum=keepAll;preferFailover;preferSource;immediateSourceCleanup
	// +kubebuilder:default=keepAll
	// +optional
	DuplicationPolicy string `json:"duplicationPolicy,omitempty"`
}

// DistributedScaledJobStatus is what the controller observed and decided.
type DistributedScaledJobStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready, Active, Paused.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// +optional
	DesiredJobs int32 `json:"desiredJobs"`
	// +optional
	RunningJobs int32 `json:"runningJobs"`
	// +optional
	PendingJobs int32 `json:"pendingJobs"`
	// +optional
	MemberClusterStatuses map[string]JobMemberClusterStatus `json:"memberClusterStatuses,omitempty"`
	// TriggerMetricsStatus is the last value of each trigger.
	// +optional
	TriggerMetricsStatus map[string]TriggerMetricStatus `json:"triggerMetricsStatus,omitempty"`
	// Selector matches the DSJ's Jobs (the /scale selector).
	// +optional
	Selector string `json:"selector,omitempty"`
	// +optional
	Print JobPrintStatus `json:"print,omitempty"`
	// RoundRobinWeights is the smooth weighted round-robin state, kept across restarts.
	// +optional
	RoundRobinWeights map[string]int64 `json:"roundRobinWeights,omitempty"`
	// LastActiveTime is when a trigger was last active.
	// +optional
	LastActiveTime *metav1.Time `json:"lastActiveTime,omitempty"`
	// CreationHeldUntil is set when an evaluation created as many Jobs as the controller's
	// --max-jobs-per-evaluation allows and more were wanted: no new Jobs are created before
	// then (a second later), whatever triggers the next evaluation, so the cap bounds the rate
	// of creation too.
	// +optional
	CreationHeldUntil *metav1.Time `json:"creationHeldUntil,omitempty"`
}

// JobPrintStatus holds the strings kubectl prints.
type JobPrintStatus struct {
	// Jobs is "running/desired".
	// +optional
	Jobs string `json:"jobs,omitempty"`
	// MembersCount is "healthy/total".
	// +optional
	MembersCount string `json:"membersCount,omitempty"`
}

// JobMemberClusterStatus is one member's Jobs and taints.
type JobMemberClusterStatus struct {
	// +optional
	State string `json:"state,omitempty"`
	// +optional
	RunningJobs int32 `json:"runningJobs"`
	// +optional
	PendingJobs int32 `json:"pendingJobs"`
	// +optional
	StuckJobs int32 `json:"stuckJobs"`
	// +optional
	SoftTainted bool `json:"softTainted"`
	// +optional
	SoftTaintedUntil *metav1.Time `json:"softTaintedUntil,omitempty"`
	// +optional
	HardTainted bool `json:"hardTainted"`
	// +optional
	HardTaintedUntil *metav1.Time `json:"hardTaintedUntil,omitempty"`
	// +optional
	Description string `json:"description,omitempty"`
	// +optional
	LastStatusChangeTime *metav1.Time `json:"lastStatusChangeTime,omitempty"`
}

// DistributedScaledJob creates Jobs across member clusters from KEDA triggers.
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=dsj,categories=keda
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.desiredJobs,statuspath=.status.runningJobs,selectorpath=.status.selector
// +kubebuilder:printcolumn:name="Jobs",type=string,JSONPath=`.status.print.jobs`,description="running/desired"
// +kubebuilder:printcolumn:name="Members",type=string,JSONPath=`.status.print.membersCount`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Active",type=string,JSONPath=`.status.conditions[?(@.type=="Active")].status`
// +kubebuilder:printcolumn:name="Paused",type=string,JSONPath=`.status.conditions[?(@.type=="Paused")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DistributedScaledJob struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   DistributedScaledJobSpec   `json:"spec"`
	Status DistributedScaledJobStatus `json:"status,omitempty"`
}

// DistributedScaledJobList is a list of DistributedScaledJob.
// +kubebuilder:object:root=true
type DistributedScaledJobList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DistributedScaledJob `json:"items"`
}

func init() {
	SchemeBuilder.Register(&DistributedScaledJob{}, &DistributedScaledJobList{})
}
