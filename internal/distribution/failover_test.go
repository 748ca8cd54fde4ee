package distribution

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)

// event is one evaluation in a scenario: at t0+at, after changing what is observed.
type event struct {
	at        time.Duration
	total     int32            // 0 keeps the previous total
	healthy   map[string]bool  // health changes
	weights   map[string]int32 // weight changes
	want      string           // "state desired/target" per member, in input order
	settled   bool
	requeue   time.Duration
	checkLast bool // check LastStep − t0 = wantLast
	wantLast  time.Duration
}

// scenario feeds each result back as the next input, as a reconciler persisting status would.
type scenario struct {
	name    string
	policy  Policy
	seed    string
	members []MemberInput
	total   int32
	events  []event
}

func (sc scenario) run(t *testing.T) {
	t.Helper()
	in := Input{Seed: sc.seed, Policy: sc.policy, Total: sc.total, Members: sc.members}
	for _, ev := range sc.events {
		in.Now = t0.Add(ev.at)
		if ev.total != 0 {
			in.Total = ev.total
		}
		for i := range in.Members {
			if h, ok := ev.healthy[in.Members[i].Name]; ok {
				in.Members[i].Healthy = h
				in.Members[i].Reason = ""
				if !h {
					in.Members[i].Reason = "target missing"
				}
			}
			if w, ok := ev.weights[in.Members[i].Name]; ok {
				in.Members[i].Weight = w
			}
		}
		res := Evaluate(in)
		if got := summary(res); got != ev.want {
			t.Fatalf("at %v: got  %s\n\twant %s", ev.at, got, ev.want)
		}
		if res.Settled != ev.settled {
			t.Errorf("at %v: settled = %v, want %v", ev.at, res.Settled, ev.settled)
		}
		if res.RequeueAfter != ev.requeue {
			t.Errorf("at %v: requeue after %v, want %v", ev.at, res.RequeueAfter, ev.requeue)
		}
		if ev.checkLast && res.LastStep.Sub(t0) != ev.wantLast {
			t.Errorf("at %v: last step at %v, want %v", ev.at, res.LastStep.Sub(t0), ev.wantLast)
		}
		checkInvariants(t, in, res)
		// Persist, as status would.
		in.LastStep = res.LastStep
		for i, r := range res.Members {
			in.Members[i].State, in.Members[i].Since, in.Members[i].Desired = r.State, r.Since, r.Desired
		}
	}
}

func summary(res Result) string {
	parts := make([]string, len(res.Members))
	for i, r := range res.Members {
		parts[i] = fmt.Sprintf("%s %d/%d", r.State, r.Desired, r.Target)
	}
	return strings.Join(parts, ", ")
}

// checkInvariants holds for every evaluation.
func checkInvariants(t *testing.T, in Input, res Result) {
	t.Helper()
	var sum, included int64
	anyIncluded := false
	for i, r := range res.Members {
		if r.Apply != (r.State == StateReady) {
			t.Errorf("%s: apply %v in state %s", r.Name, r.Apply, r.State)
		}
		if r.Excluded != (r.State == StateExcluded || r.State == StateRecovering) {
			t.Errorf("%s: excluded %v in state %s", r.Name, r.Excluded, r.State)
		}
		sum += int64(r.Desired)
		if !r.Excluded {
			anyIncluded = true
			included += int64(r.Desired)
		}
		// A share moves toward its target and never past it.
		prev := max(in.Members[i].Desired, 0)
		if lo, hi := min(prev, r.Target), max(prev, r.Target); r.Desired < lo || r.Desired > hi {
			t.Errorf("%s: desired %d outside [%d, %d]", r.Name, r.Desired, lo, hi)
		}
	}
	if anyIncluded && sum != int64(max(in.Total, 0)) {
		t.Errorf("Σ desired = %d, want total %d", sum, in.Total)
	}
	if res.Settled && included != int64(max(in.Total, 0)) {
		t.Errorf("settled but included members hold %d of %d", included, in.Total)
	}
}

func threeMembers(desired ...int32) []MemberInput {
	ms := make([]MemberInput, 3)
	for i := range ms {
		ms[i] = MemberInput{Name: fmt.Sprintf("k3d-member-%d", i+1), Weight: 1, Healthy: true,
			State: StateReady, Since: t0.Add(-time.Hour), Desired: desired[i]}
	}
	return ms
}

