package distributedscaledjob

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/autoscaling"
	"github.com/fleetscale/fleetscale/internal/jobs"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func mt(d time.Duration) *metav1.Time { return &metav1.Time{Time: t0.Add(d)} }

func TestPolicyOf(t *testing.T) {
	tests := []struct {
		name string
		spec v1alpha1.DistributedScaledJobSpec
		want jobs.Policy
	}{
		{name: "defaults", want: jobs.DefaultPolicy()},
		{
			name: "walkthrough: gradual, history 2/2",
			spec: v1alpha1.DistributedScaledJobSpec{ScaledJobSpec: v1alpha1.ScaledJobSpec{
				Rollout:                    v1alpha1.Rollout{Strategy: "gradual", PropagationPolicy: "foreground"},
				SuccessfulJobsHistoryLimit: ptr.To[int32](2), FailedJobsHistoryLimit: ptr.To[int32](2),
			}},
			want: func() jobs.Policy {
				p := jobs.DefaultPolicy()
				p.GradualRollout, p.SuccessfulJobsHistoryLimit, p.FailedJobsHistoryLimit = true, 2, 2
				return p
			}(),
		},
		{
			name: "failover policy",
			spec: v1alpha1.DistributedScaledJobSpec{ClusterScheduling: &v1alpha1.ClusterScheduling{FailoverPolicy: &v1alpha1.FailoverPolicy{
				GracePeriod: "3s", SoftTaintDuration: "1m30s", HardTaintDuration: "1h", DuplicationPolicy: "preferSource",
			}}},
			want: func() jobs.Policy {
				p := jobs.DefaultPolicy()
				p.GracePeriod, p.SoftTaintDuration, p.HardTaintDuration, p.Duplication = 3*time.Second, 90*time.Second, time.Hour, jobs.PreferSource
				return p
			}(),
		},
		{
			name: "empty failover policy keeps the defaults",
			spec: v1alpha1.DistributedScaledJobSpec{ClusterScheduling: &v1alpha1.ClusterScheduling{FailoverPolicy: &v1alpha1.FailoverPolicy{}}},
			want: jobs.DefaultPolicy(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := policyOf(&v1alpha1.DistributedScaledJob{Spec: tt.spec})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("policyOf (-want +got):\n%s", diff)
			}
		})
	}
	// An overflowing duration is an error naming the field, not a silent default.
	_, err := policyOf(&v1alpha1.DistributedScaledJob{Spec: v1alpha1.DistributedScaledJobSpec{ClusterScheduling: &v1alpha1.ClusterScheduling{
		FailoverPolicy: &v1alpha1.FailoverPolicy{GracePeriod: "99999999999h", HardTaintDuration: "5m"}}}})
	if err == nil || !strings.Contains(err.Error(), `clusterScheduling.failoverPolicy.gracePeriod: duration "99999999999h" must be at most 999999h`) {
		t.Errorf("overflowing gracePeriod: %v", err)
	}
}

func TestRolloutPropagationAndStrategy(t *testing.T) {
	dsj := &v1alpha1.DistributedScaledJob{}
	if rolloutPropagation(dsj) != metav1.DeletePropagationBackground || strategy(dsj) != StrategyWeightedRoundRobin {
		t.Errorf("defaults: %s %s", rolloutPropagation(dsj), strategy(dsj))
	}
	dsj.Spec.ScaledJobSpec.Rollout.PropagationPolicy = "foreground"
	dsj.Spec.ClusterScheduling = &v1alpha1.ClusterScheduling{Strategy: StrategyPriorityFailover}
	if rolloutPropagation(dsj) != metav1.DeletePropagationForeground || strategy(dsj) != StrategyPriorityFailover {
		t.Errorf("set: %s %s", rolloutPropagation(dsj), strategy(dsj))
	}
	dsj.Spec.ClusterScheduling.WorkloadAffinity = &v1alpha1.WorkloadAffinity{Class: "gpu", Size: 2}
	if c := schedulingCondition(dsj); c.Status != metav1.ConditionTrue || c.Reason != ReasonPriorityFailover || !strings.Contains(c.Message, `class "gpu" (size 2)`) {
		t.Errorf("priorityFailover: %+v", c)
	}
	if c := schedulingCondition(&v1alpha1.DistributedScaledJob{}); c.Status != metav1.ConditionTrue || c.Reason != ReasonWeightedRoundRobin {
		t.Errorf("weightedRoundRobin: %+v", c)
	}
}

