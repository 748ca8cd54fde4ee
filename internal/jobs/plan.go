package jobs

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/distribution"
)

// Access says how much an evaluation knows about a member's Jobs.
type Access int

// Access values.
const (
	// Observed: the member is healthy and its Jobs were read now; the plan acts on them and
	// the member may get new Jobs.
	Observed Access = iota
	// Unreachable: registered, but its Jobs cannot be read now (API not ready, cache not
	// synced). It counts with Member.LastKnown for GracePeriod, then not at all.
	Unreachable
	// Unregistered: whitelisted but not registered; it counts nothing.
	Unregistered
)

// Strategy is clusterScheduling.strategy.
type Strategy string

// Strategies.
const (
	WeightedRoundRobin Strategy = "weightedRoundRobin"
	PriorityFailover   Strategy = "priorityFailover"
)

// Member is one member of the evaluation: eligible (whitelisted, or registered when the
// whitelist is empty), or departed (it left the whitelist and still holds Jobs of the DSJ).
type Member struct {
	Name string
	// Weight is its round-robin weight; 0 makes it a standby (distribution.Place).
	Weight int32
	// Priority is scheduling.priority (priorityFailover: higher is preferred).
	Priority int32
	// Namespace and Hash are where new Jobs go in this member and the template hash they get:
	// a live Job elsewhere or with another hash is outdated.
	Namespace string
	Hash      string
	Access    Access
	// UnreachableSince is when the member stopped being observed (Unreachable only).
	UnreachableSince time.Time
	// LastKnown are the counts stored in status the last time the member was observed.
	LastKnown Counts
	// Taint is the taint stored in status.
	Taint Taint
	// Scopes are the priorityFailover hard taint scopes stored in status (hardTaintScopes).
	Scopes []TaintScope
	// Departed: the member left spec.memberClusters. It gets no Jobs, and its Jobs are rollout
	// leftovers: live ones are deleted, or left to finish with a gradual rollout; finished ones
	// are deleted.
	Departed bool
}

// Counts are one member's Jobs after an evaluation.
type Counts struct {
	Running   int32
	Pending   int32
	Stuck     int32
	Succeeded int32
	Failed    int32
}

// Duplication is failoverPolicy.duplicationPolicy: what happens to a failed-over Job.
type Duplication string

// Duplication policies (see the package documentation).
const (
	KeepAll                Duplication = "keepAll"
	PreferFailover         Duplication = "preferFailover"
	PreferSource           Duplication = "preferSource"
	ImmediateSourceCleanup Duplication = "immediateSourceCleanup"
)

// Policy holds the DSJ's knobs for one evaluation.
type Policy struct {
	// GracePeriod is how long a Job may stay pending before it fails over, and how long an
	// unreachable member's last known Jobs still count.
	GracePeriod       time.Duration
	SoftTaintDuration time.Duration
	HardTaintDuration time.Duration
	Duplication       Duplication
	// GradualRollout lets outdated Jobs finish instead of deleting them.
	GradualRollout             bool
	SuccessfulJobsHistoryLimit int32
	FailedJobsHistoryLimit     int32
}

// DefaultPolicy is the API's defaults: grace 1m, soft taint 3m, hard taint 5m, keepAll,
// rollout default, history limits 100 (KEDA's).
func DefaultPolicy() Policy {
	return Policy{
		GracePeriod:                v1alpha1.DefaultFailoverGracePeriod,
		SoftTaintDuration:          v1alpha1.DefaultSoftTaintDuration,
		HardTaintDuration:          v1alpha1.DefaultHardTaintDuration,
		Duplication:                Duplication(v1alpha1.DefaultDuplicationPolicy),
		SuccessfulJobsHistoryLimit: v1alpha1.DefaultJobsHistoryLimit,
		FailedJobsHistoryLimit:     v1alpha1.DefaultJobsHistoryLimit,
	}
}

