package distribution

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"testing"
)

const (
	seedA = "7c1e0b94-3a5f-4d2e-8b6c-1f9a8e7d6c54" // tie order member-1, member-2, member-3
	seedB = "2f9b6a3e-5d1c-4c8e-9a7b-0e4d3c2b1a09" // tie order member-2, member-3, member-1
)

var three = []Member{{"k3d-member-1", 1}, {"k3d-member-2", 1}, {"k3d-member-3", 1}}

// TestSplitDocumented pins the results quoted in Split's comment (and in the README).
func TestSplitDocumented(t *testing.T) {
	w31 := []Member{{"k3d-member-1", 3}, {"k3d-member-2", 1}}
	tests := []struct {
		seed    string
		total   int32
		members []Member
		want    []int32 // member-1, member-2, member-3
	}{
		{seedA, 4, three, []int32{2, 1, 1}},
		{seedA, 10, three, []int32{4, 3, 3}},
		{seedA, 10, w31, []int32{8, 2}},
		{seedB, 4, three, []int32{1, 2, 1}},
		{seedB, 10, three, []int32{3, 4, 3}},
		{seedB, 10, w31, []int32{7, 3}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d/%d", tt.seed[:8], tt.total, len(tt.members)), func(t *testing.T) {
			got := Split(tt.total, tt.members, tt.seed)
			for i, w := range tt.want {
				if n := fmt.Sprintf("k3d-member-%d", i+1); got[n] != w {
					t.Errorf("%s = %d, want %d (all: %v)", n, got[n], w, got)
				}
			}
		})
	}
}

func TestTieOrder(t *testing.T) {
	names := []string{"k3d-member-3", "k3d-member-1", "k3d-member-2", "k3d-member-1"}
	tests := map[string][]string{
		seedA: {"k3d-member-1", "k3d-member-2", "k3d-member-3"},
		seedB: {"k3d-member-2", "k3d-member-3", "k3d-member-1"},
	}
	for seed, want := range tests {
		got := TieOrder(seed, names)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("TieOrder(%s) = %v, want %v", seed, got, want)
		}
	}
}

func TestSplit(t *testing.T) {
	tests := []struct {
		name    string
		total   int32
		members []Member
		want    map[string]int32
	}{
		{"no members", 5, nil, map[string]int32{}},
		{"zero total", 0, three, map[string]int32{"k3d-member-1": 0, "k3d-member-2": 0, "k3d-member-3": 0}},
		{"negative total", -3, three, map[string]int32{"k3d-member-1": 0, "k3d-member-2": 0, "k3d-member-3": 0}},
		{"one member", 7, []Member{{"a", 5}}, map[string]int32{"a": 7}},
		{"standby gets nothing", 9, []Member{{"a", 1}, {"s", 0}, {"t", -2}}, map[string]int32{"a": 9, "s": 0, "t": 0}},
		{"standby only split equally", 7, []Member{{"s", 0}, {"t", 0}}, map[string]int32{"s": 4, "t": 3}},
		{"duplicate keeps largest weight", 8, []Member{{"a", 1}, {"b", 1}, {"a", 3}}, map[string]int32{"a": 6, "b": 2}},
		{"rounded quotas", 4, []Member{{"a", 5}, {"b", 3}, {"c", 2}}, map[string]int32{"a": 2, "b": 1, "c": 1}},
		// Quotas 2.83/1.17 round to 3/1, as Webster rounds each quota to the nearest integer.
		{"rounds to nearest", 4, []Member{{"a", 17}, {"b", 7}}, map[string]int32{"a": 3, "b": 1}},
		{"max total", math.MaxInt32, []Member{{"a", math.MaxInt32}, {"b", 1}}, map[string]int32{"a": math.MaxInt32 - 1, "b": 1}},
		{"max total equal", math.MaxInt32, []Member{{"a", 2}, {"b", 2}}, map[string]int32{"a": 1 << 30, "b": 1<<30 - 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Split(tt.total, tt.members, "seed")
			if !maps.Equal(got, tt.want) {
				t.Errorf("Split(%d, %v) = %v, want %v", tt.total, tt.members, got, tt.want)
			}
		})
	}
}

// sequentialWebster is the textbook method, one seat at a time, to check Split's shortcut.
func sequentialWebster(total int32, members []Member, seed string) map[string]int32 {
	ms := uniqueMembers(members)
	order := TieOrder(seed, namesOf(ms))
	rank := map[string]int{}
	for i, n := range order {
		rank[n] = i
	}
	weighted := false
	for _, m := range ms {
		weighted = weighted || m.Weight > 0
	}
	out := map[string]int32{}
	for _, m := range ms {
		out[m.Name] = 0
	}
	for range max(total, 0) {
		best := -1
		for i, m := range ms {
			w := int64(m.Weight)
			if !weighted {
				w = 1
			}
			if w <= 0 {
				continue
			}
			if best < 0 {
				best = i
				continue
			}
			b := ms[best]
			bw := int64(b.Weight)
			if !weighted {
				bw = 1
			}
			l, r := w*int64(2*out[b.Name]+1), bw*int64(2*out[m.Name]+1)
			if l > r || l == r && rank[m.Name] < rank[b.Name] {
				best = i
			}
		}
		if best >= 0 {
			out[ms[best].Name]++
		}
	}
	return out
}

