package v1alpha1

import "time"

// The API's defaults, in one place. The CRD markers (+kubebuilder:default) cannot name a Go
// constant, so TestCRDDefaultsMatchConstants checks the generated CRDs against these values;
// the controllers and internal/distribution and internal/jobs use these constants.
const (
	// DefaultRebalanceGracePeriod is spec.rebalancingPolicy.gracePeriod of a DSO: how long
	// an unhealthy member keeps its share.
	DefaultRebalanceGracePeriod = time.Minute
	// DefaultMaxRebalancePercentage is spec.rebalancingPolicy.maxRebalancePercentage.
	DefaultMaxRebalancePercentage int32 = 50
	// DefaultFailoverGracePeriod is a DSJ's clusterScheduling.failoverPolicy.gracePeriod.
	DefaultFailoverGracePeriod = time.Minute
	// DefaultSoftTaintDuration and DefaultHardTaintDuration are a DSJ's failover taints.
	DefaultSoftTaintDuration = 3 * time.Minute
	DefaultHardTaintDuration = 5 * time.Minute
	// DefaultDuplicationPolicy is a DSJ's clusterScheduling.failoverPolicy.duplicationPolicy.
	DefaultDuplicationPolicy = "keepAll"
	// DefaultJobsHistoryLimit is KEDA's ScaledJob default for successfulJobsHistoryLimit and
	// failedJobsHistoryLimit (no CRD default: KEDA applies it in code too).
	DefaultJobsHistoryLimit int32 = 100
	// DefaultMemberWeight is a member's weight when spec.memberClusters[].weight is unset.
	DefaultMemberWeight int32 = 1
)