var (
	policy20 = Policy{GracePeriod: time.Minute, MaxRebalancePercentage: 20, StepInterval: 15 * time.Second}
	policy50 = Policy{GracePeriod: time.Minute, MaxRebalancePercentage: 50, StepInterval: 15 * time.Second}
)

func TestEvaluateScenarios(t *testing.T) {
	down := func(n int) map[string]bool { return map[string]bool{fmt.Sprintf("k3d-member-%d", n): false} }
	up := func(n int) map[string]bool { return map[string]bool{fmt.Sprintf("k3d-member-%d", n): true} }
	scenarios := []scenario{
		{
			// The walkthrough's step 7a with the default 50 %: 3 replicas move in one step.
			name: "target deleted and recreated, default policy", seed: seedA,
			policy: Policy{GracePeriod: time.Minute, StepInterval: 15 * time.Second}, total: 10,
			members: threeMembers(4, 3, 3),
			events: []event{
				{at: 0, want: "Ready 4/4, Ready 3/3, Ready 3/3", settled: true},
				{at: 0, healthy: down(2), want: "Ready 4/4, Unhealthy 3/3, Ready 3/3", settled: true, requeue: time.Minute},
				{at: 59 * time.Second, want: "Ready 4/4, Unhealthy 3/3, Ready 3/3", settled: true, requeue: time.Second},
				{at: 60 * time.Second, want: "Ready 5/5, Excluded 0/0, Ready 5/5", settled: true},
				{at: 120 * time.Second, healthy: up(2), want: "Ready 5/5, Recovering 0/0, Ready 5/5", settled: true, requeue: time.Minute},
				{at: 180 * time.Second, want: "Ready 4/4, Ready 3/3, Ready 3/3", settled: true},
			},
		},
		{
			name: "rate-limited exclusion and return, 20 % = 2 per step", seed: seedA,
			policy: policy20, total: 10, members: threeMembers(4, 3, 3),
			events: []event{
				{at: 0, healthy: down(2), want: "Ready 4/4, Unhealthy 3/3, Ready 3/3", settled: true, requeue: time.Minute},
				{at: 59 * time.Second, want: "Ready 4/4, Unhealthy 3/3, Ready 3/3", settled: true, requeue: time.Second},
				// Excluded: 2 of its 3 replicas move; it still holds 1 (Σ over all = 10,
				// Σ over included = 9).
				{at: 60 * time.Second, want: "Ready 5/5, Excluded 1/0, Ready 4/5", requeue: 15 * time.Second,
					checkLast: true, wantLast: 60 * time.Second},
				// A reconcile before the step interval moves nothing.
				{at: 70 * time.Second, want: "Ready 5/5, Excluded 1/0, Ready 4/5", requeue: 5 * time.Second,
					checkLast: true, wantLast: 60 * time.Second},
				{at: 75 * time.Second, want: "Ready 5/5, Excluded 0/0, Ready 5/5", settled: true},
				// Back, but stays excluded until healthy for the stabilisation period (= grace).
				{at: 120 * time.Second, healthy: up(2), want: "Ready 5/5, Recovering 0/0, Ready 5/5", settled: true, requeue: time.Minute},
				{at: 179 * time.Second, want: "Ready 5/5, Recovering 0/0, Ready 5/5", settled: true, requeue: time.Second},
				// Included: the others give back 2 per step, exactly what it gains.
				{at: 180 * time.Second, want: "Ready 4/4, Ready 2/3, Ready 4/3", requeue: 15 * time.Second},
				{at: 195 * time.Second, want: "Ready 4/4, Ready 3/3, Ready 3/3", settled: true},
			},
		},
		{
			name: "recreated within grace gets its share at once", seed: seedA,
			policy: policy20, total: 10, members: threeMembers(4, 3, 3),
			events: []event{
				{at: 0, healthy: down(2), want: "Ready 4/4, Unhealthy 3/3, Ready 3/3", settled: true, requeue: time.Minute},
				{at: 30 * time.Second, healthy: up(2), want: "Ready 4/4, Ready 3/3, Ready 3/3", settled: true},
				// A new outage starts a new grace period.
				{at: 40 * time.Second, healthy: down(2), want: "Ready 4/4, Unhealthy 3/3, Ready 3/3", settled: true, requeue: time.Minute},
			},
		},
		{
			name: "flapping while recovering goes straight back to excluded", seed: seedA,
			policy: Policy{GracePeriod: time.Minute, StabilizationPeriod: 2 * time.Minute, StepInterval: 15 * time.Second},
			total:  10, members: threeMembers(4, 3, 3),
			events: []event{
				{at: 0, healthy: down(2), want: "Ready 4/4, Unhealthy 3/3, Ready 3/3", settled: true, requeue: time.Minute},
				{at: 60 * time.Second, want: "Ready 5/5, Excluded 0/0, Ready 5/5", settled: true},
				{at: 100 * time.Second, healthy: up(2), want: "Ready 5/5, Recovering 0/0, Ready 5/5", settled: true, requeue: 2 * time.Minute},
				{at: 200 * time.Second, healthy: down(2), want: "Ready 5/5, Excluded 0/0, Ready 5/5", settled: true},
				{at: 210 * time.Second, healthy: up(2), want: "Ready 5/5, Recovering 0/0, Ready 5/5", settled: true, requeue: 2 * time.Minute},
				{at: 330 * time.Second, want: "Ready 4/4, Ready 3/3, Ready 3/3", settled: true},
			},
		},
		{
			// A member that comes back before its share has fully moved takes back what is left.
			name: "return before the move finished", seed: seedA,
			policy: Policy{GracePeriod: time.Minute, StabilizationPeriod: time.Second, MaxRebalancePercentage: 10, StepInterval: 15 * time.Second},
			total:  10, members: threeMembers(4, 3, 3),
			events: []event{
				{at: 0, healthy: down(2), want: "Ready 4/4, Unhealthy 3/3, Ready 3/3", settled: true, requeue: time.Minute},
				{at: 60 * time.Second, want: "Ready 4/5, Excluded 2/0, Ready 4/5", requeue: 15 * time.Second},
				{at: 61 * time.Second, healthy: up(2), want: "Ready 4/5, Recovering 2/0, Ready 4/5", requeue: time.Second},
				{at: 62 * time.Second, want: "Ready 4/4, Ready 2/3, Ready 4/3", requeue: 13 * time.Second},
				{at: 75 * time.Second, want: "Ready 4/4, Ready 3/3, Ready 3/3", settled: true},
			},
		},
		{
			// A total change is applied at once, even in the middle of a rate-limited move.
			name: "total changes during a move", seed: seedA, policy: policy20,
			total: 10, members: threeMembers(4, 3, 3),
			events: []event{
				{at: 0, healthy: down(3), want: "Ready 4/4, Ready 3/3, Unhealthy 3/3", settled: true, requeue: time.Minute},
				{at: 60 * time.Second, want: "Ready 5/5, Ready 4/5, Excluded 1/0", requeue: 15 * time.Second},
				{at: 61 * time.Second, total: 20, want: "Ready 10/10, Ready 9/10, Excluded 1/0", requeue: 14 * time.Second},
				{at: 62 * time.Second, total: 4, want: "Ready 2/2, Ready 2/2, Excluded 0/0", settled: true},
			},
		},
		{
			// Until its grace period ends an unhealthy member is counted: a new object gives it
			// its share (not applied) and the others theirs.
			name: "new object with one member down", seed: seedA, policy: policy50, total: 4,
			members: []MemberInput{
				{Name: "k3d-member-1", Weight: 1, Healthy: false, Reason: "API not ready"},
				{Name: "k3d-member-2", Weight: 1, Healthy: true},
				{Name: "k3d-member-3", Weight: 1, Healthy: true},
			},
			events: []event{
				{at: 0, want: "Unhealthy 2/2, Ready 1/1, Ready 1/1", settled: true, requeue: time.Minute},
				{at: 60 * time.Second, want: "Excluded 0/0, Ready 2/2, Ready 2/2", settled: true},
			},
		},
		{
			// Weight-0 members are standby: they take over only when no weighted member is
			// included, and hand back in steps when one returns.
			name: "standby takes over", seed: seedA, policy: policy20, total: 10,
			members: []MemberInput{
				{Name: "primary", Weight: 1, Healthy: true, State: StateReady, Since: t0, Desired: 10},
				{Name: "standby-a", Weight: 0, Healthy: true, State: StateReady, Since: t0},
				{Name: "standby-b", Weight: 0, Healthy: true, State: StateReady, Since: t0},
			},
			events: []event{
				{at: 0, healthy: map[string]bool{"primary": false}, want: "Unhealthy 10/10, Ready 0/0, Ready 0/0", settled: true, requeue: time.Minute},
				{at: 60 * time.Second, want: "Excluded 8/0, Ready 1/5, Ready 1/5", requeue: 15 * time.Second},
				{at: 75 * time.Second, want: "Excluded 6/0, Ready 2/5, Ready 2/5", requeue: 15 * time.Second},
				// Back at 90s, but excluded until 150s: its share keeps moving meanwhile, so the
				// capacity is where it can run if the member flaps again.
				{at: 90 * time.Second, healthy: map[string]bool{"primary": true}, want: "Recovering 4/0, Ready 3/5, Ready 3/5", requeue: 15 * time.Second},
				{at: 105 * time.Second, want: "Recovering 2/0, Ready 4/5, Ready 4/5", requeue: 15 * time.Second},
				{at: 120 * time.Second, want: "Recovering 0/0, Ready 5/5, Ready 5/5", settled: true, requeue: 30 * time.Second},
				{at: 150 * time.Second, want: "Ready 2/10, Ready 4/0, Ready 4/0", requeue: 15 * time.Second},
				{at: 165 * time.Second, want: "Ready 4/10, Ready 3/0, Ready 3/0", requeue: 15 * time.Second},
				{at: 180 * time.Second, want: "Ready 6/10, Ready 2/0, Ready 2/0", requeue: 15 * time.Second},
				{at: 195 * time.Second, want: "Ready 8/10, Ready 1/0, Ready 1/0", requeue: 15 * time.Second},
				{at: 210 * time.Second, want: "Ready 10/10, Ready 0/0, Ready 0/0", settled: true},
			},
		},
		{
			// Every member excluded: nowhere to put the total, so nothing moves.
			name: "all members down", seed: seedA, policy: policy50, total: 4,
			members: threeMembers(2, 1, 1),
			events: []event{
				{at: 0, healthy: map[string]bool{"k3d-member-1": false, "k3d-member-2": false, "k3d-member-3": false},
					want: "Unhealthy 2/2, Unhealthy 1/1, Unhealthy 1/1", settled: true, requeue: time.Minute},
				{at: 60 * time.Second, want: "Excluded 2/0, Excluded 1/0, Excluded 1/0"},
				{at: 90 * time.Second, healthy: up(3), want: "Excluded 2/0, Excluded 1/0, Recovering 1/0", requeue: time.Minute},
				{at: 150 * time.Second, want: "Excluded 0/0, Excluded 1/0, Ready 3/4", requeue: 15 * time.Second},
				{at: 165 * time.Second, want: "Excluded 0/0, Excluded 0/0, Ready 4/4", settled: true},
			},
		},
		{
			// A weight change moves replicas between healthy members, rate-limited.
			name: "weight change", seed: seedA, policy: policy20, total: 10,
			members: threeMembers(4, 3, 3),
			events: []event{
				{at: 0, weights: map[string]int32{"k3d-member-1": 3, "k3d-member-3": 0},
					want: "Ready 6/8, Ready 3/2, Ready 1/0", requeue: 15 * time.Second},
				{at: 15 * time.Second, want: "Ready 8/8, Ready 2/2, Ready 0/0", settled: true},
			},
		},
		{
			// Two failures at once: the second member is in its grace period when the first is
			// excluded; it is frozen (neither gives nor receives) until it is excluded too.
			name: "overlapping failures", seed: seedA, policy: policy50, total: 9,
			members: threeMembers(3, 3, 3),
			events: []event{
				{at: 0, healthy: down(1), want: "Unhealthy 3/3, Ready 3/3, Ready 3/3", settled: true, requeue: time.Minute},
				{at: 30 * time.Second, healthy: down(2), want: "Unhealthy 3/3, Unhealthy 3/3, Ready 3/3", settled: true, requeue: 30 * time.Second},
				// member-2's target rises to 5 but it is frozen; member-3 reaches its target 4.
				{at: 60 * time.Second, want: "Excluded 2/0, Unhealthy 3/5, Ready 4/4", requeue: 30 * time.Second},
				{at: 90 * time.Second, want: "Excluded 0/0, Excluded 1/0, Ready 8/9", requeue: 15 * time.Second},
				{at: 105 * time.Second, want: "Excluded 0/0, Excluded 0/0, Ready 9/9", settled: true},
			},
		},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, sc.run)
	}
}