func namesOf(ms []Member) []string {
	n := make([]string, len(ms))
	for i, m := range ms {
		n[i] = m.Name
	}
	return n
}

func TestSplitMatchesSequential(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for range 2000 {
		ms := randomMembers(r, 1+r.IntN(8), 1+r.Int32N(20))
		total := r.Int32N(200)
		seed := fmt.Sprint(r.Uint32())
		if got, want := Split(total, ms, seed), sequentialWebster(total, ms, seed); !maps.Equal(got, want) {
			t.Fatalf("Split(%d, %v, %q) = %v, sequential gives %v", total, ms, seed, got, want)
		}
	}
}

func randomMembers(r *rand.Rand, n int, maxWeight int32) []Member {
	ms := make([]Member, n)
	for i := range ms {
		ms[i] = Member{Name: fmt.Sprintf("m%d", i), Weight: r.Int32N(maxWeight+1) - 1}
	}
	return ms
}

// FuzzSplit checks the invariants: the split sums to the total, does not depend on input order,
// never takes a replica from a member when the total grows, gives nothing to standby members
// while a weighted member exists, meets the Webster condition at any total (which checks the
// bulk start of large totals), and equals the one-seat-at-a-time method for small totals.
func FuzzSplit(f *testing.F) {
	f.Add(int32(10), []byte{1, 1, 1}, "uid", uint64(1))
	f.Add(int32(10), []byte{3, 1}, "uid", uint64(2))
	f.Add(int32(1000), []byte{0, 5, 0, 200, 7}, "x", uint64(3))
	f.Add(int32(math.MaxInt32-1), []byte{255, 1, 128}, "", uint64(4))
	f.Fuzz(func(t *testing.T, total int32, weights []byte, seed string, shuffle uint64) {
		if len(weights) > 16 {
			weights = weights[:16]
		}
		ms := make([]Member, len(weights))
		weighted := false
		for i, w := range weights {
			ms[i] = Member{Name: fmt.Sprintf("m%d", i), Weight: int32(w) * int32(w)} // up to 65025
			weighted = weighted || w > 0
		}
		got := Split(total, ms, seed)

		var sum int64
		for _, m := range ms {
			sum += int64(got[m.Name])
			if weighted && m.Weight == 0 && got[m.Name] != 0 {
				t.Fatalf("standby %s got %d while weighted members exist", m.Name, got[m.Name])
			}
		}
		if want := int64(max(total, 0)); len(ms) > 0 && sum != want {
			t.Fatalf("sum %d, want %d: %v", sum, want, got)
		}

		shuffled := append([]Member(nil), ms...)
		rand.New(rand.NewPCG(shuffle, 0)).Shuffle(len(shuffled), func(i, j int) {
			shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
		})
		if again := Split(total, shuffled, seed); !maps.Equal(got, again) {
			t.Fatalf("order matters: %v vs %v", got, again)
		}

		if total < math.MaxInt32 {
			up := Split(total+1, ms, seed)
			for n, v := range got {
				if up[n] < v {
					t.Fatalf("total %d→%d took from %s: %d→%d", total, total+1, n, v, up[n])
				}
			}
		}
		checkWebsterCondition(t, got, ms, seed)
		if total >= 0 && total <= 500 {
			if want := sequentialWebster(total, ms, seed); !maps.Equal(got, want) {
				t.Fatalf("got %v, sequential %v", got, want)
			}
		}
	})
}

// checkWebsterCondition: every seat given beats every seat not given, w_i/(2s_i−1) ≥
// w_j/(2s_j+1), and on equality the member given the seat is ahead in the tie order.
func checkWebsterCondition(t *testing.T, got map[string]int32, ms []Member, seed string) {
	t.Helper()
	ms = uniqueMembers(ms)
	weighted := false
	for _, m := range ms {
		weighted = weighted || m.Weight > 0
	}
	rank := map[string]int{}
	for i, n := range TieOrder(seed, namesOf(ms)) {
		rank[n] = i
	}
	weight := func(m Member) uint64 {
		if !weighted {
			return 1
		}
		return uint64(max(m.Weight, 0))
	}
	for _, a := range ms {
		sa := uint64(got[a.Name])
		if sa == 0 {
			continue
		}
		for _, b := range ms {
			if a.Name == b.Name || weight(b) == 0 {
				continue
			}
			sb := uint64(got[b.Name])
			l, r := weight(a)*(2*sb+1), weight(b)*(2*sa-1)
			if l < r || l == r && rank[a.Name] > rank[b.Name] {
				t.Fatalf("%s (w %d, %d seats) holds a seat %s (w %d, %d seats) should have", a.Name, a.Weight, sa, b.Name, b.Weight, sb)
			}
		}
	}
}
