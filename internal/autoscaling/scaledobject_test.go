package autoscaling

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var errUnreachable = errors.New("connection refused")

func nan() float64 { return math.NaN() }

// walkthrough is the DSO of the reference walkthrough: three members at one
// replica each, a ConfigMap value of 20, target 5, min 1, max 10.
func walkthrough() ScaledObjectInput {
	return ScaledObjectInput{
		Triggers:        []Trigger{{Name: "cm", Value: 20, Target: 5}},
		CurrentReplicas: 3,
		ReadyReplicas:   3,
		MinReplicaCount: ptr(int32(1)),
		MaxReplicaCount: ptr(int32(10)),
		CreationTime:    t0.Add(-time.Hour),
	}
}

func TestWalkthrough(t *testing.T) {
	in := walkthrough()
	steps := []struct {
		value       float64
		want        int32
		rateLimited bool
		requeue     time.Duration
	}{
		{value: 20, want: 4}, // ratio 20/15 = 1.33 → ceil(20/5)
		{value: 50, want: 8, rateLimited: true, requeue: HPASyncPeriod}, // wants 10, limited to max(2×4, 4)
		{value: 50, want: 10},                         // next evaluation reaches 10
		{value: 50, want: 10},                         // steady
		{value: 20, want: 10, requeue: HPASyncPeriod}, // wants 4, the 300 s window holds 10
	}
	now := t0
	for i, step := range steps {
		in.Triggers[0].Value = step.value
		d, err := DecideTotal(in, now)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if d.DesiredReplicas != step.want || d.RateLimited != step.rateLimited || d.RequeueAfter != step.requeue {
			t.Fatalf("step %d (value %v, current %d): got %d rateLimited=%v requeue=%v, want %d %v %v (%s)",
				i, step.value, in.CurrentReplicas, d.DesiredReplicas, d.RateLimited, d.RequeueAfter, step.want, step.rateLimited, step.requeue, d.Reason)
		}
		if !d.Active || d.Conditions.Active.Reason != ReasonScalerActive || d.Conditions.Ready.Status != metav1.ConditionTrue {
			t.Fatalf("step %d: conditions %+v", i, d.Conditions)
		}
		if d.State.LastActiveTime == nil || !d.State.LastActiveTime.Time.Equal(now) {
			t.Fatalf("step %d: lastActiveTime = %v, want %v", i, d.State.LastActiveTime, now)
		}
		in.CurrentReplicas, in.ReadyReplicas, in.State = d.DesiredReplicas, d.DesiredReplicas, d.State
		now = now.Add(HPASyncPeriod)
	}
	// Five minutes after the drop the window has passed: 10 → 4.
	d, err := DecideTotal(in, now.Add(300*time.Second))
	if err != nil || d.DesiredReplicas != 4 {
		t.Fatalf("after the window: got %d, %v (%s)", d.DesiredReplicas, err, d.Reason)
	}
}

type soCase struct {
	name       string
	in         ScaledObjectInput
	want       int32
	active     bool
	activeWhy  string
	ready      metav1.ConditionStatus
	readyWhy   string
	fallback   metav1.ConditionStatus
	paused     metav1.ConditionStatus
	lastActive *time.Time // expected LastActiveTime; nil means none
	requeue    time.Duration
	failures   map[string]int32
}

// oldHistory is a history whose only recommendation is long gone, so the HPA
// neither seeds a recommendation nor holds anything back.
var oldHistory = History{Recommendations: recs(1, time.Hour)}

func at(d time.Duration) *time.Time { tm := t0.Add(d); return &tm }

func mtime(d time.Duration) *metav1.Time { return ptr(metav1.NewTime(t0.Add(d))) }

func with(mutate func(*ScaledObjectInput)) ScaledObjectInput {
	in := walkthrough()
	mutate(&in)
	return in
}

func runSOCases(t *testing.T, cases []soCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := DecideTotal(tc.in, t0)
			if err != nil {
				t.Fatalf("DecideTotal: %v", err)
			}
			if d.DesiredReplicas != tc.want {
				t.Errorf("desired = %d, want %d (%s)", d.DesiredReplicas, tc.want, d.Reason)
			}
			if d.Active != tc.active || (tc.activeWhy != "" && d.Conditions.Active.Reason != tc.activeWhy) {
				t.Errorf("active = %v/%s, want %v/%s", d.Active, d.Conditions.Active.Reason, tc.active, tc.activeWhy)
			}
			wantReady, wantReadyWhy := tc.ready, tc.readyWhy
			if wantReady == "" {
				wantReady, wantReadyWhy = metav1.ConditionTrue, ReasonReady
			}
			if d.Conditions.Ready.Status != wantReady || d.Conditions.Ready.Reason != wantReadyWhy {
				t.Errorf("ready = %s/%s, want %s/%s", d.Conditions.Ready.Status, d.Conditions.Ready.Reason, wantReady, wantReadyWhy)
			}
			if want := orFalse(tc.fallback); d.Conditions.Fallback.Status != want {
				t.Errorf("fallback = %s, want %s", d.Conditions.Fallback.Status, want)
			}
			if want := orFalse(tc.paused); d.Conditions.Paused.Status != want {
				t.Errorf("paused = %s, want %s", d.Conditions.Paused.Status, want)
			}
			switch got := d.State.LastActiveTime; {
			case tc.lastActive == nil && got != nil:
				t.Errorf("lastActiveTime = %v, want none", got)
			case tc.lastActive != nil && (got == nil || !got.Time.Equal(*tc.lastActive)):
				t.Errorf("lastActiveTime = %v, want %v", got, *tc.lastActive)
			}
			if d.RequeueAfter != tc.requeue {
				t.Errorf("requeueAfter = %v, want %v", d.RequeueAfter, tc.requeue)
			}
			if tc.failures != nil && !equalCounts(d.State.TriggerFailures, tc.failures) {
				t.Errorf("failures = %v, want %v", d.State.TriggerFailures, tc.failures)
			}
		})
	}
}