// scopeFor builds a scope as observeMembers and evaluate would leave it.
func scopeFor(prev v1alpha1.DistributedScaledJobStatus, members []*memberView, plan *jobs.Plan, decision autoscaling.ScaledJobDecision) *scope {
	dsj := &v1alpha1.DistributedScaledJob{ObjectMeta: metav1.ObjectMeta{Name: "dsj", Namespace: "ns", UID: "uid-1", Generation: 3}, Status: prev}
	dsj.Spec.ScaledJobSpec.PollingInterval = ptr.To[int32](10)
	s := newScope(dsj, t0)
	s.members, s.plan, s.decision, s.decided = members, plan, decision, plan != nil
	return s
}

func activeDecision() autoscaling.ScaledJobDecision {
	return autoscaling.ScaledJobDecision{Active: true,
		Ready:      autoscaling.Condition{Status: metav1.ConditionTrue, Reason: "ScaledJobReady", Message: "ready"},
		ActiveCond: autoscaling.Condition{Status: metav1.ConditionTrue, Reason: autoscaling.ReasonScalerActive, Message: "active"}}
}

func TestSummarize(t *testing.T) {
	m1 := &memberView{name: "m1", access: jobs.Observed}
	m2 := &memberView{name: "m2", access: jobs.Observed, hadPrev: true,
		prev: v1alpha1.JobMemberClusterStatus{State: v1alpha1.MemberStateReady, LastStatusChangeTime: mt(-time.Hour)}}
	m3 := &memberView{name: "m3", access: jobs.Unreachable, reason: "member API not ready (Unreachable): refused", hadPrev: true,
		prev: v1alpha1.JobMemberClusterStatus{State: v1alpha1.MemberStateReady, RunningJobs: 2, PendingJobs: 1, LastStatusChangeTime: mt(-time.Hour)}}
	plan := &jobs.Plan{
		Counts: map[string]jobs.Counts{"m1": {Running: 3, Pending: 1}, "m2": {Running: 1, Pending: 1, Stuck: 1}, "m3": {Running: 2, Pending: 1}},
		Taints: map[string]jobs.Taint{"m2": {SoftUntil: t0.Add(time.Minute)}},
	}
	s := scopeFor(v1alpha1.DistributedScaledJobStatus{}, []*memberView{m1, m2, m3}, plan, activeDecision())
	s.created = map[string]int{"m1": 2}
	s.applyErrors = map[string][]string{"m1": {"create Job in ns: forbidden"}}
	s.summarize()
	st := s.dsj.Status

	if st.RunningJobs != 6 || st.PendingJobs != 3 || st.DesiredJobs != 8 {
		t.Errorf("running %d pending %d desired %d, want 6 3 8", st.RunningJobs, st.PendingJobs, st.DesiredJobs)
	}
	if st.Print != (v1alpha1.JobPrintStatus{RunningJobs: "6/8", Jobs: "6/8", MembersCount: "1/3"}) {
		t.Errorf("print %+v", st.Print)
	}
	if st.Selector != jobs.LabelDSJUID+"=uid-1" {
		t.Errorf("selector %q", st.Selector)
	}
	want := map[string]v1alpha1.JobMemberClusterStatus{
		"m1": {Provider: "kubeconfig", State: v1alpha1.MemberStateReady, RunningJobs: 3, PendingJobs: 1, LastStatusChangeTime: mt(0),
			LastScalingProgressTime: mt(0), Description: "create Job in ns: forbidden"},
		"m2": {Provider: "kubeconfig", State: v1alpha1.MemberStateReady, Excluded: true, RunningJobs: 1, PendingJobs: 1, StuckJobs: 1,
			SoftTainted: true, SoftTaintedUntil: mt(time.Minute), LastStatusChangeTime: mt(-time.Hour), LastScalingProgressTime: mt(0),
			Description: "soft-tainted until 2026-03-01T12:01:00Z after a failover: no new Jobs; 1 Job(s) pending for more than 1m0s"},
		"m3": {Provider: "kubeconfig", State: v1alpha1.MemberStateNotReady, Excluded: true, RunningJobs: 2, PendingJobs: 1, LastStatusChangeTime: mt(0),
			Description: "member API not ready (Unreachable): refused"},
	}
	if diff := cmp.Diff(want, st.MemberClusterStatuses); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}
	if st.LastActiveTime == nil || !st.LastActiveTime.Equal(mt(0)) {
		t.Errorf("lastActiveTime %v", st.LastActiveTime)
	}
	for typ, status := range map[string]metav1.ConditionStatus{
		v1alpha1.ConditionReady: metav1.ConditionTrue, v1alpha1.ConditionActive: metav1.ConditionTrue,
		v1alpha1.ConditionPaused: metav1.ConditionFalse, ConditionScheduling: metav1.ConditionTrue,
	} {
		c := meta.FindStatusCondition(st.Conditions, typ)
		if c == nil || c.Status != status || c.ObservedGeneration != 3 {
			t.Errorf("condition %s = %+v, want %s at generation 3", typ, c, status)
		}
	}
}

