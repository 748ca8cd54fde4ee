package distribution_test

import (
	"fmt"
	"time"

	"github.com/fleetscale/fleetscale/internal/distribution"
)

func ExampleSplit() {
	uid := "7c1e0b94-3a5f-4d2e-8b6c-1f9a8e7d6c54"
	three := []distribution.Member{{Name: "k3d-member-1", Weight: 1}, {Name: "k3d-member-2", Weight: 1}, {Name: "k3d-member-3", Weight: 1}}
	fmt.Println(distribution.TieOrder(uid, []string{"k3d-member-1", "k3d-member-2", "k3d-member-3"}))
	fmt.Println(distribution.Split(4, three, uid))
	fmt.Println(distribution.Split(10, three, uid))
	fmt.Println(distribution.Split(10, []distribution.Member{{Name: "k3d-member-1", Weight: 3}, {Name: "k3d-member-2", Weight: 1}}, uid))
	// Output:
	// [k3d-member-1 k3d-member-2 k3d-member-3]
	// map[k3d-member-1:2 k3d-member-2:1 k3d-member-3:1]
	// map[k3d-member-1:4 k3d-member-2:3 k3d-member-3:3]
	// map[k3d-member-1:8 k3d-member-2:2]
}

func ExampleEvaluate() {
	// member-2's target went missing at t0; status says so.
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	in := distribution.Input{
		Now: t0, Total: 10, Seed: "7c1e0b94-3a5f-4d2e-8b6c-1f9a8e7d6c54", Policy: distribution.DefaultPolicy(),
		Members: []distribution.MemberInput{
			{Name: "k3d-member-1", Weight: 1, Healthy: true, State: distribution.StateReady, Since: t0, Desired: 4},
			{Name: "k3d-member-2", Weight: 1, Healthy: false, Reason: "target missing", State: distribution.StateUnhealthy, Since: t0, Desired: 3},
			{Name: "k3d-member-3", Weight: 1, Healthy: true, State: distribution.StateReady, Since: t0, Desired: 3},
		},
	}
	show := func(res distribution.Result) {
		for _, m := range res.Members {
			fmt.Printf("%s %s desired=%d apply=%v: %s\n", m.Name, m.State, m.Desired, m.Apply, m.Description)
		}
		fmt.Printf("settled=%v requeue=%v\n", res.Settled, res.RequeueAfter)
	}
	persist := func(res distribution.Result) {
		in.LastStep = res.LastStep
		for i, m := range res.Members {
			in.Members[i].State, in.Members[i].Since, in.Members[i].Desired = m.State, m.Since, m.Desired
		}
	}

	in.Now = t0.Add(45 * time.Second)
	res := distribution.Evaluate(in)
	show(res)
	persist(res)

	in.Now = t0.Add(60 * time.Second)
	show(distribution.Evaluate(in))
	// Output:
	// k3d-member-1 Ready desired=4 apply=true: healthy
	// k3d-member-2 Unhealthy desired=3 apply=false: target missing for 45s; grace period 1m0s
	// k3d-member-3 Ready desired=3 apply=true: healthy
	// settled=true requeue=15s
	// k3d-member-1 Ready desired=5 apply=true: healthy
	// k3d-member-2 Excluded desired=0 apply=false: target missing for 1m0s; excluded after grace period 1m0s
	// k3d-member-3 Ready desired=5 apply=true: healthy
	// settled=true requeue=0s
}

func ExamplePlace() {
	members := []distribution.Member{{Name: "k3d-member-1", Weight: 3}, {Name: "k3d-member-2", Weight: 1}}
	jobs, state := distribution.Place(3, members, nil)
	fmt.Println(jobs, state)
	jobs, state = distribution.Place(5, members, state) // continues where the last call stopped
	fmt.Println(jobs, state)
	// Output:
	// [k3d-member-1 k3d-member-1 k3d-member-2] map[k3d-member-1:1 k3d-member-2:-1]
	// [k3d-member-1 k3d-member-1 k3d-member-1 k3d-member-2 k3d-member-1] map[k3d-member-1:0 k3d-member-2:0]
}
