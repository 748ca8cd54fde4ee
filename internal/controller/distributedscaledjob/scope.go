package distributedscaledjob

import (
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/autoscaling"
	"github.com/fleetscale/fleetscale/internal/jobs"
	"github.com/fleetscale/fleetscale/internal/member"
)

// Values of spec.clusterScheduling.strategy and spec.scaledJobSpec.rollout.
const (
	StrategyWeightedRoundRobin = "weightedRoundRobin"
	StrategyPriorityFailover   = "priorityFailover"
	rolloutGradual             = "gradual"
	propagationForeground      = "foreground"
)

// scope is what one reconcile read and decided; the sub-steps fill it in order.
type scope struct {
	dsj *v1alpha1.DistributedScaledJob
	now time.Time
	// orig is the object as read: the status patch is computed against it.
	orig *v1alpha1.DistributedScaledJob
	// prev is the status as read, for transitions (events) and stored state.
	prev   v1alpha1.DistributedScaledJobStatus
	id     jobs.Identity
	policy jobs.Policy
	paused bool

	members []*memberView
	// waitingFor lists members whose Jobs are not known yet (first probe or first list).
	waitingFor []string

	specError     string
	triggers      []autoscaling.JobTrigger
	triggerStatus map[string]v1alpha1.TriggerMetricStatus
	// triggerTypes is each trigger's type by its key in status, for messages.
	triggerTypes map[string]string
	triggerError string
	// nextTriggerChange is when a time-based trigger (cron) changes next.
	nextTriggerChange time.Time

	plan     *jobs.Plan
	decision autoscaling.ScaledJobDecision
	decided  bool
	// placements is the member of each new Job; unplaced counts those no member could take.
	placements []string
	unplaced   int

	// What apply did.
	created     map[string]int
	failedOver  []createdFailover
	deleted     []jobs.Deletion
	applyErrors map[string][]string
}

type createdFailover struct {
	jobs.Failover
	name string
}

// memberView is one eligible member as observed now.
type memberView struct {
	name      string
	weight    int32
	namespace string
	// template is the Job to create here (deep-copy it), hash its template hash.
	template *batchv1.Job
	hash     string
	member   *member.Member
	access   jobs.Access
	// reason says why the member is not observed.
	reason  string
	jobs    []jobs.Job
	prev    v1alpha1.JobMemberClusterStatus
	hadPrev bool
}

func newScope(dsj *v1alpha1.DistributedScaledJob, now time.Time) *scope {
	return &scope{
		dsj: dsj, now: now, orig: dsj.DeepCopy(), prev: *dsj.Status.DeepCopy(),
		id:     jobs.Identity{UID: dsj.UID, Namespace: dsj.Namespace, Name: dsj.Name},
		policy: policyOf(dsj), paused: jobs.Paused(dsj.Annotations),
		created: map[string]int{}, applyErrors: map[string][]string{},
	}
}

// policyOf reads the failover policy, rollout and history limits, with the API's defaults.
func policyOf(dsj *v1alpha1.DistributedScaledJob) jobs.Policy {
	p := jobs.DefaultPolicy()
	if cs := dsj.Spec.ClusterScheduling; cs != nil && cs.FailoverPolicy != nil {
		fp := cs.FailoverPolicy
		p.GracePeriod = fp.GracePeriod.Duration(metav1.Duration{Duration: p.GracePeriod}).Duration
		p.SoftTaintDuration = fp.SoftTaintDuration.Duration(metav1.Duration{Duration: p.SoftTaintDuration}).Duration
		p.HardTaintDuration = fp.HardTaintDuration.Duration(metav1.Duration{Duration: p.HardTaintDuration}).Duration
		if fp.DuplicationPolicy != "" {
			p.Duplication = jobs.Duplication(fp.DuplicationPolicy)
		}
	}
	sj := dsj.Spec.ScaledJobSpec
	p.GradualRollout = sj.Rollout.Strategy == rolloutGradual
	if sj.SuccessfulJobsHistoryLimit != nil {
		p.SuccessfulJobsHistoryLimit = *sj.SuccessfulJobsHistoryLimit
	}
	if sj.FailedJobsHistoryLimit != nil {
		p.FailedJobsHistoryLimit = *sj.FailedJobsHistoryLimit
	}
	return p
}

// rolloutPropagation is how outdated Jobs are deleted (rollout.propagationPolicy, default
// background), and Jobs on DSJ deletion.
func rolloutPropagation(dsj *v1alpha1.DistributedScaledJob) metav1.DeletionPropagation {
	if dsj.Spec.ScaledJobSpec.Rollout.PropagationPolicy == propagationForeground {
		return metav1.DeletePropagationForeground
	}
	return metav1.DeletePropagationBackground
}

func strategy(dsj *v1alpha1.DistributedScaledJob) string {
	if cs := dsj.Spec.ClusterScheduling; cs != nil && cs.Strategy != "" {
		return cs.Strategy
	}
	return StrategyWeightedRoundRobin
}

func pollingInterval(dsj *v1alpha1.DistributedScaledJob) time.Duration {
	if p := dsj.Spec.ScaledJobSpec.PollingInterval; p != nil && *p > 0 {
		return time.Duration(*p) * time.Second
	}
	return 30 * time.Second
}

// requeueAfter is the earliest moment a new evaluation can change something by itself: the
// polling interval (triggers that are not watch-driven), a time-based trigger's next change,
// a pending Job becoming stuck, a taint ending.
func (s *scope) requeueAfter() time.Duration {
	next := pollingInterval(s.dsj)
	if s.plan != nil && s.plan.RequeueAfter > 0 && s.plan.RequeueAfter < next {
		next = s.plan.RequeueAfter
	}
	if !s.nextTriggerChange.IsZero() {
		if d := s.nextTriggerChange.Sub(s.now); d > 0 && d < next {
			next = d
		}
	}
	return next
}

// frozen: nothing may be decided from the triggers (bad spec, or every trigger failing).
func (s *scope) frozen() bool {
	return s.specError != "" || s.decision.Ready.Status == metav1.ConditionFalse
}

// runningJobs is the fleet's live Jobs before the creations of this evaluation.
func (s *scope) runningJobs() (running, pending int32) {
	if s.plan == nil {
		return s.prev.RunningJobs, s.prev.PendingJobs
	}
	for _, c := range s.plan.Counts {
		running += c.Running
		pending += c.Pending
	}
	return running, pending
}

// createdCount is how many Jobs this evaluation created, failover copies included.
func (s *scope) createdCount() int32 { return int32(len(s.failedOver)) + s.newJobsCount() }

// newJobsCount is how many Jobs this evaluation created for the triggers.
func (s *scope) newJobsCount() int32 {
	var n int32
	for _, c := range s.created {
		n += int32(c)
	}
	return n
}
