package jobs

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

const (
	m1 = "k3d-member-1"
	m2 = "k3d-member-2"
	m3 = "k3d-member-3"
)

// policy is a short policy for tables: grace 10s, soft 60s, hard 120s, history 2/2.
func policy(mut ...func(*Policy)) Policy {
	p := Policy{GracePeriod: 10 * time.Second, SoftTaintDuration: time.Minute, HardTaintDuration: 2 * time.Minute,
		Duplication: KeepAll, SuccessfulJobsHistoryLimit: 2, FailedJobsHistoryLimit: 2}
	for _, f := range mut {
		f(&p)
	}
	return p
}

func observed(names ...string) []Member {
	var ms []Member
	for _, n := range names {
		ms = append(ms, Member{Name: n, Weight: 1, Namespace: "ns", Hash: "h1", Access: Observed})
	}
	return ms
}

// j builds a Job: live and running unless changed.
func j(member, name string, created int, mut ...func(*Job)) Job {
	job := Job{Member: member, Namespace: "ns", Name: name, Created: at(created), Hash: "h1"}
	for _, f := range mut {
		f(&job)
	}
	return job
}

func pendingSince(s int) func(*Job) {
	return func(j *Job) { j.Pending, j.PendingSince = true, at(s) }
}

func done(r Result, s int) func(*Job) {
	return func(j *Job) { j.Result, j.Finished = r, at(s) }
}

func hash(h string) func(*Job) { return func(j *Job) { j.Hash = h } }

func copyOf(src Job) func(*Job) { return func(j *Job) { j.FailoverOf = src.Key() } }

func deleting(j *Job) { j.Deleting = true }

func deletions(p *Plan) string {
	var out []string
	for _, d := range p.Deletions {
		out = append(out, fmt.Sprintf("%s:%s/%s", d.Reason, d.Job.Member, d.Job.Name))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func failovers(p *Plan) string {
	var out []string
	for _, f := range p.Failovers {
		out = append(out, fmt.Sprintf("%s/%s->%s", f.Source.Member, f.Source.Name, f.Target))
	}
	return strings.Join(out, " ")
}

func TestEvaluateRollout(t *testing.T) {
	members := observed(m1, m2)
	members[1].Namespace = "moved"
	in := []Job{
		j(m1, "current", 0),
		j(m1, "old-running", 0, hash("h0")),
		j(m1, "old-pending", 0, hash("h0"), pendingSince(0)),
		j(m1, "old-done", 0, hash("h0"), done(Succeeded, 5)),
		j(m1, "old-deleting", 0, hash("h0"), deleting),
		j(m1, "no-hash", 0, hash("")),
		j(m2, "old-namespace", 0),
	}
	tests := []struct {
		name    string
		gradual bool
		want    string
		running int64
	}{
		{"default deletes live outdated Jobs (other hash or namespace)", false,
			"Rollout:k3d-member-1/no-hash Rollout:k3d-member-1/old-pending Rollout:k3d-member-1/old-running Rollout:k3d-member-2/old-namespace", 1},
		{"gradual lets them finish, and they count", true, "", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Evaluate(Input{Now: at(1), Members: members, Jobs: in, Policy: policy(func(p *Policy) { p.GradualRollout = tt.gradual })})
			if got := deletions(p); got != tt.want {
				t.Errorf("deletions %q, want %q", got, tt.want)
			}
			if p.Running != tt.running {
				t.Errorf("running %d, want %d", p.Running, tt.running)
			}
		})
	}
}

func TestEvaluateHistory(t *testing.T) {
	in := []Job{
		j(m1, "s1", 0, done(Succeeded, 10)),
		j(m2, "s2", 0, done(Succeeded, 20)),
		j(m1, "s3", 0, done(Succeeded, 30)),
		j(m2, "s4", 0, done(Succeeded, 40)),
		j(m2, "s0-deleting", 0, done(Succeeded, 1), deleting),
		j(m1, "f1", 0, done(Failed, 15)),
		j(m2, "f2", 0, done(Failed, 25)),
		j(m1, "tie-b", 1, done(Failed, 5)),
		j(m2, "tie-a", 2, done(Failed, 5)),
		j(m1, "live", 0),
	}
	tests := []struct {
		name           string
		succeeded      int32
		failed         int32
		want           string
		keptSucceeded1 int32
	}{
		{"limits 2/2: oldest first across members, ties by creation", 2, 2,
			"HistoryLimit:k3d-member-1/s1 HistoryLimit:k3d-member-1/tie-b HistoryLimit:k3d-member-2/s2 HistoryLimit:k3d-member-2/tie-a", 1},
		{"limit 0 deletes every finished Job", 0, 0,
			"HistoryLimit:k3d-member-1/f1 HistoryLimit:k3d-member-1/s1 HistoryLimit:k3d-member-1/s3 HistoryLimit:k3d-member-1/tie-b " +
				"HistoryLimit:k3d-member-2/f2 HistoryLimit:k3d-member-2/s2 HistoryLimit:k3d-member-2/s4 HistoryLimit:k3d-member-2/tie-a", 0},
		{"within limits: nothing", 100, 100, "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Evaluate(Input{Now: at(50), Members: observed(m1, m2), Jobs: in, Policy: policy(func(p *Policy) {
				p.SuccessfulJobsHistoryLimit, p.FailedJobsHistoryLimit = tt.succeeded, tt.failed
			})})
			if got := deletions(p); got != tt.want {
				t.Errorf("deletions\n got %q\nwant %q", got, tt.want)
			}
			if got := p.Counts[m1].Succeeded; got != tt.keptSucceeded1 {
				t.Errorf("member 1 keeps %d succeeded, want %d", got, tt.keptSucceeded1)
			}
			if p.Running != 1 {
				t.Errorf("running %d, want 1", p.Running)
			}
		})
	}
}

