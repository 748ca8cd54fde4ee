package jobs

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// prioritized returns observed members with these priorities, in order m1, m2, m3.
func prioritized(priorities ...int32) []Member {
	ms := observed(m1, m2, m3)[:len(priorities)]
	for i, p := range priorities {
		ms[i].Priority = p
	}
	return ms
}

func pf(affinity Affinity) func(*Input) {
	return func(in *Input) { in.Strategy, in.Affinity = PriorityFailover, affinity }
}

func evaluate(now int, members []Member, jobs []Job, mut ...func(*Input)) *Plan {
	in := Input{Now: at(now), Members: members, Jobs: jobs, Policy: policy()}
	for _, f := range mut {
		f(&in)
	}
	return Evaluate(in)
}

func TestPriorityFailoverPlacement(t *testing.T) {
	gpu := Affinity{Class: "gpu", Size: 4}
	scope := func(class string, priority, size int32, until int) TaintScope {
		return TaintScope{Class: class, Priority: priority, Size: size, Until: at(until)}
	}
	withScopes := func(ms []Member, name string, ss ...TaintScope) []Member {
		for i := range ms {
			if ms[i].Name == name {
				ms[i].Scopes = ss
			}
		}
		return ms
	}
	tests := []struct {
		name     string
		members  []Member
		affinity Affinity
		peers    map[string][]TaintScope
		want     []string
		blocked  string
	}{
		{
			name:    "every Job goes to the highest priority",
			members: prioritized(10, 100, 50), affinity: gpu,
			want: []string{m2, m2, m2, m2},
		},
		{
			name:    "a tie shares by weighted round-robin",
			members: prioritized(100, 100, 50), affinity: gpu,
			want: []string{m1, m2, m1, m2},
		},
		{
			name:    "a member that is down is ineligible at once: the next priority",
			members: func() []Member { ms := prioritized(10, 100, 50); ms[1].Access = Unreachable; return ms }(), affinity: gpu,
			want: []string{m3, m3, m3, m3},
		},
		{
			name:    "hard taint scope for the class, at the member's priority: spill to the next priority",
			members: withScopes(prioritized(10, 100, 50), m2, scope("gpu", 100, 4, 100)), affinity: gpu,
			want: []string{m3, m3, m3, m3}, blocked: m2,
		},
		{
			name:    "a scope recorded for a smaller size holds for a larger workload",
			members: withScopes(prioritized(10, 100, 50), m2, scope("gpu", 100, 2, 100)), affinity: Affinity{Class: "gpu", Size: 8},
			want: []string{m3, m3, m3, m3}, blocked: m2,
		},
		{
			name:    "a scope recorded for a larger size does not hold for a smaller workload",
			members: withScopes(prioritized(10, 100, 50), m2, scope("gpu", 100, 8, 100)), affinity: Affinity{Class: "gpu", Size: 4},
			want: []string{m2, m2, m2, m2},
		},
		{
			name:    "another class is not tainted",
			members: withScopes(prioritized(10, 100, 50), m2, scope("cpu", 100, 0, 100)), affinity: gpu,
			want: []string{m2, m2, m2, m2},
		},
		{
			name:    "a scope recorded at another priority does not hold (another scheduling path)",
			members: withScopes(prioritized(10, 100, 50), m2, scope("gpu", 50, 0, 100)), affinity: gpu,
			want: []string{m2, m2, m2, m2},
		},
		{
			name:    "an ended scope: Jobs return to the top priority",
			members: withScopes(prioritized(10, 100, 50), m2, scope("gpu", 100, 4, 30)), affinity: gpu,
			want: []string{m2, m2, m2, m2},
		},
		{
			name:    "a peer DSJ's scope of the same class holds like our own",
			members: prioritized(10, 100, 50), affinity: gpu,
			peers: map[string][]TaintScope{m2: {scope("gpu", 100, 1, 100)}},
			want:  []string{m3, m3, m3, m3}, blocked: m2,
		},
		{
			name:    "the default class is a class too",
			members: withScopes(prioritized(10, 100, 50), m2, scope("", 100, 0, 100)), affinity: Affinity{},
			want: []string{m3, m3, m3, m3}, blocked: m2,
		},
		{
			name: "every member blocked: nothing placed",
			members: withScopes(withScopes(withScopes(prioritized(10, 100, 50), m1, scope("gpu", 10, 0, 100)),
				m2, scope("gpu", 100, 0, 100)), m3, scope("gpu", 50, 0, 100)), affinity: gpu,
			want: nil, blocked: m2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := evaluate(40, tt.members, nil, pf(tt.affinity), func(in *Input) { in.PeerScopes = tt.peers })
			if got := p.Place(4); !slices.Equal(got, tt.want) {
				t.Errorf("placed %v, want %v", got, tt.want)
			}
			if tt.blocked != "" && !strings.Contains(p.Blocked(tt.blocked), "hard-tainted") {
				t.Errorf("Blocked(%s) = %q, want a hard taint", tt.blocked, p.Blocked(tt.blocked))
			}
		})
	}
}

