package distribution

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"math/bits"
	"slices"
)

// Member is one member cluster as the split sees it.
type Member struct {
	Name string
	// Weight is the member's relative share. 0 (or less) makes it a standby member: it gets
	// replicas only while no member with a positive weight is eligible.
	Weight int32
}

// Split divides total replicas across members by the Webster/Sainte-Laguë method, the rule
// Karmada ≥ 1.16 uses for static weights (pkg/util/helper/webstermethod.go): seats are handed
// out one at a time to the member with the highest weight/(2·seats+1).
//
// Ties are broken by TieOrder(seed, names): the member that comes first wins every tie. Pass the
// object's UID as seed, so that the result is a pure function of (total, weights, UID): it does
// not depend on the order of members, needs no stored state, and survives a restart or a leader
// change, while different objects put their odd replicas on different members.
//
// Because seats are assigned one after another, the split is house-monotonic: raising the total
// never takes a replica from any member, and lowering it never gives one to any member. That is
// why Split takes no previous result: a change of total never moves replicas between members,
// and the moves a change of weights or membership causes are rate-limited by Evaluate.
//
// Members with weight ≤ 0 get 0 while any member has a positive weight; if none has, the total
// is split equally among them (same method, all weights 1). Names should be unique; a repeated
// name counts once, with its largest weight. Every member appears in the result, with 0 if it
// gets nothing. A total ≤ 0 gives 0 to everyone.
//
// Documented results (TestSplitDocumented; members k3d-member-1..3):
//
//	seed "7c1e0b94-3a5f-4d2e-8b6c-1f9a8e7d6c54", tie order member-1, member-2, member-3:
//	  total 4,  weights 1:1:1 → 2/1/1
//	  total 10, weights 1:1:1 → 4/3/3
//	  total 10, weights 3:1   → 8/2 (exact tie at quotas 7.5/2.5; member-1 wins the 10th seat)
//	seed "2f9b6a3e-5d1c-4c8e-9a7b-0e4d3c2b1a09", tie order member-2, member-3, member-1:
//	  total 4,  weights 1:1:1 → 1/2/1
//	  total 10, weights 1:1:1 → 3/4/3
//	  total 10, weights 3:1   → 7/3 (member-2 wins the 10th seat)
//
// For 3:1 the tie-break matters only at totals 2, 6, 10, ... (quotas ending in .5); other totals
// have one Webster answer.
func Split(total int32, members []Member, seed string) map[string]int32 {
	out := make(map[string]int32, len(members))
	ms := uniqueMembers(members)
	for _, m := range ms {
		out[m.Name] = 0
	}
	if total <= 0 || len(ms) == 0 {
		return out
	}
	weights := make([]uint64, len(ms))
	anyWeighted := false
	for i, m := range ms {
		if m.Weight > 0 {
			weights[i] = uint64(m.Weight)
			anyWeighted = true
		}
	}
	if !anyWeighted {
		for i := range weights {
			weights[i] = 1
		}
	}
	seats := webster(int64(total), weights, tieRanks(seed, ms))
	for i, m := range ms {
		out[m.Name] = int32(seats[i])
	}
	return out
}

// TieOrder returns names in the order in which they win ties for this seed: the first name wins
// every tie against the others. The key of a name is the first 8 bytes (big-endian) of
// SHA-256(seed, 0x00, name), smallest first, then the name itself; so it can be reproduced with
// `printf '%s\0%s' "$UID" "$NAME" | sha256sum`. Repeated names appear once.
func TieOrder(seed string, names []string) []string {
	ms := make([]Member, len(names))
	for i, n := range names {
		ms[i] = Member{Name: n}
	}
	ms = uniqueMembers(ms)
	ranks := tieRanks(seed, ms)
	out := make([]string, len(ms))
	for i, m := range ms {
		out[ranks[i]] = m.Name
	}
	return out
}