func orFalse(s metav1.ConditionStatus) metav1.ConditionStatus {
	if s == "" {
		return metav1.ConditionFalse
	}
	return s
}

func equalCounts(a, b map[string]int32) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestActivationAndCooldown(t *testing.T) {
	now := at(0)
	runSOCases(t, []soCase{
		{
			name: "active at zero goes to 1 when min is 0",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.ReadyReplicas, in.MinReplicaCount = 0, 0, nil
			}),
			want: 1, active: true, activeWhy: ReasonScalerActive, lastActive: now, requeue: HPASyncPeriod,
		},
		{
			name: "active at zero goes to min",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.ReadyReplicas, in.MinReplicaCount = 0, 0, ptr(int32(3))
			}),
			want: 3, active: true, activeWhy: ReasonScalerActive, lastActive: now, requeue: HPASyncPeriod,
		},
		{
			name: "a value equal to the activation target is not active",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.MinReplicaCount = 0, nil
				in.Triggers[0].Value, in.Triggers[0].ActivationTarget = 10, 10
			}),
			want: 0, active: false, activeWhy: ReasonScalerNotActive,
		},
		{
			name: "above the activation target is active",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.MinReplicaCount = 0, nil
				in.Triggers[0].Value, in.Triggers[0].ActivationTarget = 10.5, 10
			}),
			want: 1, active: true, lastActive: now, requeue: HPASyncPeriod,
		},
		{
			name: "active at idle goes to min",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.MinReplicaCount, in.IdleReplicaCount = 1, ptr(int32(3)), ptr(int32(1))
			}),
			want: 3, active: true, lastActive: now, requeue: HPASyncPeriod,
		},
		{
			name: "active above zero: HPA math and lastActiveTime = now",
			in:   walkthrough(),
			want: 4, active: true, lastActive: now,
		},
		{
			name: "inactive within the cooldown: HPA lowers to its minimum 1, requeue at the cooldown end",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.MinReplicaCount = 2, nil
				in.Triggers[0].Value = 0
				in.State = ScaledObjectState{LastActiveTime: mtime(-100 * time.Second), History: oldHistory}
			}),
			want: 1, active: false, activeWhy: ReasonScalerCooldown, lastActive: at(-100 * time.Second),
			requeue: 200*time.Second + time.Millisecond,
		},
		{
			name: "inactive within the cooldown with a fresh HPA: the seeded window holds, requeue at the HPA period",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.MinReplicaCount = 2, nil
				in.Triggers[0].Value = 0
				in.State = ScaledObjectState{LastActiveTime: mtime(-100 * time.Second)}
			}),
			want: 2, active: false, activeWhy: ReasonScalerCooldown, lastActive: at(-100 * time.Second), requeue: HPASyncPeriod,
		},
		{
			name: "at the exact end of the cooldown KEDA still cools down",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.MinReplicaCount = 1, nil
				in.Triggers[0].Value = 0
				in.State = ScaledObjectState{LastActiveTime: mtime(-300 * time.Second), History: oldHistory}
			}),
			want: 1, active: false, activeWhy: ReasonScalerCooldown, lastActive: at(-300 * time.Second), requeue: time.Millisecond,
		},
		{
			name: "inactive past the cooldown goes to 0",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.MinReplicaCount = 4, nil
				in.Triggers[0].Value = 0
				in.State = ScaledObjectState{LastActiveTime: mtime(-301 * time.Second)}
			}),
			want: 0, active: false, activeWhy: ReasonScalerNotActive, lastActive: at(-301 * time.Second),
		},
		{
			name: "custom cooldownPeriod",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.MinReplicaCount, in.CooldownPeriod = 4, nil, ptr(int32(30))
				in.Triggers[0].Value = 0
				in.State = ScaledObjectState{LastActiveTime: mtime(-31 * time.Second)}
			}),
			want: 0, active: false, activeWhy: ReasonScalerNotActive, lastActive: at(-31 * time.Second),
		},
		{
			name: "inactive past the cooldown goes to idleReplicaCount",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.MinReplicaCount, in.IdleReplicaCount = 5, ptr(int32(2)), ptr(int32(0))
				in.Triggers[0].Value = 0
				in.State = ScaledObjectState{LastActiveTime: mtime(-time.Hour)}
			}),
			want: 0, active: false, activeWhy: ReasonScalerNotActive, lastActive: at(-time.Hour),
		},
		{
			name: "inactive at idleReplicaCount above zero stays there (no HPA fight)",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.MinReplicaCount, in.IdleReplicaCount = 1, ptr(int32(3)), ptr(int32(1))
				in.Triggers[0].Value = 0
				in.State = ScaledObjectState{LastActiveTime: mtime(-time.Hour)}
			}),
			want: 1, active: false, activeWhy: ReasonScalerNotActive, lastActive: at(-time.Hour),
		},
		{
			name: "never active: the initial cooldown runs from creation",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.MinReplicaCount, in.InitialCooldownPeriod = 1, nil, ptr(int32(60))
				in.CreationTime = t0.Add(-10 * time.Second)
				in.Triggers[0].Value = 0
				in.State = ScaledObjectState{History: oldHistory}
			}),
			want: 1, active: false, activeWhy: ReasonScalerCooldown, requeue: 50*time.Second + time.Millisecond,
		},
		{
			name: "never active: past the initial cooldown goes to 0",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.MinReplicaCount, in.InitialCooldownPeriod = 3, nil, ptr(int32(60))
				in.CreationTime = t0.Add(-61 * time.Second)
				in.Triggers[0].Value = 0
			}),
			want: 0, active: false, activeWhy: ReasonScalerNotActive,
		},
		{
			name: "never active with the default initial cooldown of 0 goes to 0 at once",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.MinReplicaCount = 3, nil
				in.CreationTime = t0.Add(-time.Second)
				in.Triggers[0].Value = 0
			}),
			want: 0, active: false, activeWhy: ReasonScalerNotActive,
		},
		{
			name: "inactive below min (no idle) is raised to min",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.MinReplicaCount = 1, ptr(int32(2))
				in.Triggers[0].Value = 0
			}),
			want: 2, active: false, activeWhy: ReasonScalerNotActive,
		},
		{
			name: "inactive with min > 0: the HPA brings it down to min, never to 0",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.MinReplicaCount = 5, ptr(int32(2))
				in.Triggers[0].Value = 0
				in.State = ScaledObjectState{LastActiveTime: mtime(-time.Hour), History: oldHistory}
			}),
			want: 2, active: false, activeWhy: ReasonScalerNotActive, lastActive: at(-time.Hour),
		},
		{
			name: "inactive and already at 0 stays at 0",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.MinReplicaCount = 0, nil
				in.Triggers[0].Value = 0
			}),
			want: 0, active: false, activeWhy: ReasonScalerNotActive,
		},
		{
			name: "maxReplicaCount defaults to 100",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.MaxReplicaCount = 80, nil
				in.Triggers[0].Value = 1000
			}),
			want: 100, active: true, lastActive: now,
		},
	})
}