// A stuck Job of the top-priority member fails over to the next priority; the hard taint that
// follows is recorded as a scope of the DSJ's class, size and the member's priority, Jobs spill
// over while it holds, and come back once it ends.
func TestPriorityFailoverTaintsAndReturn(t *testing.T) {
	gpu := Affinity{Class: "gpu", Size: 4}
	members := prioritized(10, 100, 50)
	stuck := j(m2, "stuck", 0, pendingSince(0))
	hardAtOnce := func(in *Input) { in.Policy.SoftTaintDuration = 0 }

	p := evaluate(10, members, []Job{stuck}, pf(gpu), hardAtOnce)
	if got := failovers(p); got != "k3d-member-2/stuck->k3d-member-3" {
		t.Fatalf("failovers %q: the copy goes to the next priority", got)
	}
	want := []TaintScope{{Class: "gpu", Priority: 100, Size: 4, Until: at(130)}}
	if got := p.Scopes[m2]; !slices.Equal(got, want) {
		t.Fatalf("scopes %+v, want %+v (softTaintDuration 0s: hard at the first failure)", got, want)
	}
	if got := p.Place(2); !slices.Equal(got, []string{m3, m3}) {
		t.Errorf("new Jobs %v: they spill over to the next priority", got)
	}
	if p.RequeueAfter != 2*time.Minute {
		t.Errorf("requeue %v: the scope ends in 2m", p.RequeueAfter)
	}

	// Later evaluations read the scope back from status.
	members[1].Scopes, members[1].Taint = p.Scopes[m2], p.Taints[m2]
	if got := evaluate(129, members, nil, pf(gpu)).Place(1); !slices.Equal(got, []string{m3}) {
		t.Errorf("at 129s placed %v: the scope still holds", got)
	}
	after := evaluate(130, members, nil, pf(gpu))
	if got := after.Place(1); !slices.Equal(got, []string{m2}) {
		t.Errorf("at 130s placed %v: the scope ended, Jobs return to the top priority", got)
	}
	if len(after.Scopes[m2]) != 0 {
		t.Errorf("ended scope kept: %+v", after.Scopes[m2])
	}
	// A smaller workload of the class is not kept away by the size-4 scope.
	if got := evaluate(60, members, nil, pf(Affinity{Class: "gpu", Size: 2})).Place(1); !slices.Equal(got, []string{m2}) {
		t.Errorf("size 2 placed %v: a taint for size 4 does not hold for size 2", got)
	}

	// With the default soft taint the first failure soft-taints (no scope yet, but no new Jobs
	// either); a second one within the soft taint records the scope.
	soft := evaluate(10, prioritized(10, 100, 50), []Job{stuck}, pf(gpu))
	if len(soft.Scopes[m2]) != 0 || !soft.Taints[m2].Soft(at(10)) {
		t.Errorf("first failure: taint %+v scopes %+v, want a soft taint and no scope", soft.Taints[m2], soft.Scopes[m2])
	}
	if got := soft.Place(1); !slices.Equal(got, []string{m3}) {
		t.Errorf("soft-tainted top member got %v", got)
	}
	ms := prioritized(10, 100, 50)
	ms[1].Taint = soft.Taints[m2]
	second := evaluate(20, ms, []Job{j(m2, "stuck-2", 5, pendingSince(5))}, pf(gpu))
	if got := second.Scopes[m2]; len(got) != 1 || got[0].Until != at(140) {
		t.Errorf("second failure within the soft taint: scopes %+v, want one until 140s", got)
	}
}

func TestWeightedRoundRobinIgnoresScopesAndPriorities(t *testing.T) {
	ms := prioritized(10, 100, 50)
	ms[1].Scopes = []TaintScope{{Class: "", Priority: 100, Until: at(100)}}
	p := evaluate(0, ms, nil)
	if got := p.Place(3); !slices.Equal(got, []string{m1, m2, m3}) {
		t.Errorf("placed %v", got)
	}
	if len(p.Scopes[m2]) != 0 {
		t.Errorf("scopes kept under weightedRoundRobin: %+v", p.Scopes)
	}
}

