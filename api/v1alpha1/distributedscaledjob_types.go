package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DistributedScaledJobSpec embeds a KEDA ScaledJob spec and says where its Jobs run.
// The rules for priorityFailover are the reference CRD's, written with has() so that they also
// hold when clusterScheduling or scalingStrategy is left out (the reference's own rules fail
// to evaluate then).
// +kubebuilder:validation:XValidation:rule="!has(self.clusterScheduling) || !has(self.clusterScheduling.strategy) || self.clusterScheduling.strategy != 'priorityFailover' || (has(self.memberClusters) && self.memberClusters.size() > 0)",message="memberClusters must be non-empty when clusterScheduling.strategy=priorityFailover"
// +kubebuilder:validation:XValidation:rule="!has(self.clusterScheduling) || !has(self.clusterScheduling.strategy) || self.clusterScheduling.strategy != 'priorityFailover' || !has(self.memberClusters) || self.memberClusters.all(c, has(c.scheduling) && has(c.scheduling.priority))",message="memberClusters[].scheduling.priority is required when clusterScheduling.strategy=priorityFailover"
// +kubebuilder:validation:XValidation:rule="!has(self.clusterScheduling) || !has(self.clusterScheduling.strategy) || self.clusterScheduling.strategy != 'priorityFailover' || !has(self.scaledJobSpec.scalingStrategy) || !has(self.scaledJobSpec.scalingStrategy.strategy) || self.scaledJobSpec.scalingStrategy.strategy == 'pendingAware'",message="scaledJobSpec.scalingStrategy.strategy must be pendingAware (or omitted) when clusterScheduling.strategy=priorityFailover"
type DistributedScaledJobSpec struct {
	// MemberClusters is the whitelist of members with weights; empty means every registered member.
	// Jobs in a member that leaves the list are handled by scaledJobSpec.rollout: deleted, or
	// with strategy gradual left to finish.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
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
	// Scheduling holds the member's place in clusterScheduling.strategy priorityFailover.
	// +optional
	Scheduling *MemberScheduling `json:"scheduling,omitempty"`
}

// MemberScheduling is a member's cluster-selection attributes.
type MemberScheduling struct {
	// Priority orders the members for priorityFailover: Jobs go to the eligible member with the
	// highest priority (ties by weighted round-robin).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Priority *int32 `json:"priority,omitempty"`
}