func TestEvaluateFailover(t *testing.T) {
	stuck := j(m3, "stuck", 0, pendingSince(0))
	young := j(m3, "young", 0, pendingSince(5))
	tests := []struct {
		name       string
		now        int
		members    []Member
		jobs       []Job
		paused     bool
		policy     Policy
		want       string
		deletions  string
		taint      Taint
		requeue    time.Duration
		stuckCount int32
	}{
		{
			name: "not stuck before the grace period; requeue when it would be",
			now:  9, members: observed(m1, m3), jobs: []Job{stuck},
			requeue: time.Second,
		},
		{
			name: "stuck after the grace period: re-created elsewhere, soft taint",
			now:  10, members: observed(m1, m3), jobs: []Job{stuck},
			want: "k3d-member-3/stuck->k3d-member-1", taint: Taint{SoftUntil: at(70)}, requeue: time.Minute, stuckCount: 1,
		},
		{
			name: "two stuck at once: the second failure makes it hard",
			now:  20, members: observed(m1, m2, m3), jobs: []Job{stuck, young},
			want:  "k3d-member-3/stuck->k3d-member-1 k3d-member-3/young->k3d-member-2",
			taint: Taint{HardUntil: at(140)}, requeue: 2 * time.Minute, stuckCount: 2,
		},
		{
			name: "already soft-tainted: a failure makes it hard",
			now:  10, members: withTaint(observed(m1, m3), m3, Taint{SoftUntil: at(30)}), jobs: []Job{stuck},
			want: "k3d-member-3/stuck->k3d-member-1", taint: Taint{HardUntil: at(130)}, requeue: 2 * time.Minute, stuckCount: 1,
		},
		{
			name: "a Job with a copy does not fail over again",
			now:  30, members: observed(m1, m3), jobs: []Job{stuck, j(m1, "copy", 10, copyOf(stuck), pendingSince(10))},
			stuckCount: 1, requeue: 0,
		},
		{
			name: "no other member: stays stuck, no taint",
			now:  30, members: observed(m3), jobs: []Job{stuck}, stuckCount: 1,
		},
		{
			name: "tainted and unreachable members take no copies",
			now:  30, members: append(withTaint(observed(m1, m3), m1, Taint{HardUntil: at(100)}), Member{Name: m2, Weight: 1, Access: Unreachable, UnreachableSince: at(0)}),
			jobs: []Job{stuck}, stuckCount: 1, requeue: 70 * time.Second,
		},
		{
			name: "paused: no failover",
			now:  30, members: observed(m1, m3), jobs: []Job{stuck}, paused: true, stuckCount: 1,
		},
		{
			name: "immediateSourceCleanup: the source stays until its copy exists",
			now:  10, members: observed(m1, m3), jobs: []Job{stuck},
			policy: policy(func(p *Policy) { p.Duplication = ImmediateSourceCleanup }),
			want:   "k3d-member-3/stuck->k3d-member-1", taint: Taint{SoftUntil: at(70)}, requeue: time.Minute, stuckCount: 1,
		},
		{
			name: "a member with a stuck Job of its own takes no copy",
			now:  20, members: observed(m1, m2, m3), jobs: []Job{stuck, j(m1, "stuck-too", 0, pendingSince(5))},
			want:  "k3d-member-3/stuck->k3d-member-2 k3d-member-1/stuck-too->k3d-member-2",
			taint: Taint{SoftUntil: at(80)}, requeue: time.Minute, stuckCount: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := tt.policy
			if pol == (Policy{}) {
				pol = policy()
			}
			p := Evaluate(Input{Now: at(tt.now), Members: tt.members, Jobs: tt.jobs, Policy: pol, Paused: tt.paused})
			if got := failovers(p); got != tt.want {
				t.Errorf("failovers %q, want %q", got, tt.want)
			}
			if got := deletions(p); got != tt.deletions {
				t.Errorf("deletions %q, want %q", got, tt.deletions)
			}
			if got := p.Taints[m3]; got != tt.taint {
				t.Errorf("member 3 taint %+v, want %+v", got, tt.taint)
			}
			if p.RequeueAfter != tt.requeue {
				t.Errorf("requeueAfter %v, want %v", p.RequeueAfter, tt.requeue)
			}
			if got := p.Counts[m3].Stuck; got != tt.stuckCount {
				t.Errorf("member 3 stuck %d, want %d", got, tt.stuckCount)
			}
		})
	}
}