// Input is one evaluation of one DSJ.
type Input struct {
	Now     time.Time
	Members []Member
	// Jobs are the DSJ's Jobs in the Observed members (others are ignored).
	Jobs   []Job
	Policy Policy
	// RRState is the stored round-robin state (status.roundRobinWeights).
	RRState map[string]int64
	// Paused: stuck Jobs are not re-created (the caller places no new Jobs either).
	Paused bool
	// MaxFailovers bounds the failover copies of one evaluation (0: no bound); the other stuck
	// Jobs wait for the next one (Plan.DeferredFailovers), oldest first as always.
	MaxFailovers int
	// Strategy and Affinity are clusterScheduling.strategy and .workloadAffinity; "" is
	// WeightedRoundRobin.
	Strategy Strategy
	Affinity Affinity
	// PeerScopes are hard taint scopes that other DSJs of the namespace recorded, by member:
	// under PriorityFailover a scope holds for this DSJ exactly like one of its own.
	PeerScopes map[string][]TaintScope
}

// DeletionReason says why a Job is deleted.
type DeletionReason string

// Deletion reasons.
const (
	ReasonRollout     DeletionReason = "Rollout"
	ReasonHistory     DeletionReason = "HistoryLimit"
	ReasonDuplication DeletionReason = "Duplication"
	// ReasonMemberRemoved: the Job is in a member that left spec.memberClusters.
	ReasonMemberRemoved DeletionReason = "MemberRemoved"
)

// Deletion is one Job to delete.
type Deletion struct {
	Job    Job
	Reason DeletionReason
}

// Failover is one stuck Job to re-create on Target.
type Failover struct {
	Source Job
	Target string
}

// Plan is the outcome of Evaluate.
type Plan struct {
	Deletions []Deletion
	Failovers []Failover
	// DeferredFailovers counts the stuck Jobs that Input.MaxFailovers left for the next
	// evaluation.
	DeferredFailovers int
	// Taints is every member's taint after this evaluation.
	Taints map[string]Taint
	// Scopes is every member's own hard taint scopes after this evaluation (PriorityFailover;
	// empty otherwise).
	Scopes map[string][]TaintScope
	// Counts is every member's Jobs after the deletions of this plan (not counting the
	// failover copies it creates).
	Counts map[string]Counts
	// Running and Pending are the fleet's counts for autoscaling.DecideJobs: the Counts plus
	// the failover copies.
	Running int64
	Pending int64
	// DistinctRunning and DistinctPending are Running and Pending with each stuck Job and its
	// failover copy counted as one unit of work (the pendingAware strategy): running once, and
	// pending only while neither has started.
	DistinctRunning int64
	DistinctPending int64
	// RRState is the round-robin state after the failover picks and Place; persist it.
	RRState map[string]int64
	// RequeueAfter is when a new evaluation can change something by itself: a pending Job
	// becomes stuck, or a taint ends. 0 means nothing is due.
	RequeueAfter time.Duration

	now     time.Time
	members []Member
	in      *Input
}

// Evaluate decides, over every Job of the fleet: the rollout, duplication-policy and history
// deletions, the failover of stuck Jobs (with the taints they cause), and the counts. See the
// package documentation for the rules.
func Evaluate(in Input) *Plan {
	pol := in.Policy
	now := in.Now
	p := &Plan{Taints: map[string]Taint{}, Scopes: map[string][]TaintScope{}, Counts: map[string]Counts{},
		RRState: map[string]int64{}, now: now, members: in.Members, in: &in}
	members := map[string]Member{}
	for _, m := range in.Members {
		members[m.Name] = m
		p.Taints[m.Name] = m.Taint.Expire(now)
		if in.Strategy == PriorityFailover {
			p.Scopes[m.Name] = liveScopes(m.Scopes, now)
		}
		if w, ok := in.RRState[m.Name]; ok {
			p.RRState[m.Name] = w
		}
	}
	var all []Job
	for _, j := range in.Jobs {
		if m, ok := members[j.Member]; ok && m.Access == Observed {
			all = append(all, j)
		}
	}
	slices.SortFunc(all, func(a, b Job) int { return cmp.Compare(a.Key(), b.Key()) })

	d := deleter{deleted: map[string]bool{}}
	for _, j := range all {
		if members[j.Member].Departed && (!j.Live() || !pol.GradualRollout) {
			d.delete(j, ReasonMemberRemoved)
		}
	}
	if !pol.GradualRollout {
		for _, j := range all {
			if m := members[j.Member]; j.Live() && (j.Hash != m.Hash || j.Namespace != m.Namespace) {
				d.delete(j, ReasonRollout)
			}
		}
	}
	copies := map[string]int{}
	for _, j := range all {
		if j.FailoverOf != "" {
			copies[j.FailoverOf]++
		}
	}
	resolveDuplicates(all, pol.Duplication, &d)
	trimHistory(all, Succeeded, pol.SuccessfulJobsHistoryLimit, &d)
	trimHistory(all, Failed, pol.FailedJobsHistoryLimit, &d)
	if !in.Paused {
		p.failover(all, copies, pol, in.MaxFailovers, &d)
	}
	p.Deletions = d.list
	p.count(all, pol, &d)
	p.RequeueAfter = p.requeueAfter(all, copies, pol, &d)
	return p
}

