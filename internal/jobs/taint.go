package jobs

import (
	"slices"
	"time"
)

// Taint is a member's taint state, kept in status as softTaintedUntil and hardTaintedUntil. A
// zero time means no such taint.
type Taint struct {
	SoftUntil time.Time
	HardUntil time.Time
}

// Hard reports whether a hard taint holds at now.
func (t Taint) Hard(now time.Time) bool { return now.Before(t.HardUntil) }

// Soft reports whether a soft taint, and no hard one, holds at now.
func (t Taint) Soft(now time.Time) bool { return !t.Hard(now) && now.Before(t.SoftUntil) }

// Tainted reports whether the member may get no new Jobs at now.
func (t Taint) Tainted(now time.Time) bool { return t.Hard(now) || t.Soft(now) }

// Until is when the taint that holds at now ends (zero when untainted).
func (t Taint) Until(now time.Time) time.Time {
	switch {
	case t.Hard(now):
		return t.HardUntil
	case t.Soft(now):
		return t.SoftUntil
	}
	return time.Time{}
}

// Expire drops the taints that ended by now.
func (t Taint) Expire(now time.Time) Taint {
	if !t.Hard(now) {
		t.HardUntil = time.Time{}
	}
	if !now.Before(t.SoftUntil) || t.Hard(now) {
		t.SoftUntil = time.Time{}
	}
	return t
}

// Fail records one failure of the member at now (one of its Jobs failed over): an untainted
// member gets a soft taint for soft; a member already tainted (soft or hard) gets a hard taint
// for hard from now. With soft ≤ 0 there is no soft taint and the first failure is hard, as
// the reference documents for softTaintDuration: 0s.
func (t Taint) Fail(now time.Time, soft, hard time.Duration) Taint {
	if t.Tainted(now) || soft <= 0 {
		return Taint{HardUntil: now.Add(hard)}
	}
	return Taint{SoftUntil: now.Add(soft)}
}

// Affinity is a priorityFailover DSJ's clusterScheduling.workloadAffinity.
type Affinity struct {
	Class string
	Size  int32
}

// TaintScope is one priorityFailover hard taint of a member: the member could not start a
// workload of Class and Size while it had Priority, so until Until it takes no workload of
// that class at that priority whose size is Size or larger. A smaller workload may still fit
// where a larger one did not, so the taint does not hold for it; a larger one would not fit
// either, so it does. That is what "monotonic" means for workloadAffinity.size.
type TaintScope struct {
	Class    string
	Priority int32
	Size     int32
	Until    time.Time
}

// Holds reports whether the scope keeps a workload of affinity a away from a member that has
// priority now.
func (s TaintScope) Holds(a Affinity, priority int32, now time.Time) bool {
	return now.Before(s.Until) && s.Class == a.Class && s.Priority == priority && a.Size >= s.Size
}

// maxScopes bounds the scopes kept per member (the status list's MaxItems): when more would be
// kept, those that end first are dropped.
const maxScopes = 64

// addScope records scope in scopes: an existing scope for the same class, priority and size is
// extended to the later end; ended scopes are dropped.
func addScope(scopes []TaintScope, scope TaintScope, now time.Time) []TaintScope {
	out := liveScopes(scopes, now)
	for i, s := range out {
		if s.Class == scope.Class && s.Priority == scope.Priority && s.Size == scope.Size {
			if scope.Until.After(s.Until) {
				out[i].Until = scope.Until
			}
			return out
		}
	}
	out = append(out, scope)
	if len(out) > maxScopes {
		slices.SortStableFunc(out, func(a, b TaintScope) int { return b.Until.Compare(a.Until) })
		out = out[:maxScopes]
	}
	return out
}

// liveScopes returns the scopes that have not ended by now, in order.
func liveScopes(scopes []TaintScope, now time.Time) []TaintScope {
	out := make([]TaintScope, 0, len(scopes))
	for _, s := range scopes {
		if now.Before(s.Until) {
			out = append(out, s)
		}
	}
	return out
}