func withTaint(ms []Member, name string, t Taint) []Member {
	for i := range ms {
		if ms[i].Name == name {
			ms[i].Taint = t
		}
	}
	return ms
}

func TestEvaluateFailoverCounts(t *testing.T) {
	stuck := j(m3, "stuck", 0, pendingSince(0))
	p := Evaluate(Input{Now: at(10), Members: observed(m1, m3), Jobs: []Job{stuck, j(m1, "run", 0)}, Policy: policy()})
	// stuck (m3) + run (m1) + the copy about to be created on m1.
	if p.Running != 3 || p.Pending != 2 {
		t.Errorf("running %d pending %d, want 3 2", p.Running, p.Pending)
	}
	if c := p.Counts[m1]; c.Running != 1 || c.Pending != 0 {
		t.Errorf("member 1 %+v", c)
	}
	if got := p.Place(3); !slices.Equal(got, []string{m1, m1, m1}) {
		t.Errorf("new Jobs go to %v: member 3 is tainted now", got)
	}
}

func TestEvaluateDuplication(t *testing.T) {
	src := j(m3, "src", 0, pendingSince(0))
	srcRunning := j(m3, "src", 0)
	cp := func(mut ...func(*Job)) Job { return j(m1, "copy", 10, append([]func(*Job){copyOf(src)}, mut...)...) }
	tests := []struct {
		policy Duplication
		source Job
		copy   Job
		want   string
	}{
		{KeepAll, srcRunning, cp(), ""},
		{KeepAll, src, cp(done(Succeeded, 20)), ""},
		{ImmediateSourceCleanup, src, cp(pendingSince(10)), "Duplication:k3d-member-3/src"},
		{ImmediateSourceCleanup, j(m3, "src", 0, done(Succeeded, 5)), cp(), ""},
		{PreferFailover, src, cp(pendingSince(10)), ""},
		{PreferFailover, src, cp(), "Duplication:k3d-member-3/src"},
		{PreferFailover, srcRunning, cp(), "Duplication:k3d-member-3/src"},
		{PreferFailover, src, cp(done(Succeeded, 20)), "Duplication:k3d-member-3/src"},
		{PreferFailover, src, cp(done(Failed, 20)), ""},
		{PreferSource, src, cp(), ""},
		{PreferSource, srcRunning, cp(), "Duplication:k3d-member-1/copy"},
		{PreferSource, srcRunning, cp(pendingSince(10)), "Duplication:k3d-member-1/copy"},
		{PreferSource, j(m3, "src", 0, done(Succeeded, 5)), cp(), "Duplication:k3d-member-1/copy"},
		{PreferSource, src, cp(done(Succeeded, 20)), "Duplication:k3d-member-3/src"},
		{PreferSource, srcRunning, cp(done(Succeeded, 20)), ""},
		{PreferFailover, j(m3, "src", 0, pendingSince(0), deleting), cp(), ""},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s source(pending=%v result=%q deleting=%v) copy(pending=%v result=%q)", tt.policy,
			tt.source.Pending, tt.source.Result, tt.source.Deleting, tt.copy.Pending, tt.copy.Result)
		t.Run(name, func(t *testing.T) {
			p := Evaluate(Input{Now: at(30), Members: observed(m1, m3), Jobs: []Job{tt.source, tt.copy},
				Policy: policy(func(p *Policy) { p.Duplication = tt.policy; p.SuccessfulJobsHistoryLimit = 10 })})
			if got := deletions(p); got != tt.want {
				t.Errorf("deletions %q, want %q", got, tt.want)
			}
			if len(p.Failovers) != 0 {
				t.Errorf("a source with a copy failed over again: %s", failovers(p))
			}
		})
	}
}