// memberOf returns the member part of a Key.
func memberOf(key string) string {
	member, _, _ := strings.Cut(key, "/")
	return member
}

type deleter struct {
	deleted map[string]bool
	list    []Deletion
}

func (d *deleter) delete(j Job, reason DeletionReason) {
	if j.Deleting || d.deleted[j.Key()] {
		return
	}
	d.deleted[j.Key()] = true
	d.list = append(d.list, Deletion{Job: j, Reason: reason})
}

func (d *deleter) gone(j Job) bool { return j.Deleting || d.deleted[j.Key()] }

// resolveDuplicates applies the duplication policy to every copy whose source is still there.
func resolveDuplicates(all []Job, policy Duplication, d *deleter) {
	byKey := map[string]Job{}
	for _, j := range all {
		byKey[j.Key()] = j
	}
	for _, c := range all {
		s, ok := byKey[c.FailoverOf]
		if c.FailoverOf == "" || !ok || d.gone(s) || d.gone(c) {
			continue
		}
		switch policy {
		case ImmediateSourceCleanup:
			if s.Live() {
				d.delete(s, ReasonDuplication)
			}
		case PreferFailover:
			if c.Started() && s.Live() {
				d.delete(s, ReasonDuplication)
			}
		case PreferSource:
			switch {
			case s.Started() && c.Live():
				d.delete(c, ReasonDuplication)
			case c.Result == Succeeded && s.Live() && s.Pending:
				d.delete(s, ReasonDuplication)
			}
		}
	}
}

// trimHistory deletes the oldest finished Jobs with result beyond limit, across all members.
func trimHistory(all []Job, result Result, limit int32, d *deleter) {
	var done []Job
	for _, j := range all {
		if j.Result == result && !d.gone(j) {
			done = append(done, j)
		}
	}
	slices.SortFunc(done, func(a, b Job) int {
		return cmp.Or(a.Finished.Compare(b.Finished), a.Created.Compare(b.Created), cmp.Compare(a.Key(), b.Key()))
	})
	for i := 0; i < len(done)-int(max(limit, 0)); i++ {
		d.delete(done[i], ReasonHistory)
	}
}

// failover re-creates each stuck Job that has no copy yet on another member, oldest first, and
// taints the source's member once per failover.
// Even with immediateSourceCleanup the source is not deleted here but by the next evaluation,
// which sees the copy: a source is never deleted before its copy exists.
func (p *Plan) failover(all []Job, copies map[string]int, pol Policy, maxFailovers int, d *deleter) {
	var stuck []Job
	for _, j := range all {
		if j.Live() && j.Pending && !d.gone(j) && copies[j.Key()] == 0 && !p.now.Before(j.stuckAt(pol.GracePeriod)) {
			stuck = append(stuck, j)
		}
	}
	slices.SortFunc(stuck, func(a, b Job) int {
		return cmp.Or(a.PendingSince.Compare(b.PendingSince), cmp.Compare(a.Key(), b.Key()))
	})
	// A member with a stuck Job takes no copies, even while it is not tainted yet (it will be
	// by its own failover); nor does a copy that is stuck too go back to its source's member.
	var failing []string
	for _, j := range stuck {
		failing = append(failing, j.Member)
	}
	for i, j := range stuck {
		if maxFailovers > 0 && len(p.Failovers) >= maxFailovers {
			p.DeferredFailovers = len(stuck) - i
			break
		}
		picks := p.place(1, append([]string{memberOf(j.FailoverOf)}, failing...)...)
		if len(picks) == 0 {
			continue
		}
		p.Failovers = append(p.Failovers, Failover{Source: j, Target: picks[0]})
		p.fail(j.Member)
	}
}

