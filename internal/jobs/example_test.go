package jobs_test

import (
	"fmt"
	"time"

	"github.com/fleetscale/fleetscale/internal/jobs"
)

// A DSJ over member 1 (full) and member 4 (its pods never start). One Job has been pending in
// member 4 for longer than the grace period, two finished Jobs exceed a history limit of 1,
// and member 1 runs one Job of an older template.
func ExampleEvaluate() {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	pol := jobs.DefaultPolicy()
	pol.GracePeriod, pol.SuccessfulJobsHistoryLimit, pol.Duplication = 30*time.Second, 1, jobs.PreferFailover
	in := jobs.Input{
		Now: t0.Add(time.Minute),
		Members: []jobs.Member{
			{Name: "k3d-member-1", Weight: 1, Namespace: "work", Hash: "h2", Access: jobs.Observed},
			{Name: "k3d-member-4", Weight: 1, Namespace: "work", Hash: "h2", Access: jobs.Observed},
		},
		Jobs: []jobs.Job{
			{Member: "k3d-member-1", Namespace: "work", Name: "old", Hash: "h1", Created: t0},
			{Member: "k3d-member-1", Namespace: "work", Name: "done-1", Hash: "h2", Result: jobs.Succeeded, Finished: t0.Add(10 * time.Second)},
			{Member: "k3d-member-1", Namespace: "work", Name: "done-2", Hash: "h2", Result: jobs.Succeeded, Finished: t0.Add(20 * time.Second)},
			{Member: "k3d-member-4", Namespace: "work", Name: "stuck", Hash: "h2", Created: t0, Pending: true, PendingSince: t0},
		},
		Policy: pol,
	}
	p := jobs.Evaluate(in)
	for _, d := range p.Deletions {
		fmt.Printf("delete %s (%s)\n", d.Job.Key(), d.Reason)
	}
	for _, f := range p.Failovers {
		fmt.Printf("re-create %s in %s\n", f.Source.Key(), f.Target)
	}
	t4 := p.Taints["k3d-member-4"]
	fmt.Printf("member 4 soft-tainted=%v until %s\n", t4.Soft(in.Now), t4.SoftUntil.Format(time.TimeOnly))
	fmt.Printf("running=%d pending=%d (the copy included)\n", p.Running, p.Pending)
	fmt.Println("3 new Jobs go to", p.Place(3))
	// Output:
	// delete k3d-member-1/work/old (Rollout)
	// delete k3d-member-1/work/done-1 (HistoryLimit)
	// re-create k3d-member-4/work/stuck in k3d-member-1
	// member 4 soft-tainted=true until 12:04:00
	// running=2 pending=2 (the copy included)
	// 3 new Jobs go to [k3d-member-1 k3d-member-1 k3d-member-1]
}