func TestTriggerErrors(t *testing.T) {
	now := at(0)
	runSOCases(t, []soCase{
		{
			name: "all triggers failing without fallback keep the total, even past the cooldown",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.MinReplicaCount = 5, nil
				in.Triggers[0].Err = errUnreachable
				in.State = ScaledObjectState{LastActiveTime: mtime(-time.Hour), History: oldHistory}
			}),
			want: 5, active: false, activeWhy: ReasonScalerNotActive, ready: metav1.ConditionFalse, readyWhy: ReasonTriggerError,
			lastActive: at(-time.Hour),
		},
		{
			name: "a value that is not a number counts as a failure",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas = 5
				in.Triggers[0].Value = nan()
			}),
			want: 5, active: false, ready: metav1.ConditionFalse, readyWhy: ReasonTriggerError,
		},
		{
			name: "partial failure while active: scale-up from the working trigger, lastActiveTime kept",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas = 5
				in.Triggers = []Trigger{{Name: "a", Target: 5, Err: errUnreachable}, {Name: "b", Value: 40, Target: 5}}
				in.State = ScaledObjectState{LastActiveTime: mtime(-time.Minute)}
			}),
			want: 8, active: true, activeWhy: ReasonScalerActive, ready: metav1.ConditionUnknown, readyWhy: ReasonPartialTriggerError,
			lastActive: at(-time.Minute),
		},
		{
			name: "partial failure blocks a scale-down",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas = 5
				in.Triggers = []Trigger{{Name: "a", Target: 5, Err: errUnreachable}, {Name: "b", Value: 6, Target: 5}}
				in.State = ScaledObjectState{History: oldHistory}
			}),
			want: 5, active: true, ready: metav1.ConditionUnknown, readyWhy: ReasonPartialTriggerError,
		},
		{
			name: "partial failure with the other trigger inactive: TriggerError, no scale-down",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.MinReplicaCount = 5, nil
				in.Triggers = []Trigger{{Name: "a", Target: 5, Err: errUnreachable}, {Name: "b", Value: 0, Target: 5}}
				in.State = ScaledObjectState{LastActiveTime: mtime(-time.Hour), History: oldHistory}
			}),
			want: 5, active: false, ready: metav1.ConditionFalse, readyWhy: ReasonTriggerError, lastActive: at(-time.Hour),
		},
		{
			name: "an invalid target makes the trigger fail",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas = 5
				in.Triggers[0].Target = 0
			}),
			want: 5, active: false, ready: metav1.ConditionFalse, readyWhy: ReasonTriggerError,
		},
		{
			name: "unnamed triggers are told apart by position",
			in: with(func(in *ScaledObjectInput) {
				in.Triggers = []Trigger{{Value: 20, Target: 5}, {Value: 0, Target: 5, Err: errUnreachable}}
				in.Fallback = &Fallback{FailureThreshold: 3, Replicas: 2}
			}),
			want: 4, active: true, ready: metav1.ConditionUnknown, readyWhy: ReasonPartialTriggerError,
			failures: map[string]int32{"#1": 1},
		},
		{
			name: "counts of triggers that no longer exist are dropped",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas = 5
				in.Triggers[0].Err = errUnreachable
				in.Fallback = &Fallback{FailureThreshold: 3, Replicas: 6}
				in.State = ScaledObjectState{TriggerFailures: map[string]int32{"cm": 1, "removed": 7}, History: oldHistory}
			}),
			want: 5, active: false, failures: map[string]int32{"cm": 2},
		},
		{
			name: "one trigger read as two metrics: both count, each has its own failure count",
			in: with(func(in *ScaledObjectInput) {
				in.Triggers = []Trigger{{Name: "w", Value: 20, Target: 5}, {Name: "w", Target: 5, Err: errUnreachable}}
				in.Fallback = &Fallback{FailureThreshold: 3, Replicas: 6}
				in.State = ScaledObjectState{TriggerFailures: map[string]int32{"w#1": 1}}
			}),
			want: 4, active: true, ready: metav1.ConditionUnknown, readyWhy: ReasonPartialTriggerError,
			failures: map[string]int32{"w#1": 2},
		},
		{
			name: "success after failures resets the count",
			in: with(func(in *ScaledObjectInput) {
				in.Fallback = &Fallback{FailureThreshold: 3, Replicas: 6}
				in.State = ScaledObjectState{TriggerFailures: map[string]int32{"cm": 5}}
			}),
			want: 4, active: true, lastActive: now, failures: map[string]int32{},
		},
	})
}