// fail records one failover from member: its taint escalates and, under PriorityFailover, a
// hard taint is recorded as a scope for the DSJ's class and size at the member's priority.
func (p *Plan) fail(member string) {
	pol := p.input().Policy
	t := p.Taints[member].Fail(p.now, pol.SoftTaintDuration, pol.HardTaintDuration)
	p.Taints[member] = t
	if p.input().Strategy == PriorityFailover && t.Hard(p.now) {
		m := p.member(member)
		p.Scopes[member] = addScope(p.Scopes[member], TaintScope{Class: p.input().Affinity.Class, Priority: m.Priority,
			Size: p.input().Affinity.Size, Until: t.HardUntil}, p.now)
	}
}

// input is the evaluation's input (empty for a Plan not made by Evaluate).
func (p *Plan) input() *Input {
	if p.in == nil {
		return &Input{}
	}
	return p.in
}

func (p *Plan) member(name string) Member {
	for _, m := range p.members {
		if m.Name == name {
			return m
		}
	}
	return Member{Name: name}
}

// SettleFailovers keeps the taints and scopes of this plan only for the failovers that were
// made: a member whose stuck Job could not be copied is tainted only by the copies that exist
// (the others are planned again next time and must not count twice).
func (p *Plan) SettleFailovers(made []Failover) {
	planned, done := map[string]int{}, map[string]int{}
	for _, f := range p.Failovers {
		planned[f.Source.Member]++
	}
	for _, f := range made {
		done[f.Source.Member]++
	}
	for name, n := range planned {
		if done[name] == n {
			continue
		}
		m := p.member(name)
		p.Taints[name] = m.Taint.Expire(p.now)
		if p.input().Strategy == PriorityFailover {
			p.Scopes[name] = liveScopes(m.Scopes, p.now)
		}
		for range done[name] {
			p.fail(name)
		}
	}
}

// Blocked says why member gets no new Jobs after this evaluation, "" when it may get them: a
// soft or hard taint (under PriorityFailover a hard taint holds through its scopes, this DSJ's
// or a peer's, for this DSJ's class, the member's priority and sizes from the scope's up).
func (p *Plan) Blocked(member string) string {
	m := p.member(member)
	t := p.Taints[member]
	if p.input().Strategy != PriorityFailover {
		switch {
		case t.Hard(p.now):
			return "hard-tainted"
		case t.Soft(p.now):
			return "soft-tainted"
		}
		return ""
	}
	if t.Soft(p.now) {
		return "soft-tainted"
	}
	for _, s := range p.Scopes[member] {
		if s.Holds(p.input().Affinity, m.Priority, p.now) {
			return fmt.Sprintf("hard-tainted for class %q (size ≥ %d) until %s", s.Class, s.Size, s.Until.UTC().Format(time.RFC3339))
		}
	}
	for _, s := range p.input().PeerScopes[member] {
		if s.Holds(p.input().Affinity, m.Priority, p.now) {
			return fmt.Sprintf("hard-tainted by another DSJ of class %q (size ≥ %d) until %s", s.Class, s.Size, s.Until.UTC().Format(time.RFC3339))
		}
	}
	return ""
}

