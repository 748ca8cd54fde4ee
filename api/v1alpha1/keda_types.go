package v1alpha1

import (
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
)

// The types in this file reproduce KEDA's ScaledObjectSpec and ScaledJobSpec
// (kedacore/keda apis/keda/v1alpha1) field by field, so a ScaledObject or ScaledJob spec moves
// into a DSO or DSJ unchanged. They are reproduced rather than imported: KEDA's API package
// pulls its controller-runtime and Kubernetes versions, which clash with ours.
// KEDA's defaults (pollingInterval 30, cooldownPeriod 300, min 0, max 100, ...) are applied in
// code, not in the schema, exactly as KEDA does, so "unset" stays distinguishable.

// ScaledObjectSpec is KEDA's ScaledObjectSpec.
// +kubebuilder:validation:XValidation:rule="(has(self.minReplicaCount) ? self.minReplicaCount : 0) <= (has(self.maxReplicaCount) ? self.maxReplicaCount : 100)",message="minReplicaCount must be less than or equal to maxReplicaCount (default 100)"
// +kubebuilder:validation:XValidation:rule="!has(self.idleReplicaCount) || self.idleReplicaCount < (has(self.minReplicaCount) ? self.minReplicaCount : 0)",message="idleReplicaCount must be less than minReplicaCount"
type ScaledObjectSpec struct {
	// ScaleTargetRef names the workload to scale in every member cluster.
	ScaleTargetRef *ScaleTarget `json:"scaleTargetRef"`
	// PollingInterval is how often, in seconds, triggers are evaluated (default 30).
	// +kubebuilder:validation:Minimum=1
	// +optional
	PollingInterval *int32 `json:"pollingInterval,omitempty"`
	// InitialCooldownPeriod is how long, in seconds, after creation scaling to zero is held off (default 0).
	// +kubebuilder:validation:Minimum=0
	// +optional
	InitialCooldownPeriod *int32 `json:"initialCooldownPeriod,omitempty"`
	// CooldownPeriod is how long, in seconds, after the last active trigger before scaling to idle/min/zero (default 300).
	// +kubebuilder:validation:Minimum=0
	// +optional
	CooldownPeriod *int32 `json:"cooldownPeriod,omitempty"`
	// IdleReplicaCount is the total while no trigger is active; must be below minReplicaCount.
	// +kubebuilder:validation:Minimum=0
	// +optional
	IdleReplicaCount *int32 `json:"idleReplicaCount,omitempty"`
	// MinReplicaCount is the lowest total while active (default 0).
	// +kubebuilder:validation:Minimum=0
	// +optional
	MinReplicaCount *int32 `json:"minReplicaCount,omitempty"`
	// MaxReplicaCount is the highest total (default 100).
	// +kubebuilder:validation:Minimum=0
	// +optional
	MaxReplicaCount *int32 `json:"maxReplicaCount,omitempty"`
	// +optional
	Advanced *AdvancedConfig `json:"advanced,omitempty"`
	// Triggers are the scalers whose metrics drive the total.
	// +kubebuilder:validation:MinItems=1
	Triggers []ScaleTriggers `json:"triggers"`
	// Fallback is the total to use when triggers keep failing.
	// +optional
	Fallback *Fallback `json:"fallback,omitempty"`
}

// ScaleTarget names the workload to scale (any kind with a /scale subresource).
type ScaleTarget struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// APIVersion of the target, default apps/v1: "group/version", or "version" for the core
	// group, as Kubernetes spells it (the group a DNS subdomain, the version a DNS label).
	// +kubebuilder:validation:MaxLength=317
	// +kubebuilder:validation:Pattern=`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[a-z]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`
	// Kind of the target, default Deployment.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z]([-A-Za-z0-9]*[A-Za-z0-9])?$`
	// +optional
	Kind string `json:"kind,omitempty"`
	// +optional
	EnvSourceContainerName string `json:"envSourceContainerName,omitempty"`
}

// AdvancedConfig is KEDA's advanced section.
type AdvancedConfig struct {
	// +optional
	HorizontalPodAutoscalerConfig *HorizontalPodAutoscalerConfig `json:"horizontalPodAutoscalerConfig,omitempty"`
	// RestoreToOriginalReplicaCount restores each member's workload to the replicas it had
	// before the DSO took it over, when the DSO is deleted.
	// +optional
	RestoreToOriginalReplicaCount bool `json:"restoreToOriginalReplicaCount,omitempty"`
	// +optional
	ScalingModifiers ScalingModifiers `json:"scalingModifiers,omitempty"`
}

