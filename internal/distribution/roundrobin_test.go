package distribution

import (
	"fmt"
	"maps"
	"strings"
	"testing"
)

func TestPlace(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		members []Member
		want    string
	}{
		{"3:1 interleaves", 8, []Member{{"a", 3}, {"b", 1}}, "a a b a a a b a"},
		// The sequence from nginx's documentation of smooth weighted balancing.
		{"nginx 5:1:1", 7, []Member{{"c", 1}, {"b", 1}, {"a", 5}}, "a a b a c a a"},
		{"equal weights rotate by name", 5, []Member{{"y", 2}, {"x", 2}, {"z", 2}}, "x y z x y"},
		{"weight 0 skipped", 4, []Member{{"a", 1}, {"s", 0}, {"b", 1}}, "a b a b"},
		{"standby only share equally", 4, []Member{{"s", 0}, {"t", 0}}, "s t s t"},
		{"no members", 3, nil, ""},
		{"nothing to place", 0, []Member{{"a", 1}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := Place(tt.n, tt.members, nil)
			if s := strings.Join(got, " "); s != tt.want {
				t.Errorf("Place = %q, want %q", s, tt.want)
			}
		})
	}
}

func TestPlaceContinuesFromState(t *testing.T) {
	ms := []Member{{"a", 5}, {"b", 2}, {"c", 1}}
	all, allState := Place(13, ms, nil)
	first, state := Place(6, ms, nil)
	second, state := Place(7, ms, state)
	if got := append(first, second...); fmt.Sprint(got) != fmt.Sprint(all) {
		t.Errorf("split run %v, one run %v", got, all)
	}
	if !maps.Equal(state, allState) {
		t.Errorf("state %v, want %v", state, allState)
	}
	// A removed member's weight is dropped; a new one starts at 0.
	_, next := Place(1, []Member{{"a", 5}, {"d", 1}}, state)
	if _, ok := next["b"]; ok || len(next) != 2 {
		t.Errorf("state after membership change: %v", next)
	}
	in := maps.Clone(state)
	Place(3, ms, in)
	if !maps.Equal(in, state) {
		t.Errorf("Place modified its input state")
	}
}

// FuzzPlace: from any state, picks only eligible members; from a fresh state every member is
// within its proportional share rounded up at every point, and exactly on it after each full
// cycle of Σweights picks; one run equals the same run split over two calls.
func FuzzPlace(f *testing.F) {
	f.Add([]byte{3, 1}, uint16(100), uint16(7))
	f.Add([]byte{5, 1, 1}, uint16(50), uint16(0))
	f.Add([]byte{18, 3, 1, 18, 1, 18}, uint16(500), uint16(250))
	f.Add([]byte{0, 0, 4}, uint16(9), uint16(3))
	f.Fuzz(func(t *testing.T, weights []byte, n, cut uint16) {
		if len(weights) == 0 || len(weights) > 12 {
			return
		}
		n %= 2000
		ms := make([]Member, len(weights))
		var sum int64
		weighted := false
		for i, w := range weights {
			ms[i] = Member{Name: fmt.Sprintf("m%02d", i), Weight: int32(w)}
			weighted = weighted || w > 0
		}
		for i := range ms {
			if !weighted {
				ms[i].Weight = 1
			}
			sum += int64(ms[i].Weight)
		}
		picks, state := Place(int(n), ms, nil)
		if len(picks) != int(n) {
			t.Fatalf("%d picks for %d", len(picks), n)
		}
		count := map[string]int64{}
		for i, p := range picks {
			count[p]++
			done := int64(i + 1)
			for _, m := range ms {
				w := int64(m.Weight)
				if m.Weight == 0 && count[m.Name] > 0 {
					t.Fatalf("weight-0 member %s picked", m.Name)
				}
				// count < done·w/sum + 1, i.e. never above the share rounded up.
				if count[m.Name]*sum >= done*w+sum {
					t.Fatalf("after %d picks %s has %d, share %d·%d/%d", done, m.Name, count[m.Name], done, w, sum)
				}
				if done%sum == 0 && count[m.Name]*sum != done*w {
					t.Fatalf("after full cycle %d %s has %d, want %d", done, m.Name, count[m.Name], done*w/sum)
				}
			}
		}
		c := int(cut) % (int(n) + 1)
		first, mid := Place(c, ms, nil)
		second, end := Place(int(n)-c, ms, mid)
		if fmt.Sprint(append(first, second...)) != fmt.Sprint(picks) || !maps.Equal(end, state) {
			t.Fatalf("split at %d differs", c)
		}
	})
}