func TestEvaluateTransitions(t *testing.T) {
	pol := Policy{GracePeriod: time.Minute, StabilizationPeriod: 2 * time.Minute}
	tests := []struct {
		name         string
		state        State
		since        time.Duration // before now; -1 = zero time
		healthy      bool
		wantState    State
		wantSince    time.Duration // before now
		wantExcluded bool
	}{
		{"new healthy", "", -1, true, StateReady, 0, false},
		{"new unhealthy starts its grace now", "", -1, false, StateUnhealthy, 0, false},
		{"unknown stored state counts as new", "NotReady", 10 * time.Minute, false, StateUnhealthy, 0, false},
		{"ready stays", StateReady, time.Hour, true, StateReady, time.Hour, false},
		{"ready turns unhealthy", StateReady, time.Hour, false, StateUnhealthy, 0, false},
		{"within grace", StateUnhealthy, 59 * time.Second, false, StateUnhealthy, 59 * time.Second, false},
		{"grace over", StateUnhealthy, time.Minute, false, StateExcluded, time.Minute, true},
		{"unhealthy with lost since restarts grace", StateUnhealthy, -1, false, StateUnhealthy, 0, false},
		{"healthy within grace", StateUnhealthy, 30 * time.Second, true, StateReady, 0, false},
		{"excluded stays", StateExcluded, time.Hour, false, StateExcluded, time.Hour, true},
		{"excluded turns healthy", StateExcluded, time.Hour, true, StateRecovering, 0, true},
		{"recovering", StateRecovering, 119 * time.Second, true, StateRecovering, 119 * time.Second, true},
		{"recovered", StateRecovering, 2 * time.Minute, true, StateReady, 2 * time.Minute, false},
		{"recovering flaps", StateRecovering, time.Minute, false, StateExcluded, 0, true},
		{"since in the future counts as now", StateUnhealthy, -time.Hour, false, StateUnhealthy, -time.Hour, false},
	}
	now := t0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := MemberInput{Name: "m", Weight: 1, Healthy: tt.healthy, State: tt.state}
			if tt.since != -1 {
				m.Since = now.Add(-tt.since)
			}
			r := Evaluate(Input{Now: now, Total: 3, Policy: pol, Members: []MemberInput{m}}).Members[0]
			if r.State != tt.wantState || r.Excluded != tt.wantExcluded || !r.Since.Equal(now.Add(-tt.wantSince)) {
				t.Errorf("got %s excluded=%v since now-%v, want %s excluded=%v since now-%v",
					r.State, r.Excluded, now.Sub(r.Since), tt.wantState, tt.wantExcluded, tt.wantSince)
			}
		})
	}
}

