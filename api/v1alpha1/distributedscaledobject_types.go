package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// DistributedScaledObjectSpec embeds a KEDA ScaledObject spec and says how to spread its total.
type DistributedScaledObjectSpec struct {
	// MemberClusters is the whitelist of members with weights; empty means every registered member, weight 1.
	// +listType=map
	// +listMapKey=name
	// +optional
	MemberClusters []MemberClusterRef `json:"memberClusters,omitempty"`
	// RebalancingPolicy says how long a member may be unhealthy before its share moves.
	// +optional
	RebalancingPolicy *RebalancingPolicy `json:"rebalancingPolicy,omitempty"`
	// ScaledObjectSpec is KEDA's ScaledObject spec; it computes the total across members.
	ScaledObjectSpec ScaledObjectSpec `json:"scaledObjectSpec"`
	// TotalTargetReplicas is the total the controller last computed (the /scale spec). The
	// controller owns it, as an HPA owns a Deployment's replicas: a manual write is overridden
	// at the next evaluation.
	// +kubebuilder:validation:Minimum=0
	// +optional
	TotalTargetReplicas *int32 `json:"totalTargetReplicas,omitempty"`
}

// RebalancingPolicy controls failover of a member's share.
type RebalancingPolicy struct {
	// GracePeriod is how long an unhealthy member keeps its share before it is excluded (default 1m).
	// +kubebuilder:default="1m"
	// +optional
	GracePeriod GoDuration `json:"gracePeriod,omitempty"`
	// MaxRebalancePercentage is the most of the total that may move in one step (default 50).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +kubebuilder:default=50
	// +optional
	MaxRebalancePercentage *int32 `json:"maxRebalancePercentage,omitempty"`
}

// DistributedScaledObjectStatus is what the controller observed and decided.
type DistributedScaledObjectStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready, ScaledObjectActive, Paused, Fallback.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// MemberClusterStatuses is each member's share and state, by member name.
	// +optional
	MemberClusterStatuses map[string]ScaledMemberStatus `json:"memberClusterStatuses,omitempty"`
	// +optional
	MembersHealthyCount int32 `json:"membersHealthyCount"`
	// +optional
	MembersTotalCount int32 `json:"membersTotalCount"`
	// TotalCurrentReplicas sums spec.replicas over members that are not excluded (the /scale status).
	// +optional
	TotalCurrentReplicas int32 `json:"totalCurrentReplicas"`
	// TotalDesiredReplicas is the total computed from the triggers.
	// +optional
	TotalDesiredReplicas int32 `json:"totalDesiredReplicas"`
	// Selector is the target's label selector (the /scale selector).
	// +optional
	Selector string `json:"selector,omitempty"`
	// Print holds display strings for kubectl get.
	// +optional
	Print PrintStatus `json:"print,omitempty"`
	// Triggers is the last value of each trigger, by trigger name (or type-index).
	// +optional
	Triggers map[string]TriggerMetricStatus `json:"triggers,omitempty"`
	// TriggerFailures counts consecutive read failures per trigger, for fallback.
	// +optional
	TriggerFailures map[string]int32 `json:"triggerFailures,omitempty"`
	// LastActiveTime is when a trigger was last active (cooldown starts from it), as of the
	// last status write: while the triggers stay active it is refreshed in the controller and
	// written with the next change, at the latest when they go inactive.
	// +optional
	LastActiveTime *metav1.Time `json:"lastActiveTime,omitempty"`
	// ScalingHistory keeps the HPA stabilisation and rate-limit history so a restart or a
	// leader change keeps the same decisions. It is written with the decisions (a new total
	// records a scale event), not on every evaluation: the recommendations of evaluations that
	// changed nothing are kept by the controller and written with the next change.
	// +optional
	ScalingHistory *ScalingHistory `json:"scalingHistory,omitempty"`
	// LastRebalanceTime is when shares last moved between members; rebalancing steps are
	// spaced from it.
	// +optional
	LastRebalanceTime *metav1.Time `json:"lastRebalanceTime,omitempty"`
	// RateLimitedUntil is set when a rate limit held the total short of what the triggers ask:
	// like the HPA, which evaluates once per sync period, the total moves again only then.
	// +optional
	RateLimitedUntil *metav1.MicroTime `json:"rateLimitedUntil,omitempty"`
	// LastEvaluationTime is when the total was computed by the last evaluation that changed this
	// status. Evaluations that change nothing but bookkeeping (this field, lastActiveTime, the
	// scaling history, the members' lastScalingProgressTime) write nothing, so a settled DSO is
	// not rewritten; they are kept by the controller and written with the next change.
	// +optional
	LastEvaluationTime *metav1.Time `json:"lastEvaluationTime,omitempty"`
}