// HorizontalPodAutoscalerConfig carries the HPA behavior that rate-limits the total.
type HorizontalPodAutoscalerConfig struct {
	// Behavior is validated as the HPA API validates it after its defaulting
	// (pkg/apis/autoscaling/validation validateBehavior): a rules block may set only some
	// fields (a missing policies list takes the defaults), but what it sets must be in range.
	// +kubebuilder:validation:XValidation:rule="!has(self.scaleUp) || !has(self.scaleUp.stabilizationWindowSeconds) || (self.scaleUp.stabilizationWindowSeconds >= 0 && self.scaleUp.stabilizationWindowSeconds <= 3600)",message="behavior.scaleUp.stabilizationWindowSeconds must be between 0 and 3600"
	// +kubebuilder:validation:XValidation:rule="!has(self.scaleDown) || !has(self.scaleDown.stabilizationWindowSeconds) || (self.scaleDown.stabilizationWindowSeconds >= 0 && self.scaleDown.stabilizationWindowSeconds <= 3600)",message="behavior.scaleDown.stabilizationWindowSeconds must be between 0 and 3600"
	// +kubebuilder:validation:XValidation:rule="!has(self.scaleUp) || !has(self.scaleUp.selectPolicy) || self.scaleUp.selectPolicy in ['Max', 'Min', 'Disabled']",message="behavior.scaleUp.selectPolicy must be Max, Min or Disabled"
	// +kubebuilder:validation:XValidation:rule="!has(self.scaleDown) || !has(self.scaleDown.selectPolicy) || self.scaleDown.selectPolicy in ['Max', 'Min', 'Disabled']",message="behavior.scaleDown.selectPolicy must be Max, Min or Disabled"
	// +kubebuilder:validation:XValidation:rule="!has(self.scaleUp) || !has(self.scaleUp.policies) || size(self.scaleUp.policies) > 0",message="behavior.scaleUp.policies must list at least one policy when set (leave it out for the defaults)"
	// +kubebuilder:validation:XValidation:rule="!has(self.scaleDown) || !has(self.scaleDown.policies) || size(self.scaleDown.policies) > 0",message="behavior.scaleDown.policies must list at least one policy when set (leave it out for the defaults)"
	// +kubebuilder:validation:XValidation:rule="!has(self.scaleUp) || !has(self.scaleUp.policies) || self.scaleUp.policies.all(p, p.type in ['Pods', 'Percent'] && p.value > 0 && p.periodSeconds > 0 && p.periodSeconds <= 1800)",message="behavior.scaleUp.policies: type must be Pods or Percent, value greater than 0, periodSeconds between 1 and 1800"
	// +kubebuilder:validation:XValidation:rule="!has(self.scaleDown) || !has(self.scaleDown.policies) || self.scaleDown.policies.all(p, p.type in ['Pods', 'Percent'] && p.value > 0 && p.periodSeconds > 0 && p.periodSeconds <= 1800)",message="behavior.scaleDown.policies: type must be Pods or Percent, value greater than 0, periodSeconds between 1 and 1800"
	// +kubebuilder:validation:XValidation:rule="!has(self.scaleUp) || !has(self.scaleUp.tolerance) || !string(self.scaleUp.tolerance).startsWith('-')",message="behavior.scaleUp.tolerance must not be negative"
	// +kubebuilder:validation:XValidation:rule="!has(self.scaleDown) || !has(self.scaleDown.tolerance) || !string(self.scaleDown.tolerance).startsWith('-')",message="behavior.scaleDown.tolerance must not be negative"
	// +optional
	Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior,omitempty"`
	// +optional
	Name string `json:"name,omitempty"`
}

// ScalingModifiers combines trigger values with a formula (expr-lang, as KEDA).
// The target is carried in milli-units, like every metric the HPA reads: below 0.001 it would
// round to zero, so it is refused rather than silently changed.
// +kubebuilder:validation:XValidation:rule="!has(self.formula) || has(self.target)",message="scalingModifiers.target is required with a formula"
// +kubebuilder:validation:XValidation:rule="!has(self.target) || (self.target.matches('^[+]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][-+]?[0-9]+)?$') && double(self.target) >= 0.001)",message="scalingModifiers.target must be a number of at least 0.001 (metrics are in milli-units; a smaller target rounds to 0)"
// +kubebuilder:validation:XValidation:rule="!has(self.activationTarget) || self.activationTarget.matches('^[-+]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][-+]?[0-9]+)?$')",message="scalingModifiers.activationTarget must be a number"
type ScalingModifiers struct {
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Formula string `json:"formula,omitempty"`
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Target string `json:"target,omitempty"`
	// +kubebuilder:validation:MaxLength=64
	// +optional
	ActivationTarget string `json:"activationTarget,omitempty"`
	// +kubebuilder:validation:Enum=AverageValue;Value
	// +optional
	MetricType autoscalingv2.MetricTargetType `json:"metricType,omitempty"`
}

// FallbackBehavior selects how the fallback total relates to the current one.
// +kubebuilder:validation:Enum=static;currentReplicas;currentReplicasIfHigher;currentReplicasIfLower
type FallbackBehavior string

