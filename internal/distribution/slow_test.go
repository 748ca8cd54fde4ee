package distribution

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// fleet simulates the members' targets: each evaluation's Write becomes spec.replicas, and a
// member runs as many ready replicas as its room allows.
type fleet struct {
	in   Input
	room map[string]int32 // ready replicas a member can run; absent = unlimited
}

func newFleet(total int32, room map[string]int32, desired ...int32) *fleet {
	ms := threeMembers(desired...)
	for i := range ms {
		ms[i].ReadyKnown, ms[i].Current = true, desired[i]
	}
	f := &fleet{in: Input{Total: total, Seed: "uid", Policy: policy50, Members: ms}, room: room}
	f.observe()
	return f
}

func (f *fleet) observe() {
	for i := range f.in.Members {
		m := &f.in.Members[i]
		m.Ready = m.Current
		if r, ok := f.room[m.Name]; ok {
			m.Ready = min(m.Current, r)
		}
	}
}

// step evaluates at t0+at and feeds the result back as status and as the members' new size.
func (f *fleet) step(t *testing.T, at time.Duration) Result {
	t.Helper()
	f.in.Now = t0.Add(at)
	res := Evaluate(f.in)
	checkInvariants(t, f.in, res)
	for i, r := range res.Members {
		m := &f.in.Members[i]
		m.State, m.Since, m.Desired = r.State, r.Since, r.Desired
		m.Progress, m.Capacity = r.Progress, r.Capacity
		m.LastReady, m.LastReadyKnown = m.Ready, m.ReadyKnown
		if r.Apply {
			m.Current = r.Write
		}
	}
	if !res.LastStep.IsZero() {
		f.in.LastStep = res.LastStep
	}
	f.observe()
	return res
}

// shares is "desired(write)" per member.
func shares(res Result) string {
	parts := make([]string, len(res.Members))
	for i, r := range res.Members {
		parts[i] = fmt.Sprintf("%d(%d)", r.Desired, r.Write)
		if r.Capacity != nil {
			parts[i] += fmt.Sprintf("cap%d", *r.Capacity)
		}
	}
	return strings.Join(parts, " ")
}

// Member 3 can run 3 of its 4 replicas: after the grace period without progress its share is
// capped at 3, the missing one moves to another member, and it keeps one probe replica; when it
// gets room the probe becomes ready and the replica comes back.
func TestSlowMemberLosesTheMissingShareAndGetsItBack(t *testing.T) {
	m3 := "k3d-member-3"
	f := newFleet(12, map[string]int32{m3: 3}, 4, 4, 4)
	steps := []struct {
		at      time.Duration
		room    int32 // member 3's room from this step on (0: unchanged)
		want    string
		requeue time.Duration
	}{
		{at: 0, want: "4(4) 4(4) 4(4)", requeue: time.Minute},
		{at: 30 * time.Second, want: "4(4) 4(4) 4(4)", requeue: 30 * time.Second},
		// Stalled for the grace period: capped at 3, the fourth replica moves (one step).
		{at: 60 * time.Second, want: "5(5) 4(4) 3(4)cap3"},
		{at: 90 * time.Second, want: "5(5) 4(4) 3(4)cap3"},
		// Room for 6: the probe becomes ready (4 > 3), the cap is lifted, the replica returns.
		{at: 120 * time.Second, room: 6, want: "4(4) 4(4) 4(4)"},
		{at: 200 * time.Second, want: "4(4) 4(4) 4(4)"},
	}
	for _, s := range steps {
		if s.room != 0 {
			f.room[m3] = s.room
			f.observe()
		}
		res := f.step(t, s.at)
		if got := shares(res); got != s.want {
			t.Fatalf("at %v: %s, want %s (%s)", s.at, got, s.want, res.Members[2].Description)
		}
		if s.requeue != 0 && res.RequeueAfter != s.requeue {
			t.Errorf("at %v: requeue %v, want %v", s.at, res.RequeueAfter, s.requeue)
		}
		if s.at == 60*time.Second {
			d := res.Members[2].Description
			for _, want := range []string{"slow: 3 of 4 replicas ready", "share capped at 3", "1 of its 4 replicas moved", "probe"} {
				if !strings.Contains(d, want) {
					t.Errorf("description %q lacks %q", d, want)
				}
			}
			if !res.Members[2].Progress.Equal(t0) {
				t.Errorf("progress %v, want the first evaluation (no progress since)", res.Members[2].Progress)
			}
		}
	}
}

