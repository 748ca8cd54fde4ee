package distribution

import (
	"fmt"
	"time"
)

// Slow progress (capacity-aware failover). A Ready member whose target has fewer ready replicas
// than it was asked for, and has not gained one for GracePeriod, is slow: its pods are Pending
// (no room, quota) or never become ready. Its Capacity is then its ready replicas, and its
// target is capped there: the missing part of its share moves to members that are not capped,
// through the same rate-limited steps as any rebalance. While it is short of its share it is
// asked for one replica more than its capped share, a probe; as soon as its ready replicas
// exceed the capacity (the probe started: it has room again) the cap is lifted and its share
// comes back, rate-limited again. The cap is also lifted when its uncapped share no longer
// exceeds the capacity (nothing is missing any more). A member whose readiness is not known is
// never slow, and a member that is not Ready keeps no capacity (the failover state machine
// handles it).
//
// Progress is the last time the ready replicas grew, or reached what the member was asked for;
// it is what lastScalingProgressTime shows.

// progress updates r.Progress and r.Capacity for one member and returns when a member that is
// falling behind becomes slow, if it may.
func progress(r *MemberResult, m MemberInput, uncapped int32, now time.Time, pol Policy) (time.Time, bool) {
	if !m.ReadyKnown {
		return time.Time{}, false
	}
	r.Progress = m.Progress
	if r.Progress.IsZero() || m.Ready >= m.Current || (m.LastReadyKnown && m.Ready > m.LastReady) {
		r.Progress = now
	}
	if r.State != StateReady {
		return time.Time{}, false
	}
	stalled := m.Ready < m.Current && !now.Before(r.Progress.Add(pol.GracePeriod))
	switch {
	case m.Capacity != nil && (m.Ready > *m.Capacity || uncapped <= *m.Capacity):
		// Room again (the probe became ready), or nothing missing: lift the cap.
		r.Progress = now
	case m.Capacity != nil:
		c := *m.Capacity
		if stalled && m.Ready < c {
			c = m.Ready // it lost capacity while capped
		}
		r.Capacity = &c
	case stalled:
		c := max(m.Ready, 0)
		r.Capacity = &c
	case m.Ready < m.Current:
		return r.Progress.Add(pol.GracePeriod), true
	}
	return time.Time{}, false
}

// splitCapped is Split with a cap on some members: a capped member gets at most its cap and the
// rest is split again over the others, until no capped member is over its cap. When every
// member left is capped, what no cap can hold is split over the capped members (beyond their
// caps: there is nowhere else to put it).
func splitCapped(total int32, members []Member, caps map[string]int32, seed string) map[string]int32 {
	targets := Split(total, members, seed)
	if len(caps) == 0 {
		return targets
	}
	fixed := map[string]int32{}
	for {
		over := false
		var sumFixed int32
		for name, c := range caps {
			if _, done := fixed[name]; !done && targets[name] > c {
				fixed[name], over = c, true
			}
		}
		if !over {
			return targets
		}
		var free, capped []Member
		for _, m := range members {
			if _, ok := fixed[m.Name]; ok {
				capped = append(capped, m)
			} else {
				free = append(free, m)
			}
		}
		for _, c := range fixed {
			sumFixed += c
		}
		rest := total - sumFixed
		out := make(map[string]int32, len(members))
		for name, c := range fixed {
			out[name] = c
		}
		if len(free) == 0 {
			for name, n := range Split(rest, capped, seed) {
				out[name] += n
			}
			return out
		}
		for name, n := range Split(rest, free, seed) {
			out[name] = n
		}
		targets = out
	}
}

// describeSlow describes a Ready member while its capacity is capped, "" otherwise.
func describeSlow(r MemberResult, m MemberInput, uncapped int32, now time.Time, pol Policy) string {
	if r.Capacity == nil {
		return ""
	}
	d := fmt.Sprintf("slow: %d of %d replicas ready, no progress since %s (grace period %s); share capped at %d",
		m.Ready, m.Current, r.Progress.UTC().Format(time.RFC3339), fmtDuration(pol.GracePeriod), *r.Capacity)
	if missing := uncapped - r.Target; missing > 0 {
		d += fmt.Sprintf(", %d of its %d replicas moved to other members", missing, uncapped)
		if r.Desired > r.Target {
			d += fmt.Sprintf(" (%d still to move)", r.Desired-r.Target)
		}
	}
	if r.Write > r.Desired {
		d += "; 1 probe replica asked: when it becomes ready the share comes back"
	}
	return d
}
