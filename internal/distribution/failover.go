package distribution

import (
	"fmt"
	"slices"
	"time"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

// State is a member's place in the failover state machine, as shown in status.
type State string

const (
	// StateReady: healthy and included; its share is written to it.
	StateReady State = "Ready"
	// StateUnhealthy: API not Ready or target missing, within the grace period. It keeps its
	// share and is still counted, so a blip moves nothing; nothing is written to it.
	StateUnhealthy State = "Unhealthy"
	// StateExcluded: unhealthy for longer than the grace period. Its share moves to the others;
	// nothing is written to it.
	StateExcluded State = "Excluded"
	// StateRecovering: healthy again but excluded until it has stayed healthy for the
	// stabilisation period; left as it is.
	StateRecovering State = "Recovering"
)

// Defaults of Policy: the DSO's spec.rebalancingPolicy defaults.
const (
	DefaultGracePeriod            = v1alpha1.DefaultRebalanceGracePeriod
	DefaultMaxRebalancePercentage = v1alpha1.DefaultMaxRebalancePercentage
	// DefaultStepInterval is KEDA's default pollingInterval: the sync period between steps.
	DefaultStepInterval = 30 * time.Second
)

// Policy holds the rebalancing knobs.
type Policy struct {
	// GracePeriod is how long an unhealthy member keeps its share before it is excluded.
	// Taken as given: 0 excludes at once.
	GracePeriod time.Duration
	// StabilizationPeriod is how long an excluded member must stay healthy before it is
	// included again. 0 means "same as GracePeriod".
	StabilizationPeriod time.Duration
	// MaxRebalancePercentage (1..100) caps how much of the total may move between members in one
	// step: max(1, total·p/100) replicas. 0 means 50; values above 100 mean 100.
	MaxRebalancePercentage int32
	// StepInterval is the least time between two rebalancing steps (the sync period). It is
	// enforced from Input.LastStep, so extra reconciles (watch events) do not speed up a
	// rebalance. 0 means DefaultStepInterval.
	StepInterval time.Duration
}

// DefaultPolicy returns the defaults: grace 1m, stabilisation 1m, 50 %, steps 30s apart.
func DefaultPolicy() Policy {
	return Policy{
		GracePeriod:            DefaultGracePeriod,
		StabilizationPeriod:    DefaultGracePeriod,
		MaxRebalancePercentage: DefaultMaxRebalancePercentage,
		StepInterval:           DefaultStepInterval,
	}
}

func (p Policy) normalized() Policy {
	p.GracePeriod = max(p.GracePeriod, 0)
	if p.StabilizationPeriod <= 0 {
		p.StabilizationPeriod = p.GracePeriod
	}
	switch {
	case p.MaxRebalancePercentage <= 0:
		p.MaxRebalancePercentage = DefaultMaxRebalancePercentage
	case p.MaxRebalancePercentage > 100:
		p.MaxRebalancePercentage = 100
	}
	if p.StepInterval <= 0 {
		p.StepInterval = DefaultStepInterval
	}
	return p
}

// MemberInput is what the caller observed about one member now, plus what it stored in status
// last time.
type MemberInput struct {
	Name   string
	Weight int32
	// Healthy: the member's API is Ready AND the scale target exists.
	Healthy bool
	// Reason says why it is unhealthy, for the description ("target missing", "API not ready");
	// "unhealthy" when empty.
	Reason string

	// Stored in status by the previous evaluation (zero values for a new member):
	// State, Since (MemberResult.Since) and Desired (MemberResult.Desired). An unknown State,
	// or a zero Since, counts as "entered its current health now", so a lost timestamp delays
	// an exclusion or a return rather than hastening it.
	State   State
	Since   time.Time
	Desired int32

	// Readiness, for slow progress (slow.go). ReadyKnown: the target reports its ready
	// replicas (or its pods can be counted); a member without it is never slow. Ready is the
	// ready replicas now, Current the replicas it was asked for (spec.replicas).
	ReadyKnown bool
	Ready      int32
	Current    int32
	// Stored by the previous evaluation: Progress (MemberResult.Progress), LastReady and
	// LastReadyKnown (the Ready seen then), Capacity (MemberResult.Capacity).
	Progress       time.Time
	LastReady      int32
	LastReadyKnown bool
	Capacity       *int32
}

// Input is one evaluation of one object.
type Input struct {
	Now   time.Time
	Total int32
	// Seed breaks ties in the split; pass the object's UID.
	Seed   string
	Policy Policy
	// LastStep is Result.LastStep from the previous evaluation (zero if none).
	LastStep time.Time
	Members  []MemberInput
}

// MemberResult is the decision for one member.
type MemberResult struct {
	Name  string
	State State
	// Since is when the member entered its current health (healthy or unhealthy); persist it
	// (lastStatusChangeTime). Unhealthy→Excluded and Recovering→Ready keep it.
	Since    time.Time
	Excluded bool
	// Desired is the member's share now; persist it (desiredReplicas). For an excluded member it
	// is the part of its former share not yet moved to the others.
	Desired int32
	// Target is the share it will have once settled (the Split over included members).
	Target int32
	// Apply: write Write to the member's scale target. False for every member that is not
	// Ready: an unreachable API or a missing target cannot be written, and a recovering member
	// is left as it is.
	Apply bool
	// Write is Desired, plus one probe replica while the member is slow and short of its share
	// (slow.go): when the probe becomes ready the member has room again.
	Write       int32
	Description string
	// Progress is the last time the target's ready replicas grew or reached what it was asked
	// for (zero when readiness is not known); persist it (lastScalingProgressTime).
	Progress time.Time
	// Capacity is set while the member is slow: the ready replicas it has shown it can run, the
	// cap of its share. Persist it and pass it back.
	Capacity *int32
}

// Result is the outcome of one evaluation.
type Result struct {
	// Members, in the order of Input.Members.
	Members []MemberResult
	// Settled: every member's Desired equals its Target, so nothing more will move without a
	// change of input. Not settled while a rate-limited move is under way, or while there is a
	// total to place but no member is included.
	Settled bool
	// LastStep is when the last rebalancing step was taken; persist it and pass it back.
	LastStep time.Time
	// RequeueAfter is when to evaluate again: the next rebalancing step, the end of a grace
	// period or of a stabilisation period, whichever comes first. 0 when nothing is scheduled.
	RequeueAfter time.Duration
}

// Evaluate runs the failover state machine and one rebalancing step. It is pure: time comes in
// as Input.Now and all state goes out in the Result, for the caller to persist in status.
//
// Health. A member that turns unhealthy keeps its share for GracePeriod ("Unhealthy"), then is
// excluded ("Excluded"). A member that turns healthy within the grace period was never excluded
// and gets its share written at once. An excluded member that turns healthy stays excluded until
// it has been healthy for StabilizationPeriod ("Recovering"), then is included ("Ready").
//
// Shares. Targets are Split(Total) over the members that are not excluded. Each member's share
// moves from its stored Desired toward its target, never past it, in two parts:
//
//  1. A change of Total (from the autoscaler) is applied at once: new replicas go to members
//     below target (Ready ones first), removed ones come from members above target (excluded
//     ones first, then Unhealthy, then Ready). The autoscaler already limits its own rate.
//  2. Replicas that move between members, because a member was excluded or included or a weight
//     changed, move at most max(1, Total·MaxRebalancePercentage/100) per step, one step per
//     StepInterval. They go only to Ready members and come from excluded or Ready members;
//     Unhealthy members are frozen during their grace period (no churn on blips).
//
// Invariant: whenever at least one member is included, Σ Desired over all members = Total.
// So Σ Desired over included members = Total − Σ Desired over excluded members: while an
// excluded member's share is still moving, the included members together hold less than Total
// (never more). When a member comes back, the others give back exactly what it gains in the
// same step, so the included sum stays Total. Once Settled, excluded members hold 0 and the
// included members hold exactly Total.
//
// A healthy member is never scaled down because another member is unhealthy: excluding a member
// only raises the others' targets (Webster over fewer members gives each survivor at least as
// much), and an Unhealthy member changes nothing. Healthy members give replicas back only when
// the total falls, when a member is included again (the planned return, rate-limited), or when
// weights change. The current replicas of a member are not an input: decisions rest on the
// stored shares, so an unreachable member's unknown count cannot move anyone.
func Evaluate(in Input) Result {
	pol := in.Policy.normalized()
	now := in.Now
	res := Result{Members: make([]MemberResult, len(in.Members)), LastStep: in.LastStep}

	// Health transitions, and which members are included.
	var next []time.Time
	seen := make(map[string]bool, len(in.Members))
	var idx []int // positions of the first occurrence of each name
	for i, m := range in.Members {
		r := &res.Members[i]
		r.Name = m.Name
		if seen[m.Name] {
			r.State, r.Excluded = StateExcluded, true
			r.Description = "duplicate member name; ignored"
			continue
		}
		seen[m.Name] = true
		idx = append(idx, i)
		transition(r, m, now, pol)
		switch r.State {
		case StateUnhealthy:
			next = append(next, r.Since.Add(pol.GracePeriod))
		case StateRecovering:
			next = append(next, r.Since.Add(pol.StabilizationPeriod))
		}
	}

	// Targets over the included members; a slow member's share is capped at what it runs.
	var included []Member
	for _, i := range idx {
		if !res.Members[i].Excluded {
			included = append(included, Member{Name: in.Members[i].Name, Weight: in.Members[i].Weight})
		}
	}
	total := max(in.Total, 0)
	uncapped := Split(total, included, in.Seed)
	caps := map[string]int32{}
	for _, i := range idx {
		r, m := &res.Members[i], in.Members[i]
		if t, ok := progress(r, m, uncapped[m.Name], now, pol); ok {
			next = append(next, t)
		}
		if r.Capacity != nil {
			caps[r.Name] = *r.Capacity
		}
	}
	targets := splitCapped(total, included, caps, in.Seed)

	ranks := tieRanks(in.Seed, membersAt(in.Members, idx))
	shares := make([]share, len(idx))
	for k, i := range idx {
		shares[k] = share{
			rank:    ranks[k],
			state:   res.Members[i].State,
			desired: int64(max(in.Members[i].Desired, 0)),
			target:  int64(targets[in.Members[i].Name]),
		}
	}

	if len(included) == 0 && total > 0 {
		// Nowhere to put the total: every share stays where it is until a member is included.
		for k := range shares {
			shares[k].target = shares[k].desired
		}
	} else {
		applyTotal(shares, int64(total))
		if in.LastStep.IsZero() || !now.Before(in.LastStep.Add(pol.StepInterval)) {
			limit := max(1, int64(total)*int64(pol.MaxRebalancePercentage)/100)
			if moveShares(shares, limit) > 0 {
				res.LastStep = now
			}
		}
		if canMove(shares) {
			next = append(next, res.LastStep.Add(pol.StepInterval))
		}
	}

	res.Settled = len(included) > 0 || total == 0
	for k, i := range idx {
		r := &res.Members[i]
		r.Desired = int32(shares[k].desired)
		r.Target = int32(targets[r.Name])
		r.Apply = r.State == StateReady
		r.Write = r.Desired
		if r.Capacity != nil && r.Desired < uncapped[r.Name] {
			r.Write++
		}
		r.Description = describe(*r, in.Members[i], uncapped[r.Name], now, pol)
		if r.Desired != r.Target {
			res.Settled = false
		}
	}

	for _, t := range next {
		if d := t.Sub(now); d > 0 && (res.RequeueAfter == 0 || d < res.RequeueAfter) {
			res.RequeueAfter = d
		}
	}
	return res
}

// transition sets State, Since and Excluded from the stored state and the new observation.
func transition(r *MemberResult, m MemberInput, now time.Time, pol Policy) {
	wasHealthy, excluded, known := false, false, true
	switch m.State {
	case StateReady:
		wasHealthy = true
	case StateUnhealthy:
	case StateExcluded:
		excluded = true
	case StateRecovering:
		wasHealthy, excluded = true, true
	default:
		known = false
	}
	since := m.Since
	if !known || wasHealthy != m.Healthy || since.IsZero() {
		since = now
	}
	elapsed := max(now.Sub(since), 0)
	if m.Healthy {
		if excluded && elapsed >= pol.StabilizationPeriod {
			excluded = false
		}
		r.State = StateReady
		if excluded {
			r.State = StateRecovering
		}
	} else {
		if !excluded && elapsed >= pol.GracePeriod {
			excluded = true
		}
		r.State = StateUnhealthy
		if excluded {
			r.State = StateExcluded
		}
	}
	r.Since, r.Excluded = since, excluded
}

func membersAt(in []MemberInput, idx []int) []Member {
	ms := make([]Member, len(idx))
	for k, i := range idx {
		ms[k] = Member{Name: in[i].Name}
	}
	return ms
}

// share is one member's bookkeeping during a step.
type share struct {
	rank            int
	state           State
	desired, target int64
}

func (s share) excluded() bool { return s.state == StateExcluded || s.state == StateRecovering }
func isReady(s share) bool     { return s.state == StateReady }
func isUnhealthy(s share) bool { return s.state == StateUnhealthy }

// applyTotal makes Σ desired equal total without moving replicas between members: it only adds
// to members below target or only takes from members above target. Both always suffice because
// Σ target = total.
func applyTotal(shares []share, total int64) {
	var sum int64
	for _, s := range shares {
		sum += s.desired
	}
	switch {
	case sum < total:
		n := total - sum
		n -= add(shares, n, isReady)
		add(shares, n, isUnhealthy)
	case sum > total:
		n := sum - total
		n -= take(shares, n, share.excluded)
		n -= take(shares, n, isUnhealthy)
		take(shares, n, isReady)
	}
}

// moveShares moves up to limit replicas from members above target (excluded ones first, then
// Ready ones) to Ready members below target. Unhealthy members are left alone. It returns how
// many moved.
func moveShares(shares []share, limit int64) int64 {
	in, out := movable(shares)
	n := min(in, out, limit)
	if n <= 0 {
		return 0
	}
	add(shares, n, isReady)
	taken := take(shares, n, share.excluded)
	take(shares, n-taken, isReady)
	return n
}

// canMove reports whether a later step could move anything.
func canMove(shares []share) bool {
	in, out := movable(shares)
	return in > 0 && out > 0
}

// movable returns how many replicas Ready members lack and how many excluded or Ready members
// hold beyond their targets.
func movable(shares []share) (in, out int64) {
	for _, s := range shares {
		switch {
		case isReady(s) && s.desired < s.target:
			in += s.target - s.desired
		case (isReady(s) || s.excluded()) && s.desired > s.target:
			out += s.desired - s.target
		}
	}
	return in, out
}

// add gives up to n replicas to the members selected by ok that are below target, and returns
// how many it gave.
func add(shares []share, n int64, ok func(share) bool) int64 {
	var pos []int
	var gaps []int64
	for i, s := range shares {
		if ok(s) && s.desired < s.target {
			pos = append(pos, i)
			gaps = append(gaps, s.target-s.desired)
		}
	}
	got := level(n, gaps, ranksAt(shares, pos))
	var sum int64
	for k, i := range pos {
		shares[i].desired += got[k]
		sum += got[k]
	}
	return sum
}

// take removes up to n replicas from the members selected by ok that are above target, and
// returns how many it took.
func take(shares []share, n int64, ok func(share) bool) int64 {
	var pos []int
	var gaps []int64
	for i, s := range shares {
		if ok(s) && s.desired > s.target {
			pos = append(pos, i)
			gaps = append(gaps, s.desired-s.target)
		}
	}
	got := level(n, gaps, ranksAt(shares, pos))
	var sum int64
	for k, i := range pos {
		shares[i].desired -= got[k]
		sum += got[k]
	}
	return sum
}

func ranksAt(shares []share, pos []int) []int {
	r := make([]int, len(pos))
	for k, i := range pos {
		r[k] = shares[i].rank
	}
	return r
}

// level hands out n units over gaps, largest gap first, so the remaining gaps end as even as
// possible (water-filling); leftover single units go by rank. It never exceeds a gap and hands
// out min(n, Σgaps).
func level(n int64, gaps []int64, ranks []int) []int64 {
	got := make([]int64, len(gaps))
	if n <= 0 || len(gaps) == 0 {
		return got
	}
	over := func(l int64) int64 { // units handed out if every gap is cut down to l
		var s int64
		for _, g := range gaps {
			s += max(g-l, 0)
		}
		return s
	}
	// Smallest level l with over(l) ≤ n.
	lo, hi := int64(0), slices.Max(gaps)
	for lo < hi {
		mid := lo + (hi-lo)/2
		if over(mid) <= n {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	l := lo
	left := n
	for i, g := range gaps {
		got[i] = max(g-l, 0)
		left -= got[i]
	}
	if l == 0 || left <= 0 {
		return got
	}
	// Fewer than len(gaps) units are left (over(l−1) > n); give one each to gaps still at l.
	order := make([]int, 0, len(gaps))
	for i, g := range gaps {
		if g >= l {
			order = append(order, i)
		}
	}
	slices.SortFunc(order, func(a, b int) int { return ranks[a] - ranks[b] })
	for _, i := range order[:min(int(left), len(order))] {
		got[i]++
	}
	return got
}

func describe(r MemberResult, m MemberInput, uncapped int32, now time.Time, pol Policy) string {
	reason := m.Reason
	if reason == "" {
		reason = "unhealthy"
	}
	dur := fmtDuration(now.Sub(r.Since))
	switch r.State {
	case StateUnhealthy:
		return fmt.Sprintf("%s for %s; grace period %s", reason, dur, fmtDuration(pol.GracePeriod))
	case StateExcluded:
		d := fmt.Sprintf("%s for %s; excluded after grace period %s", reason, dur, fmtDuration(pol.GracePeriod))
		if r.Desired > 0 {
			d += fmt.Sprintf("; %d of its replicas still to move to other members", r.Desired)
		}
		return d
	case StateRecovering:
		return fmt.Sprintf("healthy for %s; excluded until healthy for %s", dur, fmtDuration(pol.StabilizationPeriod))
	}
	if d := describeSlow(r, m, uncapped, now, pol); d != "" {
		return d
	}
	switch {
	case r.Desired < r.Target:
		return fmt.Sprintf("healthy; receiving replicas: %d of %d", r.Desired, r.Target)
	case r.Desired > r.Target:
		return fmt.Sprintf("healthy; giving back replicas: %d, going to %d", r.Desired, r.Target)
	}
	return "healthy"
}

func fmtDuration(d time.Duration) string { return max(d, 0).Round(time.Second).String() }