// The missing part moves at the rebalance rate, one step per StepInterval.
func TestSlowMemberMovesRateLimited(t *testing.T) {
	m3 := "k3d-member-3"
	f := newFleet(30, map[string]int32{m3: 0}, 10, 10, 10)
	f.in.Policy = policy20 // at most 6 of 30 per step
	f.step(t, 0)
	res := f.step(t, time.Minute)
	if got := shares(res); got != "13(13) 13(13) 4(5)cap0" {
		t.Fatalf("first step: %s", got)
	}
	res = f.step(t, time.Minute+5*time.Second)
	if got := shares(res); got != "13(13) 13(13) 4(5)cap0" {
		t.Errorf("before the next step interval: %s", got)
	}
	res = f.step(t, time.Minute+15*time.Second)
	if got := shares(res); got != "15(15) 15(15) 0(1)cap0" {
		t.Errorf("second step: %s", got)
	}
}

func TestSlowProgressRules(t *testing.T) {
	base := func() MemberInput {
		return MemberInput{Name: "m", Weight: 1, Healthy: true, State: StateReady, Since: t0.Add(-time.Hour), Desired: 4,
			ReadyKnown: true, Current: 4, Ready: 2, Progress: t0.Add(-2 * time.Minute), LastReady: 2, LastReadyKnown: true}
	}
	other := MemberInput{Name: "o", Weight: 1, Healthy: true, State: StateReady, Since: t0.Add(-time.Hour), Desired: 4}
	tests := []struct {
		name         string
		mutate       func(*MemberInput)
		wantCap      int32 // -1: none
		wantProgress time.Time
	}{
		{name: "stalled past the grace period: capped at its ready replicas", wantCap: 2, wantProgress: t0.Add(-2 * time.Minute)},
		{name: "a ready replica more: progress, not slow", mutate: func(m *MemberInput) { m.Ready = 3 }, wantCap: -1, wantProgress: t0},
		{name: "caught up: progress", mutate: func(m *MemberInput) { m.Ready = 4 }, wantCap: -1, wantProgress: t0},
		{name: "within the grace period: not yet", mutate: func(m *MemberInput) { m.Progress = t0.Add(-30 * time.Second) }, wantCap: -1, wantProgress: t0.Add(-30 * time.Second)},
		{name: "readiness unknown: never slow", mutate: func(m *MemberInput) { m.ReadyKnown = false }, wantCap: -1},
		{name: "not healthy: no capacity kept", mutate: func(m *MemberInput) {
			m.Healthy, m.Capacity = false, new(int32(2))
		}, wantCap: -1, wantProgress: t0.Add(-2 * time.Minute)},
		{name: "capped and still short: stays capped", mutate: func(m *MemberInput) { m.Capacity, m.Current, m.Desired = new(int32(2)), 3, 2 },
			wantCap: 2, wantProgress: t0.Add(-2 * time.Minute)},
		{name: "capped and the probe became ready: lifted", mutate: func(m *MemberInput) { m.Capacity, m.Current, m.Desired, m.Ready = new(int32(2)), 3, 2, 3 },
			wantCap: -1, wantProgress: t0},
		{name: "capped and lost more: the cap follows after the grace period", mutate: func(m *MemberInput) {
			m.Capacity, m.Current, m.Desired, m.Ready, m.LastReady = new(int32(2)), 3, 2, 1, 2
		},
			wantCap: 1, wantProgress: t0.Add(-2 * time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := base()
			if tt.mutate != nil {
				tt.mutate(&m)
			}
			res := Evaluate(Input{Now: t0, Total: 8, Seed: "uid", Policy: policy50, Members: []MemberInput{m, other}})
			r := res.Members[0]
			switch {
			case tt.wantCap < 0 && r.Capacity != nil:
				t.Errorf("capacity %d, want none", *r.Capacity)
			case tt.wantCap >= 0 && (r.Capacity == nil || *r.Capacity != tt.wantCap):
				t.Errorf("capacity %v, want %d", r.Capacity, tt.wantCap)
			}
			if !r.Progress.Equal(tt.wantProgress) {
				t.Errorf("progress %v, want %v", r.Progress, tt.wantProgress)
			}
		})
	}
}