// GetPriority returns scheduling.priority, 0 when unset.
func (m JobMemberClusterRef) GetPriority() int32 {
	if m.Scheduling == nil || m.Scheduling.Priority == nil {
		return 0
	}
	return *m.Scheduling.Priority
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
// +kubebuilder:validation:XValidation:rule="!has(self.strategy) || self.strategy != 'priorityFailover' || has(self.workloadAffinity)",message="clusterScheduling.workloadAffinity is required when clusterScheduling.strategy=priorityFailover"
// +kubebuilder:validation:XValidation:rule="(has(self.strategy) && self.strategy == 'priorityFailover') || !has(self.workloadAffinity)",message="clusterScheduling.workloadAffinity must be omitted when clusterScheduling.strategy=weightedRoundRobin"
type ClusterScheduling struct {
	// Strategy is weightedRoundRobin (spread by weight) or priorityFailover (the highest-priority
	// eligible member first; see docs/priority-failover.md).
	// +kubebuilder:validation:Enum=weightedRoundRobin;priorityFailover
	// +kubebuilder:default=weightedRoundRobin
	// +optional
	Strategy string `json:"strategy,omitempty"`
	// +optional
	FailoverPolicy *FailoverPolicy `json:"failoverPolicy,omitempty"`
	// WorkloadAffinity classifies the DSJ's workload for failover taints (priorityFailover only).
	// +optional
	WorkloadAffinity *WorkloadAffinity `json:"workloadAffinity,omitempty"`
}

// WorkloadAffinity is the class and size a priorityFailover taint is recorded for.
type WorkloadAffinity struct {
	// Class groups workloads for failover taint matching (e.g. a team): a member tainted by one
	// DSJ is tainted for every DSJ of the same class in the same namespace. Empty is the default
	// class.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Class string `json:"class,omitempty"`
	// Size is the monotonic affinity value: a taint recorded for size S applies to every
	// workload of the class with size ≥ S (a member that could not start a workload cannot
	// start a larger one) and not to smaller ones.
	// +kubebuilder:validation:Minimum=0
	Size int32 `json:"size"`
}

// FailoverPolicy re-creates Jobs stuck in Pending on another member.
type FailoverPolicy struct {
	// GracePeriod is how long a Job may stay Pending before it is re-created elsewhere (default 1m).
	// +kubebuilder:default="1m"
	// +optional
	GracePeriod GoDuration `json:"gracePeriod,omitempty"`
	// SoftTaintDuration: a member whose Job failed over gets no new Jobs for this long (default 3m);
	// a second failure within it makes the taint hard. 0s hard-taints on the first failure.
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
	// ScalersTargetAverageValue is the mean target value of the triggers (KEDA's
	// targetAverageValue of a ScaledJob).
	// +optional
	ScalersTargetAverageValue *resource.Quantity `json:"scalersTargetAverageValue,omitempty"`
	// RoundRobinWeights is the smooth weighted round-robin state, kept across restarts.
	// +optional
	RoundRobinWeights map[string]int64 `json:"roundRobinWeights,omitempty"`
	// LastActiveTime is when a trigger was last active, as of the last status write (it is
	// refreshed once per polling interval while active and written with the next change).
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
	// RunningJobs is "running/desired" (the reference's column).
	// +optional
	RunningJobs string `json:"runningJobs,omitempty"`
	// Jobs is the same as RunningJobs, kept for clients of earlier versions.
	// +optional
	Jobs string `json:"jobs,omitempty"`
	// MembersCount is "healthy/total".
	// +optional
	MembersCount string `json:"membersCount,omitempty"`
}

// JobMemberClusterStatus is one member's Jobs and taints.
type JobMemberClusterStatus struct {
	// ID identifies the member's registration (the MemberCluster's UID).
	// +optional
	ID string `json:"id,omitempty"`
	// Provider is how the member is reached: kubeconfig (a MemberCluster with a kubeconfig Secret).
	// +optional
	Provider string `json:"provider,omitempty"`
	// +optional
	State string `json:"state,omitempty"`
	// Excluded: the member gets no new Jobs now (unreachable, tainted, or removed from
	// spec.memberClusters).
	// +optional
	Excluded bool `json:"excluded"`
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
	// HardTaintScopes are the priorityFailover hard taints on this member: each holds for one
	// workload class at the priority the member had, for workloads of its size and larger.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +optional
	HardTaintScopes []HardTaintScope `json:"hardTaintScopes,omitempty"`
	// +optional
	Description string `json:"description,omitempty"`
	// +optional
	LastStatusChangeTime *metav1.Time `json:"lastStatusChangeTime,omitempty"`
	// LastScalingProgressTime is the last time the member had no Job stuck past the grace
	// period, as of the last status write (written with the next change, not on every
	// evaluation).
	// +optional
	LastScalingProgressTime *metav1.Time `json:"lastScalingProgressTime,omitempty"`
}

// HardTaintScope is one priorityFailover hard taint: class and priority are the reference's
// fields; size and until say for which workloads and how long it holds.
type HardTaintScope struct {
	// Class is the workload affinity class the member is tainted for ("" is the default class).
	Class string `json:"class"`
	// Priority is the member's scheduling priority when it was tainted.
	// +optional
	Priority *int32 `json:"priority,omitempty"`
	// Size is the workload size the taint was recorded for; it holds for sizes ≥ Size.
	// +optional
	Size *int32 `json:"size,omitempty"`
	// Until is when the taint ends.
	// +optional
	Until *metav1.Time `json:"until,omitempty"`
}

// DistributedScaledJob creates Jobs across member clusters from KEDA triggers.
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=dsj,categories=keda
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.desiredJobs,statuspath=.status.runningJobs,selectorpath=.status.selector
// +kubebuilder:printcolumn:name="Jobs",type=string,JSONPath=`.status.print.runningJobs`,description="running/desired"
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