func TestSettleFailovers(t *testing.T) {
	gpu := Affinity{Class: "gpu"}
	jobs := []Job{j(m2, "a", 0, pendingSince(0)), j(m2, "b", 0, pendingSince(0))}
	p := evaluate(10, prioritized(10, 100, 50), jobs, pf(gpu))
	if len(p.Failovers) != 2 || !p.Taints[m2].Hard(at(10)) || len(p.Scopes[m2]) != 1 {
		t.Fatalf("planned %s, taint %+v, scopes %+v", failovers(p), p.Taints[m2], p.Scopes[m2])
	}
	// Only the first copy could be created: one failure, a soft taint, no scope.
	p.SettleFailovers(p.Failovers[:1])
	if !p.Taints[m2].Soft(at(10)) || len(p.Scopes[m2]) != 0 {
		t.Errorf("after settling: taint %+v scopes %+v, want soft and none", p.Taints[m2], p.Scopes[m2])
	}
}

func TestDepartedMember(t *testing.T) {
	members := observed(m1, m2)
	members[1].Departed = true
	jobs := []Job{
		j(m1, "stays", 0),
		j(m2, "running", 0),
		j(m2, "pending", 0, pendingSince(20)),
		j(m2, "done", 0, done(Succeeded, 5)),
	}
	tests := []struct {
		name      string
		gradual   bool
		deletions string
		running   int64
	}{
		{name: "default rollout: every Job in the member is deleted", deletions: "MemberRemoved:k3d-member-2/done MemberRemoved:k3d-member-2/pending MemberRemoved:k3d-member-2/running", running: 1},
		{name: "gradual: live Jobs finish (and count), finished ones go", gradual: true, deletions: "MemberRemoved:k3d-member-2/done", running: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := evaluate(25, members, jobs, func(in *Input) { in.Policy.GradualRollout = tt.gradual })
			if got := deletions(p); got != tt.deletions {
				t.Errorf("deletions %q, want %q", got, tt.deletions)
			}
			if p.Running != tt.running {
				t.Errorf("running %d, want %d", p.Running, tt.running)
			}
			if got := p.Place(3); !slices.Equal(got, []string{m1, m1, m1}) {
				t.Errorf("placed %v: a departed member gets no Jobs", got)
			}
		})
	}
	// A stuck Job left to finish in a departed member fails over like any other, never to it.
	p := evaluate(40, observed(m1, m2, m3), []Job{j(m2, "stuck", 0, pendingSince(0))}, func(in *Input) {
		in.Members[1].Departed = true
		in.Members[2].Departed = true
		in.Policy.GradualRollout = true
	})
	if got := failovers(p); got != "k3d-member-2/stuck->k3d-member-1" {
		t.Errorf("failovers %q", got)
	}
}

func TestDistinctCounts(t *testing.T) {
	src := j(m3, "src", 0, pendingSince(0))
	tests := []struct {
		name                              string
		jobs                              []Job
		running, pending, distinctRunning int64
		distinctPending                   int64
	}{
		{name: "no pairs", jobs: []Job{j(m1, "a", 0), j(m1, "b", 0, pendingSince(25))},
			running: 2, pending: 1, distinctRunning: 2, distinctPending: 1},
		{name: "stuck source and a pending copy: one pending unit", jobs: []Job{src, j(m1, "copy", 10, copyOf(src), pendingSince(10))},
			running: 2, pending: 2, distinctRunning: 1, distinctPending: 1},
		{name: "stuck source and a running copy: one running unit", jobs: []Job{src, j(m1, "copy", 10, copyOf(src))},
			running: 2, pending: 1, distinctRunning: 1, distinctPending: 0},
		{name: "the copy this plan creates adds no unit", jobs: []Job{src},
			running: 2, pending: 2, distinctRunning: 1, distinctPending: 1},
		{name: "a finished copy leaves the source alone", jobs: []Job{src, j(m1, "copy", 10, copyOf(src), done(Failed, 20))},
			running: 1, pending: 1, distinctRunning: 1, distinctPending: 1},
		{name: "a chain source → copy → copy of the copy is one unit", jobs: func() []Job {
			c1 := j(m1, "c1", 10, copyOf(src), pendingSince(25))
			return []Job{src, c1, j(m3, "c2", 12, copyOf(c1), pendingSince(25))}
		}(), running: 3, pending: 3, distinctRunning: 1, distinctPending: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := evaluate(30, observed(m1, m3), tt.jobs, func(in *Input) { in.Policy.FailedJobsHistoryLimit = 10 })
			if p.Running != tt.running || p.Pending != tt.pending || p.DistinctRunning != tt.distinctRunning || p.DistinctPending != tt.distinctPending {
				t.Errorf("running %d pending %d distinct %d/%d, want %d %d %d/%d", p.Running, p.Pending, p.DistinctRunning, p.DistinctPending,
					tt.running, tt.pending, tt.distinctRunning, tt.distinctPending)
			}
		})
	}
}

