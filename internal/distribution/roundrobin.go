package distribution

import "slices"

// Place picks a member for each of n new Jobs by smooth weighted round-robin, the rule nginx
// uses for weighted upstreams: every pick adds each member's weight to its current weight,
// takes the member with the largest current weight (ties: smallest name), and subtracts the
// sum of weights from it. Over any run the picks interleave (3:1 gives a a b a, not a a a b),
// and each member's count stays close to its proportional share.
//
// state holds the current weights by member name; persist the returned state (DSJ status) and
// pass it back, so the sequence continues across calls, restarts and leader changes exactly
// as one long run would. Members missing from state start at 0; names in state that are not
// in members are dropped. state is not modified.
//
// Pass only eligible members (not tainted). Members with weight ≤ 0 are skipped while any has a
// positive weight; if none has, they share equally (the standby rule of Split). With no members
// Place returns no names.
func Place(n int, members []Member, state map[string]int64) ([]string, map[string]int64) {
	ms := uniqueMembers(members)
	if slices.ContainsFunc(ms, func(m Member) bool { return m.Weight > 0 }) {
		ms = slices.DeleteFunc(ms, func(m Member) bool { return m.Weight <= 0 })
	} else {
		for i := range ms {
			ms[i].Weight = 1
		}
	}
	cur := make([]int64, len(ms))
	var sum int64
	for i, m := range ms {
		cur[i] = state[m.Name]
		sum += int64(m.Weight)
	}
	var picks []string
	if len(ms) > 0 {
		picks = make([]string, 0, max(n, 0))
		for range n {
			best := 0
			for i, m := range ms {
				cur[i] += int64(m.Weight)
				if cur[i] > cur[best] {
					best = i
				}
			}
			cur[best] -= sum
			picks = append(picks, ms[best].Name)
		}
	}
	next := make(map[string]int64, len(ms))
	for i, m := range ms {
		next[m.Name] = cur[i]
	}
	return picks, next
}
