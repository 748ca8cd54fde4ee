package jobs

import (
	"math/rand/v2"
	"testing"
	"time"
)

// FuzzEvaluate checks invariants of Evaluate over random fleets:
//   - only Jobs of observed members are deleted or failed over, each at most once, never one
//     already being deleted;
//   - a live Job of the current template is deleted only by the duplication policy;
//   - finished Jobs kept per result never exceed the history limit;
//   - a failover target is observed, untainted, and neither the Job's member nor its source's;
//   - Place picks only observed, untainted members, and none when there is none;
//   - counts are never negative and Running ≥ Pending.
func FuzzEvaluate(f *testing.F) {
	f.Add(uint64(1), uint8(3), uint8(12), uint8(2), false, uint8(0))
	f.Add(uint64(7), uint8(1), uint8(30), uint8(0), true, uint8(1))
	f.Add(uint64(42), uint8(4), uint8(50), uint8(5), false, uint8(2))
	f.Add(uint64(99), uint8(2), uint8(8), uint8(1), true, uint8(3))
	f.Fuzz(func(t *testing.T, seed uint64, nMembers, nJobs, limit uint8, gradual bool, dup uint8) {
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		now := t0.Add(time.Hour)
		pol := Policy{GracePeriod: 30 * time.Second, SoftTaintDuration: time.Minute, HardTaintDuration: 2 * time.Minute,
			Duplication:    []Duplication{KeepAll, PreferFailover, PreferSource, ImmediateSourceCleanup}[dup%4],
			GradualRollout: gradual, SuccessfulJobsHistoryLimit: int32(limit % 6), FailedJobsHistoryLimit: int32(limit % 4)}
		names := []string{"m1", "m2", "m3", "m4", "m5"}
		var members []Member
		for i := range int(nMembers%5) + 1 {
			m := Member{Name: names[i], Weight: int32(rng.IntN(3)), Namespace: "ns", Hash: "h1", Access: Access(rng.IntN(3))}
			if rng.IntN(4) == 0 {
				m.Taint = Taint{SoftUntil: now.Add(time.Duration(rng.IntN(120)-60) * time.Second)}
			}
			members = append(members, m)
		}
		var all []Job
		for i := range int(nJobs % 64) {
			j := Job{Member: members[rng.IntN(len(members))].Name, Namespace: "ns", Name: names[i%5] + "-" + string(rune('a'+i)),
				Created: now.Add(-time.Duration(rng.IntN(600)) * time.Second), Hash: []string{"h1", "h0"}[rng.IntN(2)]}
			switch rng.IntN(4) {
			case 0:
				j.Result, j.Finished = Succeeded, j.Created.Add(time.Duration(rng.IntN(60))*time.Second)
			case 1:
				j.Result, j.Finished = Failed, j.Created.Add(time.Duration(rng.IntN(60))*time.Second)
			case 2:
				j.Pending, j.PendingSince = true, j.Created
			}
			j.Deleting = rng.IntN(8) == 0
			if len(all) > 0 && rng.IntN(5) == 0 {
				j.FailoverOf = all[rng.IntN(len(all))].Key()
			}
			all = append(all, j)
		}
		p := Evaluate(Input{Now: now, Members: members, Jobs: all, Policy: pol})

		byName := map[string]Member{}
		for _, m := range members {
			byName[m.Name] = m
		}
		deleted := map[string]bool{}
		for _, d := range p.Deletions {
			if byName[d.Job.Member].Access != Observed || d.Job.Deleting || deleted[d.Job.Key()] {
				t.Fatalf("bad deletion %+v", d)
			}
			deleted[d.Job.Key()] = true
			if d.Job.Live() && d.Job.Hash == "h1" && d.Reason != ReasonDuplication {
				t.Fatalf("current live Job deleted: %+v", d)
			}
			if pol.GradualRollout && d.Reason == ReasonRollout {
				t.Fatalf("rollout deletion under gradual: %+v", d)
			}
		}
		kept := map[Result]int32{}
		for _, j := range all {
			if byName[j.Member].Access == Observed && j.Result != Unfinished && !j.Deleting && !deleted[j.Key()] {
				kept[j.Result]++
			}
		}
		if kept[Succeeded] > pol.SuccessfulJobsHistoryLimit || kept[Failed] > pol.FailedJobsHistoryLimit {
			t.Fatalf("history kept %v over limits %d/%d", kept, pol.SuccessfulJobsHistoryLimit, pol.FailedJobsHistoryLimit)
		}
		sources := map[string]bool{}
		for _, fo := range p.Failovers {
			tm := byName[fo.Target]
			if tm.Access != Observed || p.Taints[fo.Target].Tainted(now) || fo.Target == fo.Source.Member ||
				fo.Target == memberOf(fo.Source.FailoverOf) || sources[fo.Source.Key()] || !fo.Source.Live() || !fo.Source.Pending {
				t.Fatalf("bad failover %+v", fo)
			}
			sources[fo.Source.Key()] = true
		}
		picks := p.Place(5)
		eligible := 0
		for _, m := range members {
			if m.Access == Observed && !p.Taints[m.Name].Tainted(now) {
				eligible++
			}
		}
		if (eligible == 0) != (len(picks) == 0) {
			t.Fatalf("%d eligible members, picks %v", eligible, picks)
		}
		for _, name := range picks {
			if byName[name].Access != Observed || p.Taints[name].Tainted(now) {
				t.Fatalf("placed on %s", name)
			}
		}
		for name, c := range p.Counts {
			if c.Running < 0 || c.Pending < 0 || c.Pending > c.Running || c.Stuck > c.Pending {
				t.Fatalf("counts of %s: %+v", name, c)
			}
		}
		if p.Running < p.Pending || p.Running < int64(len(p.Failovers)) {
			t.Fatalf("running %d pending %d failovers %d", p.Running, p.Pending, len(p.Failovers))
		}
	})
}