func TestFallback(t *testing.T) {
	now := at(0)
	failing := func(fb Fallback, failures int32, mutate func(*ScaledObjectInput)) ScaledObjectInput {
		return with(func(in *ScaledObjectInput) {
			in.CurrentReplicas, in.ReadyReplicas = 4, 4
			in.Triggers[0].Err = errUnreachable
			in.Fallback = &fb
			in.State = ScaledObjectState{
				TriggerFailures: map[string]int32{"cm": failures},
				LastActiveTime:  mtime(-time.Minute),
				History:         oldHistory,
			}
			if mutate != nil {
				mutate(in)
			}
		})
	}
	downAtOnce := &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: rules(0, "")}
	runSOCases(t, []soCase{
		{
			name: "failures up to the threshold are only counted",
			in:   failing(Fallback{FailureThreshold: 3, Replicas: 6}, 2, nil),
			want: 4, active: false, failures: map[string]int32{"cm": 3}, lastActive: at(-time.Minute),
		},
		{
			name: "the failure past the threshold applies static replicas",
			in:   failing(Fallback{FailureThreshold: 3, Replicas: 6}, 3, nil),
			want: 6, active: true, fallback: metav1.ConditionTrue, failures: map[string]int32{"cm": 4}, lastActive: now,
		},
		{
			name: "threshold 0 applies on the first failure",
			in:   failing(Fallback{FailureThreshold: 0, Replicas: 6}, 0, nil),
			want: 6, active: true, fallback: metav1.ConditionTrue, failures: map[string]int32{"cm": 1}, lastActive: now,
		},
		{
			name: "static fallback is subject to the HPA scale-up limit",
			in: failing(Fallback{FailureThreshold: 3, Replicas: 10}, 3, func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.ReadyReplicas = 2, 2
			}),
			want: 4, active: true, fallback: metav1.ConditionTrue, lastActive: now, requeue: HPASyncPeriod,
		},
		{
			name: "currentReplicas keeps the current total",
			in:   failing(Fallback{FailureThreshold: 3, Replicas: 6, Behavior: FallbackCurrentReplicas}, 3, nil),
			want: 4, active: true, fallback: metav1.ConditionTrue, lastActive: now,
		},
		{
			name: "currentReplicasIfHigher with current higher keeps current",
			in:   failing(Fallback{FailureThreshold: 3, Replicas: 2, Behavior: FallbackCurrentReplicasIfHigher}, 3, nil),
			want: 4, active: true, fallback: metav1.ConditionTrue, lastActive: now,
		},
		{
			name: "currentReplicasIfHigher with fallback higher uses the fallback",
			in:   failing(Fallback{FailureThreshold: 3, Replicas: 6, Behavior: FallbackCurrentReplicasIfHigher}, 3, nil),
			want: 6, active: true, fallback: metav1.ConditionTrue, lastActive: now,
		},
		{
			name: "currentReplicasIfLower with fallback lower uses the fallback",
			in: failing(Fallback{FailureThreshold: 3, Replicas: 2, Behavior: FallbackCurrentReplicasIfLower}, 3, func(in *ScaledObjectInput) {
				in.Behavior = downAtOnce
			}),
			want: 2, active: true, fallback: metav1.ConditionTrue, lastActive: now,
		},
		{
			name: "currentReplicasIfLower with current lower keeps current",
			in:   failing(Fallback{FailureThreshold: 3, Replicas: 6, Behavior: FallbackCurrentReplicasIfLower}, 3, nil),
			want: 4, active: true, fallback: metav1.ConditionTrue, lastActive: now,
		},
		{
			name: "fallback replicas inside the tolerance keep current (the HPA still applies its 10 %)",
			in: failing(Fallback{FailureThreshold: 3, Replicas: 10}, 3, func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.ReadyReplicas = 11, 11
				in.MaxReplicaCount = ptr(int32(20))
			}),
			want: 11, active: true, fallback: metav1.ConditionTrue, lastActive: now,
		},
		{
			name: "Value metrics divide the fallback by the ready pods",
			in: failing(Fallback{FailureThreshold: 3, Replicas: 6}, 3, func(in *ScaledObjectInput) {
				in.ReadyReplicas = 2
				in.Triggers[0].MetricType = autoscalingv2.ValueMetricType
			}),
			want: 6, active: true, fallback: metav1.ConditionTrue, lastActive: now,
		},
		{
			name: "Value metrics with no ready pod cannot fall back",
			in: failing(Fallback{FailureThreshold: 3, Replicas: 6}, 3, func(in *ScaledObjectInput) {
				in.ReadyReplicas = 0
				in.Triggers[0].MetricType = autoscalingv2.ValueMetricType
			}),
			want: 4, active: false, failures: map[string]int32{"cm": 4}, lastActive: at(-time.Minute),
		},
		{
			name: "fallback at zero activates first",
			in: failing(Fallback{FailureThreshold: 3, Replicas: 6}, 3, func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.ReadyReplicas, in.MinReplicaCount = 0, 0, nil
			}),
			want: 1, active: true, fallback: metav1.ConditionTrue, lastActive: now, requeue: HPASyncPeriod,
		},
		{
			name: "fallback with replicas 0 does not protect from the cooldown (KEDA)",
			in: failing(Fallback{FailureThreshold: 3, Replicas: 0}, 0, func(in *ScaledObjectInput) {
				in.MinReplicaCount = nil
				in.State.LastActiveTime = mtime(-time.Hour)
			}),
			want: 0, active: false, failures: map[string]int32{"cm": 1}, lastActive: at(-time.Hour),
		},
	})
}

