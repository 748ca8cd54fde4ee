// Package jobs holds the pure decisions of a DistributedScaledJob (DSJ) about the Jobs it runs
// in member clusters: how a Job is rendered and labelled, what state a Job is in (KEDA's running
// and pending), and one evaluation over every Job of the fleet that decides rollout and history
// deletions, failover of stuck Jobs, member taints, the counts handed to KEDA's ScaledJob
// strategies (internal/autoscaling.DecideJobs), and where new Jobs go. It imports no client and
// reads no clock: time comes in as a value and every piece of state comes in and goes out as an
// argument, so that the caller keeps it in status (or in the member objects) and a restart or a
// leader change loses nothing.
//
// # API
//
//	Render(id Identity, spec *batchv1.JobSpec, ov *v1alpha1.PodOverrides, namespace string) (*batchv1.Job, string)
//	    The Job to create in one member, and the hash of its template (label LabelTemplateHash).
//	Selector(uid types.UID) labels.Selector
//	    Matches every Job and pod of one DSJ, in any member and namespace.
//	Observe(member string, job *batchv1.Job, pods []*corev1.Pod, pendingPodConditions []string) Job
//	    A Job as the evaluation sees it: finished or not, pending (KEDA's rule) and since when.
//	Evaluate(in Input) *Plan
//	    Deletions (rollout, duplication policy, history limits), failovers of stuck Jobs with
//	    their targets, taints, counts per member and over the fleet, when to evaluate again.
//	(*Plan).Place(n int) []string
//	    Members for n new Jobs: smooth weighted round-robin (distribution.Place) over the members
//	    that are observed, whitelisted and not blocked, continuing after the failover picks;
//	    under PriorityFailover only over those with the highest priority.
//	(*Plan).Blocked(member string) string
//	    Why a member gets no new Jobs ("" when it may get them).
//	(*Plan).SettleFailovers(made []Failover)
//	    Keeps the taints and scopes only of the failovers that were carried out.
//	Paused(annotations map[string]string) bool
//	    KEDA's autoscaling.keda.sh/paused rule.
//
// # Identity, template hash and rollout
//
// Every Job and its pods carry LabelDSJUID (the DSJ's UID, so a DSJ deleted and created again
// under the same name never adopts the old Jobs) and LabelTemplateHash, a hash of the JobSpec as
// rendered for the member (job template plus that member's podOverrides). The hash, not the DSJ's
// generation, defines a rollout: the controller writes spec.desiredJobs (the /scale spec), which
// bumps the generation without changing the template. A live Job is outdated when its hash or
// its namespace differs from what the member gets now; rollout "default" deletes outdated live
// Jobs (finished ones stay, under the history limits), "gradual" lets them finish.
//
// # Failover and taints
//
// A live Job that is pending (no pod Running or Succeeded, or with pendingPodConditions no pod
// with all of them True) for GracePeriod is stuck. A stuck Job with no copy yet is re-created
// on another member that is observed, untainted and has no stuck Job itself (a stuck copy never
// goes back to its source's member); the copy carries AnnotationFailoverOf naming its source,
// so the pairing lives in the member objects and survives restarts. Each failover is
// one failure of the source's member: the first soft-taints it for SoftTaintDuration, a further
// one while it is tainted makes it a hard taint for HardTaintDuration (SoftTaintDuration 0: hard
// at once). A tainted member gets no new Jobs; soft and hard differ in how long they last and
// what escalates them. When no member can take the copy the Job stays, counted as stuck, and
// nothing is tainted.
//
// # Priority failover
//
// Under PriorityFailover new Jobs and failover copies go to the eligible members with the
// highest priority. A hard taint is also recorded as a TaintScope {class, priority, size,
// until}: it blocks the member for a DSJ of the same class at the same priority whose size is
// at least the scope's (TaintScope.Holds: a member that could not start a workload cannot start
// a larger one; a smaller one may fit). Input.PeerScopes are the scopes of the other DSJs of
// the class in the namespace; they hold like the DSJ's own. See docs/priority-failover.md.
//
// # Departed members
//
// A member that left the whitelist (Member.Departed) gets no Jobs; its live Jobs are deleted
// (ReasonMemberRemoved) unless the rollout is gradual, then they finish and count; its finished
// Jobs are deleted. Its stuck Jobs fail over like any other. The duplication
// policy then decides the fate of each pair:
//
//	keepAll                 both stay.
//	immediateSourceCleanup  the source is deleted as soon as the copy exists (the evaluation
//	                        after the one that creates it, so never before).
//	preferFailover          the source is deleted once the copy has started.
//	preferSource            the copy is deleted once the source has started; the source is
//	                        deleted if the copy succeeds while the source is still pending.
//
// # Counting
//
// Running = live Jobs (no Complete/Failed condition, not being deleted, not deleted by this
// plan) over the observed members, plus the copies this plan creates; Pending likewise. A member
// that cannot be read counts with the running/pending numbers last stored in status while it
// has been unreachable for less than GracePeriod, and not at all afterwards (its Jobs are
// presumed lost, and the triggers will ask for new ones elsewhere). An unregistered member
// counts nothing. DistinctRunning and DistinctPending count each live source/copy pair once
// (the pendingAware strategy).
//
// # What the caller persists
//
//   - Plan.Taints → per member softTaintedUntil/hardTaintedUntil; back as Member.Taint.
//   - Plan.Scopes → per member hardTaintScopes; back as Member.Scopes (and other DSJs'
//     Input.PeerScopes).
//   - Plan.RRState (after Place) → status.roundRobinWeights; back as Input.RRState.
//   - Plan.Counts → per member runningJobs/pendingJobs; back as Member.LastKnown.
//   - the time a member became unreachable → lastStatusChangeTime; back as UnreachableSince.
package jobs