func TestSetConditions(t *testing.T) {
	observed := []*memberView{{name: "m1", access: jobs.Observed}}
	tests := []struct {
		name       string
		members    []*memberView
		specError  string
		trigger    string
		unplaced   int
		paused     bool
		decision   autoscaling.ScaledJobDecision
		wantReady  metav1.Condition
		wantPaused metav1.ConditionStatus
	}{
		{name: "ready", members: observed, decision: activeDecision(),
			wantReady: metav1.Condition{Status: metav1.ConditionTrue, Reason: "ScaledJobReady", Message: "ready"}, wantPaused: metav1.ConditionFalse},
		{name: "invalid spec wins", members: observed, specError: "trigger 0 (nope): unsupported", decision: activeDecision(),
			wantReady: metav1.Condition{Status: metav1.ConditionFalse, Reason: ReasonInvalidSpec, Message: "trigger 0 (nope): unsupported"}, wantPaused: metav1.ConditionFalse},
		{name: "no members", decision: activeDecision(),
			wantReady: metav1.Condition{Status: metav1.ConditionFalse, Reason: ReasonNoMemberClusters,
				Message: "no member cluster is registered or whitelisted; register one with `kubectl fleetscale mc setup-member`"}, wantPaused: metav1.ConditionFalse},
		{name: "ready with notes: trigger problem and unplaced Jobs", members: observed, trigger: "trigger 1 (cron): boom", unplaced: 2, decision: activeDecision(),
			wantReady: metav1.Condition{Status: metav1.ConditionTrue, Reason: "ScaledJobReady",
				Message: "trigger 1 (cron): boom; 2 Job(s) not created: no member is healthy and untainted"}, wantPaused: metav1.ConditionFalse},
		{name: "paused", members: observed, paused: true, decision: activeDecision(),
			wantReady: metav1.Condition{Status: metav1.ConditionTrue, Reason: "ScaledJobReady", Message: "ready"}, wantPaused: metav1.ConditionTrue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := scopeFor(v1alpha1.DistributedScaledJobStatus{}, tt.members, &jobs.Plan{}, tt.decision)
			s.specError, s.triggerError, s.unplaced, s.paused = tt.specError, tt.trigger, tt.unplaced, tt.paused
			s.setConditions()
			ready := meta.FindStatusCondition(s.dsj.Status.Conditions, v1alpha1.ConditionReady)
			if diff := cmp.Diff(tt.wantReady, *ready, cmpopts.IgnoreFields(metav1.Condition{}, "Type", "ObservedGeneration", "LastTransitionTime")); diff != "" {
				t.Errorf("Ready (-want +got):\n%s", diff)
			}
			if p := meta.FindStatusCondition(s.dsj.Status.Conditions, v1alpha1.ConditionPaused); p.Status != tt.wantPaused {
				t.Errorf("Paused %s, want %s", p.Status, tt.wantPaused)
			}
		})
	}
}