func TestEvaluateGraceZero(t *testing.T) {
	in := Input{Now: t0, Total: 4, Policy: Policy{StabilizationPeriod: time.Minute}, Members: threeMembers(2, 1, 1)}
	in.Members[0].Healthy = false
	if got := summary(Evaluate(in)); got != "Excluded 0/0, Ready 2/2, Ready 2/2" {
		t.Errorf("grace 0 should exclude at once: %s", got)
	}
}

func TestEvaluateDescriptions(t *testing.T) {
	pol := Policy{GracePeriod: time.Minute, MaxRebalancePercentage: 10}
	// LastStep = now: no step is due, so the stored shares show as they are.
	in := Input{Now: t0, LastStep: t0, Total: 10, Seed: seedA, Policy: pol, Members: []MemberInput{
		{Name: "a", Weight: 1, Reason: "target missing", State: StateUnhealthy, Since: t0.Add(-45 * time.Second), Desired: 2},
		{Name: "b", Weight: 1, Reason: "API not ready", State: StateExcluded, Since: t0.Add(-3 * time.Minute), Desired: 2},
		{Name: "c", Weight: 1, Healthy: true, State: StateRecovering, Since: t0.Add(-20 * time.Second)},
		{Name: "d", Weight: 1, Healthy: true, State: StateReady, Since: t0, Desired: 2},
		{Name: "e", Weight: 1, Healthy: true, State: StateReady, Since: t0, Desired: 4},
		{Name: "f", Weight: 0, Healthy: true, State: StateReady, Since: t0, Desired: 0},
	}}
	want := []string{
		"target missing for 45s; grace period 1m0s",
		"API not ready for 3m0s; excluded after grace period 1m0s; 2 of its replicas still to move to other members",
		"healthy for 20s; excluded until healthy for 1m0s",
		"healthy; receiving replicas: 2 of 3",
		"healthy",
		"healthy",
	}
	res := Evaluate(in)
	for i, r := range res.Members {
		if r.Description != want[i] {
			t.Errorf("%s: %q, want %q", r.Name, r.Description, want[i])
		}
	}
	in.Members = []MemberInput{
		{Name: "d", Weight: 1, Healthy: true, State: StateReady, Since: t0, Desired: 0},
		{Name: "e", Weight: 1, Healthy: true, State: StateReady, Since: t0, Desired: 10},
	}
	res = Evaluate(in)
	if d := res.Members[1].Description; d != "healthy; giving back replicas: 10, going to 5" {
		t.Errorf("giving back: %q", d)
	}
}