// PrintStatus holds the strings kubectl prints.
type PrintStatus struct {
	// TotalReplicas is "current/desired".
	// +optional
	TotalReplicas string `json:"totalReplicas,omitempty"`
	// MembersCount is "healthy/total".
	// +optional
	MembersCount string `json:"membersCount,omitempty"`
}

// ScaledMemberStatus is one member's share and state in a DSO.
type ScaledMemberStatus struct {
	// ID identifies the member's registration (the MemberCluster's UID).
	// +optional
	ID string `json:"id,omitempty"`
	// Provider is how the member is reached: kubeconfig (a MemberCluster with a kubeconfig Secret).
	// +optional
	Provider string `json:"provider,omitempty"`
	// CurrentReplicas is the target's spec.replicas in the member, last known.
	// +optional
	CurrentReplicas int32 `json:"currentReplicas"`
	// DesiredReplicas is the member's share of the total.
	// +optional
	DesiredReplicas int32 `json:"desiredReplicas"`
	// State is Ready or NotReady.
	// +optional
	State string `json:"state,omitempty"`
	// Excluded is true when the member's share has moved to others after the grace period.
	// +optional
	Excluded bool `json:"excluded"`
	// Description says why, in words.
	// +optional
	Description string `json:"description,omitempty"`
	// LastStatusChangeTime is when State last changed.
	// +optional
	LastStatusChangeTime *metav1.Time `json:"lastStatusChangeTime,omitempty"`
	// LastScalingProgressTime is the last time the target's ready replicas grew or reached what
	// was asked; a member that makes no progress for the grace period is slow (see Capacity).
	// While ready replicas keep up it is refreshed in the controller and written with the next
	// status change.
	// +optional
	LastScalingProgressTime *metav1.Time `json:"lastScalingProgressTime,omitempty"`
	// ReadyReplicas is the target's ready replicas, last known (from status.readyReplicas or
	// availableReplicas, else its ready pods); unset when the target reports neither.
	// +optional
	ReadyReplicas *int32 `json:"readyReplicas,omitempty"`
	// Capacity is set while the member is slow: the ready replicas it has shown it can run.
	// Its share is capped there (the rest moves to the others, rate-limited) and it is asked
	// for one replica more as a probe; when that becomes ready the cap is lifted.
	// +optional
	Capacity *int32 `json:"capacity,omitempty"`
	// OriginalReplicas is what the target had before the DSO first scaled it, for
	// advanced.restoreToOriginalReplicaCount.
	// +optional
	OriginalReplicas *int32 `json:"originalReplicas,omitempty"`
}

// ScalingHistory is the persisted state of the HPA rules.
type ScalingHistory struct {
	// +optional
	Recommendations []TimestampedReplicas `json:"recommendations,omitempty"`
	// +optional
	ScaleUpEvents []ScaleEvent `json:"scaleUpEvents,omitempty"`
	// +optional
	ScaleDownEvents []ScaleEvent `json:"scaleDownEvents,omitempty"`
}

// TimestampedReplicas is one recommendation.
type TimestampedReplicas struct {
	Time     metav1.Time `json:"time"`
	Replicas int32       `json:"replicas"`
}

// ScaleEvent is one change of the total, for rate-limit policies.
type ScaleEvent struct {
	Time          metav1.Time `json:"time"`
	ReplicaChange int32       `json:"replicaChange"`
}

// DSO condition types beyond the shared ones.
const (
	ConditionScaledObjectActive = "ScaledObjectActive"
	ConditionFallback           = "Fallback"
)

// DistributedScaledObject scales one workload across member clusters from KEDA triggers.
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=dso,categories=keda
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.totalTargetReplicas,statuspath=.status.totalCurrentReplicas,selectorpath=.status.selector
// +kubebuilder:printcolumn:name="TotalReplicas",type=string,JSONPath=`.status.print.totalReplicas`
// +kubebuilder:printcolumn:name="Members",type=string,JSONPath=`.status.print.membersCount`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Active",type=string,JSONPath=`.status.conditions[?(@.type=="ScaledObjectActive")].status`
// +kubebuilder:printcolumn:name="Paused",type=string,JSONPath=`.status.conditions[?(@.type=="Paused")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DistributedScaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   DistributedScaledObjectSpec   `json:"spec"`
	Status DistributedScaledObjectStatus `json:"status,omitempty"`
}

// DistributedScaledObjectList is a list of DistributedScaledObject.
// +kubebuilder:object:root=true
type DistributedScaledObjectList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DistributedScaledObject `json:"items"`
}

func init() {
	SchemeBuilder.Register(&DistributedScaledObject{}, &DistributedScaledObjectList{})
}
