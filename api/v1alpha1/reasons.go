package v1alpha1

// Condition reasons of DistributedScaledObject and DistributedScaledJob status, in one place:
// the controllers, the pure rule packages (internal/autoscaling) and the tenancy checks name
// them through these constants.
const (
	// KEDA's ScaledObject reasons, with KEDA's spelling.
	ReasonScaledObjectReady     = "ScaledObjectReady"
	ReasonTriggerError          = "TriggerError"
	ReasonPartialTriggerError   = "PartialTriggerError"
	ReasonInvalidSpec           = "InvalidSpec"
	ReasonScalerActive          = "ScalerActive"
	ReasonScalerNotActive       = "ScalerNotActive"
	ReasonScalerCooldown        = "ScalerCooldown"
	ReasonFallbackExists        = "FallbackExists"
	ReasonNoFallbackFound       = "NoFallbackFound"
	ReasonScaledObjectPaused    = "ScaledObjectPaused"
	ReasonScaledObjectNotPaused = "ScaledObjectNotPaused"
	// KEDA's ScaledJob pause reasons.
	ReasonScaledJobPaused    = "ScaledJobPaused"
	ReasonScaledJobNotPaused = "ScaledJobNotPaused"

	// fleetscale's own.
	ReasonNoMemberClusters   = "NoMemberClusters"
	ReasonWaitingForMembers  = "WaitingForMembers"
	ReasonDeletingJobs       = "DeletingJobs"
	ReasonWeightedRoundRobin = "WeightedRoundRobin"
	ReasonPriorityFailover   = "PriorityFailover"

	// Tenancy refusals (the hub namespace is a tenant boundary).
	ReasonNamespaceNotAllowed                    = "NamespaceNotAllowed"
	ReasonPodSecurityViolation                   = "PodSecurityViolation"
	ReasonClusterTriggerAuthenticationNotAllowed = "ClusterTriggerAuthenticationNotAllowed"
	ReasonExternalAddressNotAllowed              = "ExternalAddressNotAllowed"
)