func TestEvaluateDuplicateName(t *testing.T) {
	in := Input{Now: t0, Total: 4, Seed: seedA, Policy: policy50, Members: []MemberInput{
		{Name: "a", Weight: 1, Healthy: true},
		{Name: "a", Weight: 5, Healthy: true, Desired: 9},
		{Name: "b", Weight: 1, Healthy: true},
	}}
	res := Evaluate(in)
	if got := summary(res); got != "Ready 2/2, Excluded 0/0, Ready 2/2" {
		t.Errorf("got %s", got)
	}
	if res.Members[1].Apply || res.Members[1].Description != "duplicate member name; ignored" {
		t.Errorf("duplicate: %+v", res.Members[1])
	}
}

func TestPolicyNormalized(t *testing.T) {
	tests := []struct{ in, want Policy }{
		{Policy{}, Policy{StabilizationPeriod: 0, MaxRebalancePercentage: 50, StepInterval: DefaultStepInterval}},
		{Policy{GracePeriod: 2 * time.Minute}, Policy{GracePeriod: 2 * time.Minute, StabilizationPeriod: 2 * time.Minute, MaxRebalancePercentage: 50, StepInterval: DefaultStepInterval}},
		{Policy{GracePeriod: -time.Second, MaxRebalancePercentage: 500, StepInterval: time.Second}, Policy{MaxRebalancePercentage: 100, StepInterval: time.Second}},
		{DefaultPolicy(), Policy{GracePeriod: time.Minute, StabilizationPeriod: time.Minute, MaxRebalancePercentage: 50, StepInterval: 30 * time.Second}},
	}
	for _, tt := range tests {
		if got := tt.in.normalized(); got != tt.want {
			t.Errorf("%+v.normalized() = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// FuzzEvaluate drives random outages, recoveries and total changes through the state machine,
// feeding each result back, and checks after every evaluation:
//   - Σ desired over all members = total while any member is included; settled ⇒ the included
//     members hold exactly the total; shares move toward their targets, never past them;
//   - at most |change of total| + 2·limit replicas change per evaluation;
//   - the result does not depend on the order of members;
//   - while no member has been included again and the total has not fallen, no Ready member's
//     share ever falls (a healthy member is never scaled down because another one failed);
//   - not settled with a member included ⇒ a requeue is scheduled;
//   - once health stops changing, it settles.
func FuzzEvaluate(f *testing.F) {
	f.Add([]byte{3, 1, 1, 1, 10, 0x81, 6, 0x02, 6, 0x82, 7}, "uid", uint8(50))
	f.Add([]byte{2, 3, 1, 10, 0x80, 7, 0x00, 3, 0x81, 7, 0x01, 7, 0x80, 7}, "x", uint8(20))
	f.Add([]byte{4, 0, 1, 2, 0, 40, 0x81, 7, 0x42, 7, 0x83, 2, 0x01, 7}, "", uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, seed string, pct uint8) {
		if len(data) < 3 {
			return
		}
		n := 1 + int(data[0])%5
		data = data[1:]
		members := make([]MemberInput, n)
		for i := range members {
			var w int32
			if len(data) > 0 {
				w, data = int32(data[0]%4), data[1:]
			}
			members[i] = MemberInput{Name: fmt.Sprintf("m%d", i), Weight: w, Healthy: true}
		}
		var total int32 = 10
		if len(data) > 0 {
			total, data = int32(data[0]%60), data[1:]
		}
		pol := Policy{GracePeriod: time.Minute, StabilizationPeriod: 90 * time.Second,
			MaxRebalancePercentage: int32(pct), StepInterval: 10 * time.Second}
		limit := int64(max(1, int64(total)*int64(pol.normalized().MaxRebalancePercentage)/100))
		in := Input{Now: t0, Total: total, Seed: seed, Policy: pol, Members: members}

		included, fell := false, false
		eval := func() Result {
			res := Evaluate(in)
			checkInvariants(t, in, res)

			var sumPrev, moved int64
			for i, r := range res.Members {
				sumPrev += int64(in.Members[i].Desired)
				moved += abs(int64(r.Desired) - int64(in.Members[i].Desired))
			}
			if d := abs(int64(in.Total) - sumPrev); moved > d+2*limit && anyIncluded(res) {
				t.Fatalf("moved %d with total change %d and limit %d", moved, d, limit)
			}

			shuffled := in
			shuffled.Members = append([]MemberInput(nil), in.Members...)
			for i, j := 0, len(shuffled.Members)-1; i < j; i, j = i+1, j-1 {
				shuffled.Members[i], shuffled.Members[j] = shuffled.Members[j], shuffled.Members[i]
			}
			other := Evaluate(shuffled)
			for i, r := range res.Members {
				if o := other.Members[len(res.Members)-1-i]; o.Desired != r.Desired || o.State != r.State || o.Target != r.Target {
					t.Fatalf("order matters for %s: %+v vs %+v", r.Name, r, o)
				}
			}

			for i, r := range res.Members {
				if r.State == StateReady && in.Members[i].State != StateReady && in.Members[i].State != StateUnhealthy && in.Members[i].State != "" {
					included = true
				}
			}
			if !included && !fell {
				for i, r := range res.Members {
					if r.State == StateReady && in.Members[i].State == StateReady && r.Desired < in.Members[i].Desired {
						t.Fatalf("%s scaled down %d→%d while others fail", r.Name, in.Members[i].Desired, r.Desired)
					}
				}
			}
			if !res.Settled && anyIncluded(res) && res.RequeueAfter <= 0 {
				t.Fatalf("not settled and nothing scheduled: %s", summary(res))
			}

			in.LastStep = res.LastStep
			for i, r := range res.Members {
				in.Members[i].State, in.Members[i].Since, in.Members[i].Desired = r.State, r.Since, r.Desired
			}
			return res
		}
		eval()
		for ; len(data) >= 2; data = data[2:] {
			op, arg := data[0], data[1]
			in.Now = in.Now.Add(time.Duration(arg%8) * 10 * time.Second)
			if op&0x80 != 0 {
				m := &in.Members[int(op)%n]
				m.Healthy = !m.Healthy
			}
			if op&0x40 != 0 {
				next := int32(arg) % 60
				fell = fell || next < in.Total
				in.Total = next
				limit = max(1, int64(in.Total)*int64(pol.normalized().MaxRebalancePercentage)/100)
			}
			eval()
		}

		// Health stops changing: it must settle.
		anyHealthy := false
		for _, m := range in.Members {
			anyHealthy = anyHealthy || m.Healthy
		}
		for i := 0; ; i++ {
			in.Now = in.Now.Add(10 * time.Second)
			res := eval()
			if res.Settled || !anyHealthy && i > 20 {
				break
			}
			if i > 200 {
				t.Fatalf("did not settle: %s", summary(res))
			}
		}
	})
}

func anyIncluded(res Result) bool {
	for _, r := range res.Members {
		if !r.Excluded {
			return true
		}
	}
	return false
}

func abs(x int64) int64 { return max(x, -x) }