func TestPause(t *testing.T) {
	now := at(0)
	busy := ScaledObjectState{LastActiveTime: mtime(-time.Minute), History: History{Recommendations: recs(3, time.Minute)}}
	runSOCases(t, []soCase{
		{
			name: "paused freezes the total",
			in: with(func(in *ScaledObjectInput) {
				in.Triggers[0].Value = 50
				in.Pause = Pause{Paused: true}
				in.State = busy
			}),
			want: 3, active: true, paused: metav1.ConditionTrue, lastActive: at(-time.Minute),
		},
		{
			name: "paused-replicas pins the total, even above max",
			in: with(func(in *ScaledObjectInput) {
				in.Pause = Pause{Replicas: ptr(int32(15))}
			}),
			want: 15, active: true, paused: metav1.ConditionTrue,
		},
		{
			name: "paused-replicas 0 wins over paused",
			in: with(func(in *ScaledObjectInput) {
				in.Pause = Pause{Paused: true, Replicas: ptr(int32(0))}
			}),
			want: 0, active: true, paused: metav1.ConditionTrue,
		},
		{
			name: "paused-scale-in blocks the scale to zero after the cooldown",
			in: with(func(in *ScaledObjectInput) {
				in.MinReplicaCount = nil
				in.Triggers[0].Value = 0
				in.Pause = Pause{ScaleIn: true}
				in.State = ScaledObjectState{LastActiveTime: mtime(-time.Hour), History: oldHistory}
			}),
			want: 3, active: false, paused: metav1.ConditionTrue, lastActive: at(-time.Hour),
		},
		{
			name: "paused-scale-in blocks the HPA scale-down",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas = 6
				in.Triggers[0].Value = 5
				in.Pause = Pause{ScaleIn: true}
				in.State = ScaledObjectState{History: oldHistory}
			}),
			want: 6, active: true, paused: metav1.ConditionTrue, lastActive: now,
		},
		{
			name: "paused-scale-in still scales up, with the behavior defaults (3 + 4 Pods)",
			in: with(func(in *ScaledObjectInput) {
				in.Triggers[0].Value = 50
				in.Pause = Pause{ScaleIn: true}
			}),
			want: 7, active: true, paused: metav1.ConditionTrue, lastActive: now, requeue: HPASyncPeriod,
		},
		{
			name: "paused-scale-out blocks the activation from zero",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.MinReplicaCount = 0, nil
				in.Pause = Pause{ScaleOut: true}
			}),
			want: 0, active: true, paused: metav1.ConditionTrue,
		},
		{
			name: "paused-scale-out blocks the HPA scale-up",
			in: with(func(in *ScaledObjectInput) {
				in.Triggers[0].Value = 50
				in.Pause = Pause{ScaleOut: true}
			}),
			want: 3, active: true, paused: metav1.ConditionTrue, lastActive: now,
		},
		{
			name: "paused-scale-out still scales down",
			in: with(func(in *ScaledObjectInput) {
				in.CurrentReplicas = 6
				in.Triggers[0].Value = 5
				in.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: rules(0, "")}
				in.Pause = Pause{ScaleOut: true}
			}),
			want: 1, active: true, paused: metav1.ConditionTrue, lastActive: now,
		},
	})
}

