package distributedscaledjob

import (
	"errors"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/autoscaling"
	"github.com/fleetscale/fleetscale/internal/jobs"
	"github.com/fleetscale/fleetscale/internal/member"
	"github.com/fleetscale/fleetscale/internal/tenancy"
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
	// rules are the TenantPolicies' say for the DSJ's namespace (set by admit).
	rules *tenancy.Rules

	members []*memberView
	// waitingFor lists members whose Jobs are not known yet (first probe or first list).
	waitingFor []string
	// peerScopes are the hard taint scopes other priorityFailover DSJs of the namespace with
	// the same workload class recorded, by member.
	peerScopes map[string][]jobs.TaintScope

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
	// deferred counts the Jobs (new ones and failover copies) beyond the per-evaluation cap,
	// left for the next evaluations; maxJobs is that cap.
	deferred int64
	maxJobs  int

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

// memberView is one member as observed now: eligible, or departed (it left
// spec.memberClusters and may still hold Jobs of the DSJ).
type memberView struct {
	name      string
	weight    int32
	priority  int32
	departed  bool
	namespace string
	// id is the MemberCluster's UID (status id).
	id string
	// template is the Job to create here (deep-copy it), hash its template hash.
	template *batchv1.Job
	hash     string
	member   *member.Member
	access   jobs.Access
	// reason says why the member is not observed.
	reason string
	jobs   []jobs.Job
	// lastSeen are the counts in the member's Job cache while the member is not ready.
	lastSeen *jobs.Counts
	prev     v1alpha1.JobMemberClusterStatus
	hadPrev  bool
}

func newScope(dsj *v1alpha1.DistributedScaledJob, now time.Time) *scope {
	policy, err := policyOf(dsj)
	s := &scope{
		dsj: dsj, now: now, orig: dsj.DeepCopy(), prev: *dsj.Status.DeepCopy(),
		id:     jobs.Identity{UID: dsj.UID, Namespace: dsj.Namespace, Name: dsj.Name},
		policy: policy, paused: jobs.Paused(dsj.Annotations),
		created: map[string]int{}, applyErrors: map[string][]string{},
	}
	if err != nil {
		// The defaults stand in for the plan's bookkeeping; nothing is created (frozen).
		s.specError = err.Error()
	}
	return s
}

// policyOf reads the failover policy, rollout and history limits, with the API's defaults. A
// duration the schema should have refused is an error, never a silent default.
func policyOf(dsj *v1alpha1.DistributedScaledJob) (jobs.Policy, error) {
	p := jobs.DefaultPolicy()
	if cs := dsj.Spec.ClusterScheduling; cs != nil && cs.FailoverPolicy != nil {
		fp := cs.FailoverPolicy
		var errs []error
		for _, d := range []struct {
			field string
			value v1alpha1.GoDuration
			to    *time.Duration
		}{
			{"gracePeriod", fp.GracePeriod, &p.GracePeriod},
			{"softTaintDuration", fp.SoftTaintDuration, &p.SoftTaintDuration},
			{"hardTaintDuration", fp.HardTaintDuration, &p.HardTaintDuration},
		} {
			v, err := d.value.Parse(*d.to)
			if err != nil {
				errs = append(errs, fmt.Errorf("clusterScheduling.failoverPolicy.%s: %w", d.field, err))
				continue
			}
			*d.to = v
		}
		if len(errs) > 0 {
			return jobs.DefaultPolicy(), errors.Join(errs...)
		}
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
	return p, nil
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

// affinity is clusterScheduling.workloadAffinity (the zero Affinity when unset).
func affinity(dsj *v1alpha1.DistributedScaledJob) jobs.Affinity {
	if cs := dsj.Spec.ClusterScheduling; cs != nil && cs.WorkloadAffinity != nil {
		return jobs.Affinity{Class: cs.WorkloadAffinity.Class, Size: cs.WorkloadAffinity.Size}
	}
	return jobs.Affinity{}
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
	if s.deferred > 0 {
		// The cap left Jobs for later: come back when creating is allowed again, not after
		// the polling interval.
		wait := capRequeue
		if h := s.dsj.Status.CreationHeldUntil; h != nil && h.After(s.now) {
			wait = h.Sub(s.now)
		}
		next = min(next, wait)
	}
	if s.plan != nil && s.plan.RequeueAfter > 0 && s.plan.RequeueAfter < next {
		next = s.plan.RequeueAfter
	}
	if !s.nextTriggerChange.IsZero() {
		if d := s.nextTriggerChange.Sub(s.now); d > 0 && d < next {
			next = d
		}
	}
	if len(s.applyErrors) > 0 {
		// A failed member is retried on its own cadence, not with controller-runtime's backoff.
		next = min(next, applyRetry)
	}
	return next
}

// applyRetry is how soon an evaluation whose Job operations failed in some member comes back
// (the HPA's sync period, as the DSO retries a failed /scale write).
const applyRetry = 15 * time.Second

// frozen: nothing may be decided from the triggers (bad spec, or every trigger failing).
func (s *scope) frozen() bool {
	return s.specError != "" || s.decision.Ready.Status == metav1.ConditionFalse
}

// capRequeue is how soon an evaluation that hit the Jobs-per-evaluation cap comes back.
const capRequeue = time.Second

// runningJobs is the fleet's live Jobs before the creations of this evaluation (sums in int64,
// saturating at the int32 range of the status fields).
func (s *scope) runningJobs() (running, pending int32) {
	if s.plan == nil {
		return s.prev.RunningJobs, s.prev.PendingJobs
	}
	var r, p int64
	for _, c := range s.plan.Counts {
		r += int64(c.Running)
		p += int64(c.Pending)
	}
	return autoscaling.ClampReplicas(r), autoscaling.ClampReplicas(p)
}

// createdCount is how many Jobs this evaluation created, failover copies included.
func (s *scope) createdCount() int32 {
	return autoscaling.SumReplicas(autoscaling.ClampReplicas(int64(len(s.failedOver))), s.newJobsCount())
}

// newJobsCount is how many Jobs this evaluation created for the triggers.
func (s *scope) newJobsCount() int32 {
	var n int64
	for _, c := range s.created {
		n += int64(c)
	}
	return autoscaling.ClampReplicas(n)
}