func TestLastActiveTimeRefreshedOncePerPollingInterval(t *testing.T) {
	for _, tt := range []struct {
		prev *metav1.Time
		want *metav1.Time
	}{
		{nil, mt(0)},
		{mt(-5 * time.Second), mt(-5 * time.Second)},
		{mt(-10 * time.Second), mt(0)},
	} {
		s := scopeFor(v1alpha1.DistributedScaledJobStatus{LastActiveTime: tt.prev}, nil, &jobs.Plan{}, activeDecision())
		s.summarize()
		if !s.dsj.Status.LastActiveTime.Equal(tt.want) {
			t.Errorf("prev %v: lastActiveTime %v, want %v", tt.prev, s.dsj.Status.LastActiveTime, tt.want)
		}
	}
}

func TestPlanMember(t *testing.T) {
	mv := &memberView{name: "m", weight: 2, namespace: "ns", hash: "h", access: jobs.Unreachable, hadPrev: true,
		prev: v1alpha1.JobMemberClusterStatus{State: v1alpha1.MemberStateNotReady, LastStatusChangeTime: mt(-time.Minute),
			RunningJobs: 4, PendingJobs: 1, SoftTaintedUntil: mt(time.Minute), HardTaintedUntil: mt(2 * time.Minute)}}
	s := scopeFor(v1alpha1.DistributedScaledJobStatus{}, nil, nil, autoscaling.ScaledJobDecision{})
	want := jobs.Member{Name: "m", Weight: 2, Namespace: "ns", Hash: "h", Access: jobs.Unreachable, UnreachableSince: t0.Add(-time.Minute),
		LastKnown: jobs.Counts{Running: 4, Pending: 1}, Taint: jobs.Taint{SoftUntil: t0.Add(time.Minute), HardUntil: t0.Add(2 * time.Minute)}}
	if diff := cmp.Diff(want, s.planMember(mv)); diff != "" {
		t.Errorf("planMember (-want +got):\n%s", diff)
	}
	mv.prev.State = v1alpha1.MemberStateReady
	if got := s.planMember(mv).UnreachableSince; !got.Equal(t0) {
		t.Errorf("a member that just became unreachable is unreachable since now, got %v", got)
	}
}

func TestExpectations(t *testing.T) {
	e := newExpectations()
	const uid = "uid"
	created := jobs.Job{Member: "m1", Namespace: "ns", Name: "new", Pending: true}
	e.create(uid, created, t0)
	e.delete(uid, jobs.Key("m1", "ns", "old"), t0)
	old := jobs.Job{Member: "m1", Namespace: "ns", Name: "old"}

	got := e.reconcile(uid, "m1", []jobs.Job{old}, t0.Add(time.Second))
	unseen := created
	unseen.PendingSince = t0.Add(time.Second)
	want := []jobs.Job{{Member: "m1", Namespace: "ns", Name: "old", Deleting: true}, unseen}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cache behind (-want +got):\n%s", diff)
	}
	if got := e.reconcile(uid, "m2", nil, t0.Add(time.Second)); len(got) != 0 {
		t.Errorf("another member's expectations leaked: %v", got)
	}
	got = e.reconcile(uid, "m1", []jobs.Job{created}, t0.Add(2*time.Second))
	if diff := cmp.Diff([]jobs.Job{created}, got); diff != "" {
		t.Errorf("cache caught up (-want +got):\n%s", diff)
	}
	if len(e.created[uid]) != 0 || len(e.deleted[uid]) != 0 {
		t.Errorf("met expectations are kept: %v %v", e.created, e.deleted)
	}
	e.create(uid, created, t0)
	if got := e.reconcile(uid, "m1", nil, t0.Add(expectationTTL+time.Second)); len(got) != 0 {
		t.Errorf("an expired expectation still counts: %v", got)
	}
	e.create(uid, created, t0)
	e.forget(uid)
	if got := e.reconcile(uid, "m1", nil, t0); len(got) != 0 {
		t.Errorf("forgotten expectations still count: %v", got)
	}
}