func TestPauseKeepsStateButDropsHistory(t *testing.T) {
	in := walkthrough()
	in.Pause = Pause{Paused: true}
	in.State = ScaledObjectState{
		LastActiveTime:  mtime(-time.Minute),
		TriggerFailures: map[string]int32{"cm": 2},
		History:         History{Recommendations: recs(3, time.Minute), ScaleUpEvents: events(1, time.Minute)},
	}
	in.Fallback = &Fallback{FailureThreshold: 5, Replicas: 1}
	in.Triggers[0].Err = errUnreachable
	d, err := DecideTotal(in, t0)
	if err != nil {
		t.Fatal(err)
	}
	if !d.State.History.IsEmpty() {
		t.Errorf("a paused object has no HPA, so no history: %+v", d.State.History)
	}
	if !equalCounts(d.State.TriggerFailures, map[string]int32{"cm": 2}) || !d.State.LastActiveTime.Time.Equal(t0.Add(-time.Minute)) {
		t.Errorf("state must be kept while paused: %+v", d.State)
	}
}

func TestScalingModifiers(t *testing.T) {
	now := at(0)
	formula := func(f, target, activation string, mutate func(*ScaledObjectInput)) ScaledObjectInput {
		return with(func(in *ScaledObjectInput) {
			in.Triggers = []Trigger{{Name: "a", Value: 10, Target: 1}, {Name: "b", Value: 30, Target: 1}}
			in.ScalingModifiers = &ScalingModifiers{Formula: f, Target: target, ActivationTarget: activation}
			if mutate != nil {
				mutate(in)
			}
		})
	}
	runSOCases(t, []soCase{
		{
			name: "formula result is the one metric: (10+30)/2 = 20 over target 5 → 4",
			in:   formula("(a + b) / 2", "5", "", nil),
			want: 4, active: true, lastActive: now,
		},
		{
			name: "formula below its activation target is inactive",
			in: formula("(a + b) / 2", "5", "25", func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.MinReplicaCount = 0, nil
			}),
			want: 0, active: false, activeWhy: ReasonScalerNotActive,
		},
		{
			name: "the formula alone decides activity, not the triggers",
			in: formula("a - 10", "5", "", func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.MinReplicaCount = 0, nil
			}),
			want: 0, active: false,
		},
		{
			name: "a ternary formula is cast to float",
			in: formula("a > 5 ? 100 : 0", "10", "", func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.MinReplicaCount = 0, nil
			}),
			want: 1, active: true, lastActive: now, requeue: HPASyncPeriod,
		},
		{
			name: "Value metric type for the formula uses ready pods: 40/10 × 2 = 8",
			in: formula("a + b", "10", "", func(in *ScaledObjectInput) {
				in.CurrentReplicas, in.ReadyReplicas = 4, 2
				in.ScalingModifiers.MetricType = autoscalingv2.ValueMetricType
			}),
			want: 8, active: true, lastActive: now,
		},
		{
			name: "a failing trigger of the formula: inactive, TriggerError, total kept",
			in: formula("a + b", "5", "", func(in *ScaledObjectInput) {
				in.CurrentReplicas = 4
				in.Triggers[1].Err = errUnreachable
				in.State = ScaledObjectState{History: oldHistory}
			}),
			want: 4, active: false, ready: metav1.ConditionFalse, readyWhy: ReasonTriggerError,
		},
		{
			name: "fallback replaces the formula result with replicas × target",
			in: formula("a + b", "5", "", func(in *ScaledObjectInput) {
				in.CurrentReplicas = 4
				in.Triggers[1].Err = errUnreachable
				in.Fallback = &Fallback{FailureThreshold: 1, Replicas: 6}
				in.State = ScaledObjectState{TriggerFailures: map[string]int32{"b": 1}}
			}),
			want: 6, active: true, fallback: metav1.ConditionTrue, lastActive: now, failures: map[string]int32{"b": 2},
		},
	})
}