func (p *Plan) count(all []Job, pol Policy, d *deleter) {
	for _, m := range p.members {
		c := Counts{}
		switch m.Access {
		case Observed:
			for _, j := range all {
				if j.Member != m.Name || d.gone(j) {
					continue
				}
				switch {
				case j.Live():
					c.Running++
					if j.Pending {
						c.Pending++
						if !p.now.Before(j.stuckAt(pol.GracePeriod)) {
							c.Stuck++
						}
					}
				case j.Result == Succeeded:
					c.Succeeded++
				case j.Result == Failed:
					c.Failed++
				}
			}
		case Unreachable:
			if p.now.Sub(m.UnreachableSince) < pol.GracePeriod {
				c = m.LastKnown
			}
		}
		p.Counts[m.Name] = c
	}
	// The copies about to be created count for the strategies (they will run), not in Counts
	// (which says what runs now).
	p.Running, p.Pending = int64(len(p.Failovers)), int64(len(p.Failovers))
	for _, c := range p.Counts {
		p.Running += int64(c.Running)
		p.Pending += int64(c.Pending)
	}
	// A copy about to be created adds no unit of work: its source is counted already. Live Jobs
	// linked by failover (a source, its copy, a copy of that copy) are one unit: running once,
	// pending only while none of them has started.
	live := map[string]Job{}
	for _, j := range all {
		if j.Live() && !d.gone(j) {
			live[j.Key()] = j
		}
	}
	unit := map[string]string{} // Job key → a key of its unit (union-find parent)
	find := func(k string) string {
		for unit[k] != "" && unit[k] != k {
			k = unit[k]
		}
		return k
	}
	for k, j := range live {
		if _, ok := unit[k]; !ok {
			unit[k] = k
		}
		if _, ok := live[j.FailoverOf]; ok && j.FailoverOf != "" {
			if _, seen := unit[j.FailoverOf]; !seen {
				unit[j.FailoverOf] = j.FailoverOf
			}
			if a, b := find(k), find(j.FailoverOf); a != b {
				unit[a] = b
			}
		}
	}
	started := map[string]bool{}
	roots := map[string]bool{}
	for k, j := range live {
		r := find(k)
		roots[r] = true
		if !j.Pending {
			started[r] = true
		}
	}
	p.DistinctRunning = p.Running - int64(len(p.Failovers)) - int64(len(live)-len(roots))
	p.DistinctPending = p.Pending - int64(len(p.Failovers))
	for k, j := range live {
		if j.Pending && (started[find(k)] || find(k) != k) {
			p.DistinctPending-- // counted by its unit, once, and only if nothing in it started
		}
	}
}

func (p *Plan) requeueAfter(all []Job, copies map[string]int, pol Policy, d *deleter) time.Duration {
	now := p.now
	var next time.Duration
	consider := func(at time.Time) {
		if wait := at.Sub(now); wait > 0 && (next == 0 || wait < next) {
			next = wait
		}
	}
	for _, j := range all {
		if j.Live() && j.Pending && !d.gone(j) && copies[j.Key()] == 0 {
			consider(j.stuckAt(pol.GracePeriod))
		}
	}
	for _, t := range p.Taints {
		consider(t.Until(now))
	}
	if p.input().Strategy == PriorityFailover {
		for _, scopes := range []map[string][]TaintScope{p.Scopes, p.input().PeerScopes} {
			for _, ss := range scopes {
				for _, s := range ss {
					consider(s.Until)
				}
			}
		}
	}
	return next
}

// Place picks a member for each of n new Jobs, continuing the round-robin state after the
// failover picks, among the members that are observed, still whitelisted and not blocked
// (Blocked) after this evaluation: by smooth weighted round-robin over all of them
// (WeightedRoundRobin), or over those with the highest priority (PriorityFailover). It returns
// fewer than n names (none) when no member can take Jobs. Its time and memory are linear in
// n: the caller bounds n (the controller's Jobs-per-evaluation cap), never maxReplicaCount.
func (p *Plan) Place(n int) []string { return p.place(n) }

func (p *Plan) place(n int, exclude ...string) []string {
	var ms []distribution.Member
	top := int32(-1)
	for _, m := range p.members {
		if m.Access != Observed || m.Departed || slices.Contains(exclude, m.Name) || p.Blocked(m.Name) != "" {
			continue
		}
		if p.input().Strategy == PriorityFailover {
			switch {
			case m.Priority < top:
				continue
			case m.Priority > top:
				top, ms = m.Priority, ms[:0]
			}
		}
		ms = append(ms, distribution.Member{Name: m.Name, Weight: m.Weight})
	}
	if len(ms) == 0 || n <= 0 {
		return nil
	}
	picks, state := distribution.Place(n, ms, p.RRState)
	maps.Copy(p.RRState, state)
	return picks
}