func TestRequeueAfter(t *testing.T) {
	tests := []struct {
		name string
		plan *jobs.Plan
		cron time.Time
		want time.Duration
	}{
		{"polling interval", &jobs.Plan{}, time.Time{}, 10 * time.Second},
		{"a Job becomes stuck first", &jobs.Plan{RequeueAfter: 3 * time.Second}, time.Time{}, 3 * time.Second},
		{"a cron trigger changes first", &jobs.Plan{RequeueAfter: 3 * time.Second}, t0.Add(time.Second), time.Second},
		{"past cron change ignored", &jobs.Plan{}, t0.Add(-time.Second), 10 * time.Second},
	}
	for _, tt := range tests {
		s := scopeFor(v1alpha1.DistributedScaledJobStatus{}, nil, tt.plan, activeDecision())
		s.nextTriggerChange = tt.cron
		if got := s.requeueAfter(); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestDescribeDeletions(t *testing.T) {
	got := describeDeletions([]jobs.Deletion{{Reason: jobs.ReasonRollout}, {Reason: jobs.ReasonRollout}, {Reason: jobs.ReasonHistory}, {Reason: jobs.ReasonDuplication}})
	want := "4 Job(s): 1 failover duplicate(s) (duplicationPolicy), 1 finished beyond the history limits, 2 outdated (rollout)"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got := perMember(map[string]int{"b": 1, "a": 2}); got != "a=2, b=1" {
		t.Errorf("perMember %q", got)
	}
}

func TestMayHoldJobs(t *testing.T) {
	dsj := &v1alpha1.DistributedScaledJob{}
	if !mayHoldJobs(dsj, "any") {
		t.Errorf("empty whitelist: every member may hold Jobs")
	}
	dsj.Spec.MemberClusters = []v1alpha1.JobMemberClusterRef{{MemberClusterRef: v1alpha1.MemberClusterRef{Name: "m1"}}}
	dsj.Status.MemberClusterStatuses = map[string]v1alpha1.JobMemberClusterStatus{"m2": {}}
	for name, want := range map[string]bool{"m1": true, "m2": true, "m3": false} {
		if got := mayHoldJobs(dsj, name); got != want {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
}

// However many Jobs the spec asks for (here 2³¹−1), one evaluation places at most the cap;
// after a capped evaluation the next second creates nothing, then the next batch follows.
func TestEvaluateCapsJobsPerEvaluation(t *testing.T) {
	r := &Reconciler{MaxJobsPerEvaluation: 10}
	run := func(prev v1alpha1.DistributedScaledJobStatus, now time.Time) *scope {
		dsj := &v1alpha1.DistributedScaledJob{ObjectMeta: metav1.ObjectMeta{Name: "huge", Namespace: "ns", UID: "uid-1"}, Status: prev}
		dsj.Spec.ScaledJobSpec.MinReplicaCount = ptr.To[int32](math.MaxInt32)
		dsj.Spec.ScaledJobSpec.MaxReplicaCount = ptr.To[int32](math.MaxInt32)
		dsj.Spec.ScaledJobSpec.JobTargetRef = &batchv1.JobSpec{}
		s := newScope(dsj, now)
		s.members = []*memberView{{name: "m1", weight: 1, access: jobs.Observed}}
		r.evaluate(context.Background(), s)
		return s
	}
	s := run(v1alpha1.DistributedScaledJobStatus{}, t0)
	if len(s.placements) != 10 || s.deferred != math.MaxInt32-10 {
		t.Fatalf("first: %d placed, %d deferred", len(s.placements), s.deferred)
	}
	held := s.dsj.Status.CreationHeldUntil
	if held == nil || !held.Time.Equal(t0.Add(time.Second)) || s.requeueAfter() != time.Second {
		t.Fatalf("hold %v, requeue %v", held, s.requeueAfter())
	}
	if !strings.Contains(cappedNote(s), "2147483637 more Job(s) to create: at most 10 are created per evaluation") {
		t.Fatalf("note %q", cappedNote(s))
	}
	// An evaluation started by the new Jobs' events, 300ms later: nothing.
	s = run(s.dsj.Status, t0.Add(300*time.Millisecond))
	if len(s.placements) != 0 || s.deferred != math.MaxInt32 || !s.dsj.Status.CreationHeldUntil.Equal(held) || s.requeueAfter() != 700*time.Millisecond {
		t.Fatalf("held: %d placed, %d deferred, hold %v, requeue %v", len(s.placements), s.deferred, s.dsj.Status.CreationHeldUntil, s.requeueAfter())
	}
	// Once the hold is over, the next batch.
	s = run(s.dsj.Status, t0.Add(time.Second))
	if len(s.placements) != 10 {
		t.Fatalf("after the hold: %d placed", len(s.placements))
	}
}