// Fallback replicas after failureThreshold consecutive trigger errors.
type Fallback struct {
	// +kubebuilder:validation:Minimum=0
	FailureThreshold int32 `json:"failureThreshold"`
	// +kubebuilder:validation:Minimum=0
	Replicas int32 `json:"replicas"`
	// +kubebuilder:default=static
	// +optional
	Behavior FallbackBehavior `json:"behavior,omitempty"`
}

// ScaleTriggers is one KEDA trigger: a scaler type and its metadata.
type ScaleTriggers struct {
	// Type is the KEDA trigger type, e.g. kubernetes-resource.
	// +kubebuilder:validation:MinLength=1
	Type string `json:"type"`
	// +optional
	Name string `json:"name,omitempty"`
	// +optional
	UseCachedMetrics bool `json:"useCachedMetrics,omitempty"`
	// Metadata holds the scaler's parameters, as KEDA names them.
	Metadata map[string]string `json:"metadata"`
	// +optional
	AuthenticationRef *AuthenticationRef `json:"authenticationRef,omitempty"`
	// +kubebuilder:validation:Enum=AverageValue;Value;Utilization
	// +optional
	MetricType autoscalingv2.MetricTargetType `json:"metricType,omitempty"`
}

// AuthenticationRef points to a TriggerAuthentication (the default) in the object's namespace
// or a ClusterTriggerAuthentication (group keda.sh/v1alpha1, KEDA's own CRDs).
type AuthenticationRef struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Kind is TriggerAuthentication (default) or ClusterTriggerAuthentication.
	// +kubebuilder:validation:Enum=TriggerAuthentication;ClusterTriggerAuthentication
	// +optional
	Kind string `json:"kind,omitempty"`
}

// ScaledJobSpec is KEDA's ScaledJobSpec.
// +kubebuilder:validation:XValidation:rule="(has(self.minReplicaCount) ? self.minReplicaCount : 0) <= (has(self.maxReplicaCount) ? self.maxReplicaCount : 100)",message="minReplicaCount must be less than or equal to maxReplicaCount (default 100)"
type ScaledJobSpec struct {
	// JobTargetRef is the Job spec created for each unit of work.
	JobTargetRef *batchv1.JobSpec `json:"jobTargetRef"`
	// PollingInterval in seconds (default 30).
	// +kubebuilder:validation:Minimum=1
	// +optional
	PollingInterval *int32 `json:"pollingInterval,omitempty"`
	// SuccessfulJobsHistoryLimit is how many finished successful Jobs to keep across all members (default 100).
	// +kubebuilder:validation:Minimum=0
	// +optional
	SuccessfulJobsHistoryLimit *int32 `json:"successfulJobsHistoryLimit,omitempty"`
	// FailedJobsHistoryLimit is how many failed Jobs to keep across all members (default 100).
	// +kubebuilder:validation:Minimum=0
	// +optional
	FailedJobsHistoryLimit *int32 `json:"failedJobsHistoryLimit,omitempty"`
	// +optional
	EnvSourceContainerName string `json:"envSourceContainerName,omitempty"`
	// +kubebuilder:validation:Minimum=0
	// +optional
	MinReplicaCount *int32 `json:"minReplicaCount,omitempty"`
	// +kubebuilder:validation:Minimum=0
	// +optional
	MaxReplicaCount *int32 `json:"maxReplicaCount,omitempty"`
	// +optional
	Rollout Rollout `json:"rollout,omitempty"`
	// +optional
	ScalingStrategy ScalingStrategy `json:"scalingStrategy,omitempty"`
	// +kubebuilder:validation:MinItems=1
	Triggers []ScaleTriggers `json:"triggers"`
}

// Rollout says what happens to running Jobs when the job template changes.
type Rollout struct {
	// +kubebuilder:validation:Enum=default;gradual
	// +optional
	Strategy string `json:"strategy,omitempty"`
	// +kubebuilder:validation:Enum=foreground;background
	// +optional
	PropagationPolicy string `json:"propagationPolicy,omitempty"`
}

// ScalingStrategy is KEDA's ScaledJob scaling strategy.
type ScalingStrategy struct {
	// Strategy is one of KEDA's (default, custom, accurate, eager) or the reference's basic (=
	// default) and pendingAware (accurate over distinct units of work: a stuck Job and its
	// failover copy count once). See docs/priority-failover.md.
	// +kubebuilder:validation:Enum=default;custom;accurate;eager;basic;pendingAware
	// +optional
	Strategy string `json:"strategy,omitempty"`
	// +optional
	CustomScalingQueueLengthDeduction *int32 `json:"customScalingQueueLengthDeduction,omitempty"`
	// +optional
	CustomScalingRunningJobPercentage string `json:"customScalingRunningJobPercentage,omitempty"`
	// +optional
	PendingPodConditions []string `json:"pendingPodConditions,omitempty"`
	// +kubebuilder:validation:Enum=max;min;avg;sum
	// +optional
	MultipleScalersCalculation string `json:"multipleScalersCalculation,omitempty"`
}
