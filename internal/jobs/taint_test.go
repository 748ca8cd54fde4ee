package jobs

import (
	"testing"
	"time"
)

func TestTaint(t *testing.T) {
	const soft, hard = 3 * time.Minute, 5 * time.Minute
	tests := []struct {
		name      string
		taint     Taint
		now       time.Time
		fail      bool
		wantSoft  bool
		wantHard  bool
		wantUntil time.Time
	}{
		{name: "untainted", taint: Taint{}, now: at(0)},
		{name: "first failure: soft", taint: Taint{}, now: at(0), fail: true, wantSoft: true, wantUntil: at(0).Add(soft)},
		{name: "soft holds", taint: Taint{SoftUntil: at(180)}, now: at(179), wantSoft: true, wantUntil: at(180)},
		{name: "soft ends at its until", taint: Taint{SoftUntil: at(180)}, now: at(180)},
		{name: "second failure within the soft taint: hard", taint: Taint{SoftUntil: at(180)}, now: at(100), fail: true, wantHard: true, wantUntil: at(100).Add(hard)},
		{name: "failure after the soft taint ended: soft again", taint: Taint{SoftUntil: at(180)}, now: at(181), fail: true, wantSoft: true, wantUntil: at(181).Add(soft)},
		{name: "hard holds", taint: Taint{HardUntil: at(300)}, now: at(299), wantHard: true, wantUntil: at(300)},
		{name: "hard wins over a soft until", taint: Taint{SoftUntil: at(400), HardUntil: at(300)}, now: at(10), wantHard: true, wantUntil: at(300)},
		{name: "failure while hard: hard again from now", taint: Taint{HardUntil: at(300)}, now: at(200), fail: true, wantHard: true, wantUntil: at(200).Add(hard)},
		{name: "failure after the hard taint ended: soft", taint: Taint{HardUntil: at(300)}, now: at(300), fail: true, wantSoft: true, wantUntil: at(300).Add(soft)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := tt.taint.Expire(tt.now)
			if tt.fail {
				tn = tn.Fail(tt.now, soft, hard)
			}
			if tn.Soft(tt.now) != tt.wantSoft || tn.Hard(tt.now) != tt.wantHard || tn.Tainted(tt.now) != (tt.wantSoft || tt.wantHard) {
				t.Errorf("%+v: soft %v hard %v, want %v %v", tn, tn.Soft(tt.now), tn.Hard(tt.now), tt.wantSoft, tt.wantHard)
			}
			if got := tn.Until(tt.now); !got.Equal(tt.wantUntil) {
				t.Errorf("Until = %v, want %v", got, tt.wantUntil)
			}
		})
	}
}

func TestTaintExpireClearsEndedTaints(t *testing.T) {
	got := Taint{SoftUntil: at(10), HardUntil: at(20)}.Expire(at(30))
	if got != (Taint{}) {
		t.Errorf("Expire = %+v, want zero", got)
	}
	got = Taint{SoftUntil: at(10), HardUntil: at(20)}.Expire(at(5))
	if got != (Taint{HardUntil: at(20)}) {
		t.Errorf("Expire while hard = %+v: the soft until is dropped", got)
	}
}

// softTaintDuration 0s disables the soft taint: the first failure is hard (the reference's
// documented rule).
func TestTaintWithoutSoftTaint(t *testing.T) {
	got := Taint{}.Fail(at(0), 0, 5*time.Minute)
	if !got.Hard(at(0)) || got.HardUntil != at(300) || got.Soft(at(0)) {
		t.Errorf("Fail with soft 0 = %+v, want hard until 300s", got)
	}
}

func TestAddScope(t *testing.T) {
	s := func(class string, size int32, until int) TaintScope {
		return TaintScope{Class: class, Priority: 1, Size: size, Until: at(until)}
	}
	got := addScope([]TaintScope{s("a", 1, 50), s("b", 1, 5)}, s("a", 1, 80), at(10))
	if len(got) != 1 || got[0] != s("a", 1, 80) {
		t.Errorf("same scope: %+v, want it extended and the ended one dropped", got)
	}
	got = addScope([]TaintScope{s("a", 1, 50)}, s("a", 2, 40), at(10))
	if len(got) != 2 {
		t.Errorf("another size is another scope: %+v", got)
	}
	var many []TaintScope
	for i := range maxScopes + 5 {
		many = addScope(many, s("c", int32(i), 100+i), at(0))
	}
	if len(many) != maxScopes || many[len(many)-1].Until.Before(at(105)) {
		t.Errorf("%d scopes kept (the last ends %v): bounded, the ones that end first dropped", len(many), many[len(many)-1].Until)
	}
}