func TestEvaluateCountsUnreachable(t *testing.T) {
	members := []Member{
		{Name: m1, Weight: 1, Namespace: "ns", Hash: "h1", Access: Observed},
		{Name: m2, Weight: 1, Access: Unreachable, UnreachableSince: at(0), LastKnown: Counts{Running: 3, Pending: 1}},
		{Name: m3, Weight: 1, Access: Unregistered, LastKnown: Counts{Running: 5}},
	}
	in := []Job{
		j(m1, "a", 0), j(m1, "b", 0, pendingSince(0)),
		// Jobs reported for a member that is not observed are ignored.
		j(m2, "ghost", 0),
	}
	tests := []struct {
		now              int
		running, pending int64
	}{
		{now: 9, running: 5, pending: 2},
		{now: 10, running: 2, pending: 1},
	}
	for _, tt := range tests {
		p := Evaluate(Input{Now: at(tt.now), Members: members, Jobs: in, Policy: policy(func(p *Policy) { p.GracePeriod = 10 * time.Second })})
		if p.Running != tt.running || p.Pending != tt.pending {
			t.Errorf("at %ds: running %d pending %d, want %d %d", tt.now, p.Running, p.Pending, tt.running, tt.pending)
		}
		if got := p.Place(4); !slices.Equal(got, []string{m1, m1, m1, m1}) {
			t.Errorf("at %ds: placed on %v, want member 1 only", tt.now, got)
		}
	}
}

func TestPlaceContinuesRoundRobin(t *testing.T) {
	ms := observed(m1, m2, m3)
	ms[0].Weight = 2
	p := Evaluate(Input{Now: at(0), Members: ms, Policy: policy(), RRState: map[string]int64{"gone": 7}})
	first := p.Place(2)
	again := Evaluate(Input{Now: at(0), Members: ms, Policy: policy(), RRState: p.RRState})
	second := again.Place(2)
	one := Evaluate(Input{Now: at(0), Members: ms, Policy: policy()}).Place(4)
	if got := append(first, second...); !slices.Equal(got, one) {
		t.Errorf("two evaluations %v, one %v: the stored state must continue the sequence", got, one)
	}
	if _, ok := p.RRState["gone"]; ok {
		t.Errorf("state of a member that left is kept: %v", p.RRState)
	}
	if got := Evaluate(Input{Now: at(0), Policy: policy()}).Place(3); got != nil {
		t.Errorf("no members: placed %v", got)
	}
}

// MaxFailovers bounds the copies of one evaluation, oldest stuck Jobs first; the rest wait.
func TestEvaluateMaxFailovers(t *testing.T) {
	in := Input{Now: at(100), Members: observed(m1, m2), Policy: policy(), MaxFailovers: 2, Jobs: []Job{
		j(m1, "c", 0, pendingSince(3)), j(m1, "a", 0, pendingSince(1)), j(m1, "b", 0, pendingSince(2)),
	}}
	p := Evaluate(in)
	if got := failovers(p); got != "k3d-member-1/a->k3d-member-2 k3d-member-1/b->k3d-member-2" {
		t.Fatalf("failovers %q", got)
	}
	if p.DeferredFailovers != 1 {
		t.Fatalf("deferred %d", p.DeferredFailovers)
	}
	in.MaxFailovers = 0
	if p := Evaluate(in); len(p.Failovers) != 3 || p.DeferredFailovers != 0 {
		t.Fatalf("unbounded: %q, deferred %d", failovers(p), p.DeferredFailovers)
	}
}