func TestScalingModifiersStatuses(t *testing.T) {
	in := walkthrough()
	in.Triggers = []Trigger{{Name: "a", Value: 10, Target: 1}, {Name: "b", Value: 30, Target: 1}}
	in.ScalingModifiers = &ScalingModifiers{Formula: "(a + b) / 2", Target: "5", ActivationTarget: "1.5"}
	d, err := DecideTotal(in, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Triggers) != 3 {
		t.Fatalf("want a, b and the composite metric, got %+v", d.Triggers)
	}
	c := d.Triggers[2]
	if c.Name != CompositeMetricName || c.Value != 20 || c.Target != 5 || !c.Active || c.MetricType != autoscalingv2.AverageValueMetricType {
		t.Errorf("composite status %+v", c)
	}
	if d.Triggers[0].Value != 10 || !d.Triggers[0].Active || d.Triggers[1].Value != 30 {
		t.Errorf("trigger statuses %+v", d.Triggers[:2])
	}
}

func TestInvalidSpec(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*ScaledObjectInput)
	}{
		{"min above max", func(in *ScaledObjectInput) { in.MinReplicaCount = ptr(int32(11)) }},
		{"max 0", func(in *ScaledObjectInput) { in.MinReplicaCount, in.MaxReplicaCount = nil, ptr(int32(0)) }},
		{"idle not below min", func(in *ScaledObjectInput) { in.IdleReplicaCount = ptr(int32(1)) }},
		{"negative cooldown", func(in *ScaledObjectInput) { in.CooldownPeriod = ptr(int32(-1)) }},
		{"duplicate trigger names with a formula", func(in *ScaledObjectInput) {
			in.Triggers = append(in.Triggers, in.Triggers[0])
			in.ScalingModifiers = &ScalingModifiers{Formula: "cm", Target: "5"}
		}},
		{"utilization metric type", func(in *ScaledObjectInput) { in.Triggers[0].MetricType = autoscalingv2.UtilizationMetricType }},
		{"unsupported fallback behavior", func(in *ScaledObjectInput) {
			in.Fallback = &Fallback{FailureThreshold: 3, Replicas: 1, Behavior: "scalingModifiers"}
		}},
		{"formula does not compile", func(in *ScaledObjectInput) {
			in.ScalingModifiers = &ScalingModifiers{Formula: "cm +", Target: "5"}
		}},
		{"formula names an unknown trigger", func(in *ScaledObjectInput) {
			in.ScalingModifiers = &ScalingModifiers{Formula: "cm + other", Target: "5"}
		}},
		{"formula target 0", func(in *ScaledObjectInput) {
			in.ScalingModifiers = &ScalingModifiers{Formula: "cm", Target: "0"}
		}},
		{"formula activation not a number", func(in *ScaledObjectInput) {
			in.ScalingModifiers = &ScalingModifiers{Formula: "cm", Target: "5", ActivationTarget: "x"}
		}},
		{"negative paused replicas", func(in *ScaledObjectInput) { in.Pause.Replicas = ptr(int32(-2)) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := walkthrough()
			in.State = ScaledObjectState{LastActiveTime: mtime(-time.Minute), History: History{Recommendations: recs(3, time.Minute)}}
			tc.mutate(&in)
			d, err := DecideTotal(in, t0)
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("err = %v, want ErrInvalidSpec", err)
			}
			if d.DesiredReplicas != 3 || d.Conditions.Ready.Status != metav1.ConditionFalse || d.Conditions.Ready.Reason != ReasonInvalidSpec {
				t.Errorf("decision must keep 3 and report the spec: %d %+v", d.DesiredReplicas, d.Conditions.Ready)
			}
			if len(d.State.History.Recommendations) != 1 || !d.State.LastActiveTime.Time.Equal(t0.Add(-time.Minute)) {
				t.Errorf("state must be kept: %+v", d.State)
			}
		})
	}
}