func TestSplitCapped(t *testing.T) {
	ms := []Member{{Name: "a", Weight: 1}, {Name: "b", Weight: 1}, {Name: "c", Weight: 1}, {Name: "standby", Weight: 0}}
	tests := []struct {
		name  string
		total int32
		caps  map[string]int32
		want  string
	}{
		{name: "no caps: Split", total: 9, want: "a=3 b=3 c=3 standby=0"},
		{name: "a cap below the share: the rest over the others", total: 9, caps: map[string]int32{"c": 1}, want: "a=4 b=4 c=1 standby=0"},
		{name: "a cap above the share changes nothing", total: 9, caps: map[string]int32{"c": 5}, want: "a=3 b=3 c=3 standby=0"},
		{name: "every weighted member capped: the standby takes the rest", total: 9, caps: map[string]int32{"a": 1, "b": 1, "c": 1}, want: "a=1 b=1 c=1 standby=6"},
		{name: "everyone capped: the excess stays over the capped", total: 9, caps: map[string]int32{"a": 1, "b": 1, "c": 1, "standby": 0}, want: "a=3 b=3 c=3 standby=0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := splitCapped(tt.total, ms, tt.caps, "uid")
			var parts []string
			var sum int32
			for _, m := range ms {
				parts = append(parts, fmt.Sprintf("%s=%d", m.Name, got[m.Name]))
				sum += got[m.Name]
			}
			if s := strings.Join(parts, " "); s != tt.want {
				t.Errorf("%s, want %s", s, tt.want)
			}
			if sum != tt.total {
				t.Errorf("Σ = %d, want %d", sum, tt.total)
			}
		})
	}
}

// splitCapped always places the whole total, never gives a capped member more than its cap
// while an uncapped member exists, and never gives an uncapped member less than Split would.
func FuzzSplitCapped(f *testing.F) {
	f.Add([]byte{1, 1, 1, 0}, []byte{0xff, 2, 0xff, 0xff}, int32(12), "uid")
	f.Add([]byte{3, 1, 0}, []byte{0, 0, 0xff}, int32(7), "x")
	f.Fuzz(func(t *testing.T, weights, caps []byte, total int32, seed string) {
		if len(weights) == 0 || len(weights) > 8 {
			return
		}
		total = max(total, 0) % 500
		var ms []Member
		cm := map[string]int32{}
		for i, w := range weights {
			name := fmt.Sprintf("m%d", i)
			ms = append(ms, Member{Name: name, Weight: int32(w % 5)})
			if i < len(caps) && caps[i] != 0xff {
				cm[name] = int32(caps[i] % 20)
			}
		}
		got := splitCapped(total, ms, cm, seed)
		plain := Split(total, ms, seed)
		var sum int32
		free := len(cm) < len(ms)
		for _, m := range ms {
			sum += got[m.Name]
			c, capped := cm[m.Name]
			if capped && free && got[m.Name] > max(c, plain[m.Name]) {
				t.Fatalf("%s: %d above its cap %d: %v", m.Name, got[m.Name], c, got)
			}
			if !capped && got[m.Name] < plain[m.Name] {
				t.Fatalf("%s uncapped got %d < %d: %v", m.Name, got[m.Name], plain[m.Name], got)
			}
		}
		if sum != total {
			t.Fatalf("Σ %d, want %d: %v", sum, total, got)
		}
	})
}