// uniqueMembers returns members sorted by name with repeated names merged (largest weight), so
// nothing downstream depends on the caller's order.
func uniqueMembers(members []Member) []Member {
	ms := slices.Clone(members)
	slices.SortFunc(ms, func(a, b Member) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(b.Weight, a.Weight))
	})
	return slices.CompactFunc(ms, func(a, b Member) bool { return a.Name == b.Name })
}

func tieKey(seed, name string) uint64 {
	h := sha256.New()
	h.Write([]byte(seed))
	h.Write([]byte{0})
	h.Write([]byte(name))
	return binary.BigEndian.Uint64(h.Sum(nil))
}

// tieRanks gives each member its position in the tie order (0 wins every tie).
func tieRanks(seed string, ms []Member) []int {
	type keyed struct {
		key  uint64
		name string
		idx  int
	}
	ks := make([]keyed, len(ms))
	for i, m := range ms {
		ks[i] = keyed{tieKey(seed, m.Name), m.Name, i}
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.name, b.name))
	})
	ranks := make([]int, len(ms))
	for r, k := range ks {
		ranks[k.idx] = r
	}
	return ranks
}

// webster assigns total seats to members with positive weights by sequential Sainte-Laguë with
// ties decided by rank (lower wins). The result equals handing out seats one at a time, but the
// first seats are placed in bulk so that a huge total does not loop billions of times:
//
// The sequential method gives each seat to the largest remaining quotient w/(2k+1) (k = 0, 1, ...);
// quotients are ordered by value, then by rank. So the first T seats are the T largest quotients
// in that order. For any threshold x, if at most T quotients are > x, they are all among those T,
// and each member's count of them is a lower bound on its seats. Continuing one seat at a time
// from such lower bounds then yields exactly the sequential result, because every member's
// quotients decrease and the greedy picks the remaining quotients in order.
func webster(total int64, weights []uint64, ranks []int) []int64 {
	seats := make([]int64, len(weights))
	var sum uint64
	for _, w := range weights {
		sum += w
	}
	if sum == 0 || total <= 0 {
		return seats
	}
	// Threshold x = sum/a: c(a) counts odd divisors 2k+1 < w·a/sum. Σc(a) grows by at most
	// len(weights) per step of a (w/sum ≤ 1 crosses at most one odd number), so the largest a
	// with Σc(a) ≤ total leaves fewer than len(weights) seats for the greedy loop.
	count := func(w, a uint64) int64 {
		hi, lo := bits.Mul64(w, a)
		q, r := bits.Div64(hi, lo, sum) // hi < sum because w ≤ sum
		if r == 0 {
			return int64(q / 2)
		}
		return int64((q + 1) / 2)
	}
	countAll := func(a uint64) int64 {
		var c int64
		for _, w := range weights {
			c += count(w, a)
		}
		return c
	}
	lo, hi := uint64(0), uint64(2*total)+uint64(len(weights))+2 // Σc(hi) > total
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if countAll(mid) <= total {
			lo = mid
		} else {
			hi = mid
		}
	}
	var given int64
	for i, w := range weights {
		seats[i] = count(w, lo)
		given += seats[i]
	}
	for ; given < total; given++ {
		best := -1
		for i, w := range weights {
			if w == 0 {
				continue
			}
			if best < 0 || higherQuotient(w, seats[i], ranks[i], weights[best], seats[best], ranks[best]) {
				best = i
			}
		}
		seats[best]++
	}
	return seats
}

// higherQuotient reports whether wa/(2·sa+1) beats wb/(2·sb+1), by cross-multiplication in
// exact integers (weights < 2³¹ and 2·seats+1 < 2³², so the products fit in 64 bits).
func higherQuotient(wa uint64, sa int64, ra int, wb uint64, sb int64, rb int) bool {
	l := wa * uint64(2*sb+1)
	r := wb * uint64(2*sa+1)
	if l != r {
		return l > r
	}
	return ra < rb
}