func TestDecideTotalDoesNotAliasInput(t *testing.T) {
	in := walkthrough()
	in.Fallback = &Fallback{FailureThreshold: 3, Replicas: 1}
	in.Triggers = append(in.Triggers, Trigger{Name: "x", Target: 1, Err: errUnreachable})
	in.State = ScaledObjectState{
		TriggerFailures: map[string]int32{"x": 1},
		History:         History{Recommendations: recs(3, 10*time.Second, 2, 20*time.Second)},
	}
	before := slices.Clone(in.State.History.Recommendations)
	d, err := DecideTotal(in, t0)
	if err != nil {
		t.Fatal(err)
	}
	if d.DesiredReplicas != 4 || len(d.State.History.Recommendations) != 3 {
		t.Fatalf("got %d with history %+v (%s)", d.DesiredReplicas, d.State.History, d.Reason)
	}
	if in.State.TriggerFailures["x"] != 1 || !slices.Equal(in.State.History.Recommendations, before) {
		t.Errorf("input state was modified: %+v", in.State)
	}
	if d.State.TriggerFailures["x"] != 2 {
		t.Errorf("failures = %v", d.State.TriggerFailures)
	}
}

func TestPauseFromAnnotations(t *testing.T) {
	cases := []struct {
		name    string
		ann     map[string]string
		want    Pause
		wantErr bool
	}{
		{name: "none", ann: nil, want: Pause{}},
		{name: "paused true", ann: map[string]string{AnnotationPaused: "true"}, want: Pause{Paused: true}},
		{name: "paused false", ann: map[string]string{AnnotationPaused: "false"}, want: Pause{}},
		{name: "a value that is not a boolean counts as true", ann: map[string]string{AnnotationPaused: "yes please"}, want: Pause{Paused: true}},
		{name: "scale-in", ann: map[string]string{AnnotationPausedScaleIn: "true"}, want: Pause{ScaleIn: true}},
		{name: "scale-out", ann: map[string]string{AnnotationPausedScaleOut: "1"}, want: Pause{ScaleOut: true}},
		{name: "replicas", ann: map[string]string{AnnotationPausedReplicas: "4"}, want: Pause{Replicas: ptr(int32(4))}},
		{name: "replicas not a number", ann: map[string]string{AnnotationPausedReplicas: "four"}, wantErr: true},
		{name: "replicas negative", ann: map[string]string{AnnotationPausedReplicas: "-1"}, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PauseFromAnnotations(tc.ann)
			if tc.wantErr {
				if !errors.Is(err, ErrInvalidSpec) {
					t.Fatalf("err = %v, want ErrInvalidSpec", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Paused != tc.want.Paused || got.ScaleIn != tc.want.ScaleIn || got.ScaleOut != tc.want.ScaleOut ||
				(got.Replicas == nil) != (tc.want.Replicas == nil) || (got.Replicas != nil && *got.Replicas != *tc.want.Replicas) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// The state goes through the object's status between evaluations (and across
// restarts); a JSON round trip must not change any decision.
func TestStateSurvivesJSONRoundTrip(t *testing.T) {
	direct, stored := walkthrough(), walkthrough()
	stored.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: rules(60, "", pods(2, 30))}
	direct.Behavior = stored.Behavior
	stored.Fallback = &Fallback{FailureThreshold: 2, Replicas: 3}
	direct.Fallback = stored.Fallback
	values := []float64{20, 50, 50, 0, 0, -1, -1, -1, 5, 5, 5, 5}
	now := t0
	for i, v := range values {
		for _, in := range []*ScaledObjectInput{&direct, &stored} {
			in.Triggers[0].Value, in.Triggers[0].Err = v, nil
			if v < 0 {
				in.Triggers[0].Err = errUnreachable
			}
		}
		d1, err1 := DecideTotal(direct, now)
		d2, err2 := DecideTotal(stored, now)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if d1.DesiredReplicas != d2.DesiredReplicas || d1.RequeueAfter != d2.RequeueAfter || d1.Reason != d2.Reason {
			t.Fatalf("step %d: direct %d (%s), after a round trip %d (%s)", i, d1.DesiredReplicas, d1.Reason, d2.DesiredReplicas, d2.Reason)
		}
		raw, err := json.Marshal(d2.State)
		if err != nil {
			t.Fatal(err)
		}
		var restored ScaledObjectState
		if err := json.Unmarshal(raw, &restored); err != nil {
			t.Fatalf("unmarshal %s: %v", raw, err)
		}
		direct.State, stored.State = d1.State, restored
		direct.CurrentReplicas, stored.CurrentReplicas = d1.DesiredReplicas, d2.DesiredReplicas
		direct.ReadyReplicas, stored.ReadyReplicas = d1.DesiredReplicas, d2.DesiredReplicas
		now = now.Add(HPASyncPeriod)
	}
	// 10 held by the 60 s window, fallback to 3 on the third failure, then
	// the 2-Pods-per-30 s policy paces 10 → 8 → 6 → 4.
	if direct.CurrentReplicas != 4 {
		t.Errorf("final total %d, want 4", direct.CurrentReplicas)
	}
}