// FuzzEvaluatePriority checks, over random priorityFailover fleets with departed members and
// taint scopes of their own and of peers: new Jobs and failover copies go only to observed,
// whitelisted, unblocked members, new Jobs only to those with the highest priority among them;
// the distinct counts never exceed the plain ones.
func FuzzEvaluatePriority(f *testing.F) {
	f.Add(uint64(1), uint8(4), uint8(20), uint8(3))
	f.Add(uint64(5), uint8(2), uint8(9), uint8(0))
	f.Fuzz(func(t *testing.T, seed uint64, nMembers, nJobs, size uint8) {
		rng := rand.New(rand.NewPCG(seed, seed^0x51ed2701))
		now := t0.Add(time.Hour)
		aff := Affinity{Class: []string{"", "gpu"}[rng.IntN(2)], Size: int32(size % 8)}
		scope := func() TaintScope {
			return TaintScope{Class: []string{"", "gpu", "cpu"}[rng.IntN(3)], Priority: int32(rng.IntN(3) * 50),
				Size: int32(rng.IntN(8)), Until: now.Add(time.Duration(rng.IntN(120)-60) * time.Second)}
		}
		names := []string{"m1", "m2", "m3", "m4", "m5"}
		var members []Member
		peers := map[string][]TaintScope{}
		for i := range int(nMembers%5) + 1 {
			m := Member{Name: names[i], Weight: int32(rng.IntN(3)), Priority: int32(rng.IntN(3) * 50), Namespace: "ns", Hash: "h1",
				Access: Access(rng.IntN(3)), Departed: rng.IntN(5) == 0}
			for range rng.IntN(3) {
				m.Scopes = append(m.Scopes, scope())
			}
			if rng.IntN(3) == 0 {
				peers[m.Name] = []TaintScope{scope()}
			}
			if rng.IntN(4) == 0 {
				m.Taint = Taint{SoftUntil: now.Add(time.Duration(rng.IntN(120)-60) * time.Second)}
			}
			members = append(members, m)
		}
		var all []Job
		for i := range int(nJobs % 40) {
			j := Job{Member: members[rng.IntN(len(members))].Name, Namespace: "ns", Name: fmt.Sprintf("j%d", i),
				Created: now.Add(-time.Duration(rng.IntN(600)) * time.Second), Hash: "h1"}
			if rng.IntN(2) == 0 {
				j.Pending, j.PendingSince = true, j.Created
			}
			if len(all) > 0 && rng.IntN(4) == 0 {
				j.FailoverOf = all[rng.IntN(len(all))].Key()
			}
			all = append(all, j)
		}
		p := Evaluate(Input{Now: now, Members: members, Jobs: all, Policy: policy(), Strategy: PriorityFailover, Affinity: aff, PeerScopes: peers})
		ok := func(name string) bool {
			m := p.member(name)
			return m.Access == Observed && !m.Departed && p.Blocked(name) == ""
		}
		top := int32(-1)
		for _, m := range members {
			if ok(m.Name) {
				top = max(top, m.Priority)
			}
		}
		for _, fo := range p.Failovers {
			if !ok(fo.Target) {
				t.Fatalf("failover to %s: %+v blocked %q", fo.Target, p.member(fo.Target), p.Blocked(fo.Target))
			}
		}
		picks := p.Place(4)
		if (top < 0) != (len(picks) == 0) {
			t.Fatalf("top priority %d, picks %v", top, picks)
		}
		for _, name := range picks {
			if !ok(name) || p.member(name).Priority != top {
				t.Fatalf("placed on %s (%+v), top priority %d", name, p.member(name), top)
			}
		}
		for name, ss := range p.Scopes {
			for _, s := range ss {
				if !now.Before(s.Until) {
					t.Fatalf("%s keeps an ended scope %+v", name, s)
				}
			}
		}
		if p.DistinctRunning < 0 || p.DistinctPending < 0 || p.DistinctRunning > p.Running || p.DistinctPending > p.Pending || p.DistinctPending > p.DistinctRunning {
			t.Fatalf("distinct %d/%d, plain %d/%d", p.DistinctRunning, p.DistinctPending, p.Running, p.Pending)
		}
	})
}
