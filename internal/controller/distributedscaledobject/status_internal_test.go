package distributedscaledobject

import (
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/autoscaling"
	"github.com/fleetscale/fleetscale/internal/distribution"
	"github.com/fleetscale/fleetscale/internal/scalers"
	"github.com/fleetscale/fleetscale/internal/triggereval"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testDSO(polling int32) *v1alpha1.DistributedScaledObject {
	dso := &v1alpha1.DistributedScaledObject{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", Generation: 3}}
	if polling > 0 {
		dso.Spec.ScaledObjectSpec.PollingInterval = ptr.To(polling)
	}
	return dso
}

// The next evaluation comes at the earliest of: the polling interval, what the ScaledObject
// rules and the distribution ask for, the sync period while a member write failed, and the
// next cron boundary.
func TestRequeueAfter(t *testing.T) {
	const sync = 2 * time.Second
	tests := []struct {
		name  string
		setup func(s *scope)
		want  time.Duration
	}{
		{name: "polling interval", setup: func(*scope) {}, want: 30 * time.Second},
		{name: "decision asks sooner", setup: func(s *scope) { s.decision.RequeueAfter = 7 * time.Second }, want: 7 * time.Second},
		{name: "distribution asks sooner", setup: func(s *scope) { s.split.RequeueAfter = 4 * time.Second }, want: 4 * time.Second},
		{name: "failed member write retries at the sync period", setup: func(s *scope) { s.applyErrors["m1"] = "boom" }, want: sync},
		{name: "cron boundary before the poll", setup: func(s *scope) { s.nextTriggerChange = t0.Add(5 * time.Second) }, want: 5 * time.Second},
		{name: "cron boundary after the poll", setup: func(s *scope) { s.nextTriggerChange = t0.Add(time.Minute) }, want: 30 * time.Second},
		{name: "cron boundary already past", setup: func(s *scope) { s.nextTriggerChange = t0.Add(-time.Second) }, want: 30 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newScope(testDSO(0), t0)
			tc.setup(s)
			if got := s.requeueAfter(sync); got != tc.want {
				t.Fatalf("requeueAfter = %s, want %s", got, tc.want)
			}
		})
	}
	s := newScope(testDSO(10), t0)
	if got := s.requeueAfter(sync); got != 10*time.Second {
		t.Fatalf("pollingInterval 10: requeueAfter = %s, want 10s", got)
	}
}

// Ready comes from the ScaledObject rules unless the spec is unusable or there is no member;
// trigger failures are named in full.
func TestSummarizeReady(t *testing.T) {
	ok := autoscaling.Condition{Status: metav1.ConditionTrue, Reason: "ScaledObjectReady", Message: "ready"}
	member := &memberView{name: "m1", weight: 1, result: distribution.MemberResult{Desired: 2}}
	tests := []struct {
		name              string
		setup             func(s *scope)
		status            metav1.ConditionStatus
		reason, inMessage string
	}{
		{name: "no members", setup: func(s *scope) { s.members = nil },
			status: metav1.ConditionFalse, reason: ReasonNoMemberClusters, inMessage: "setup-member"},
		{name: "spec error wins", setup: func(s *scope) { s.specError = "trigger 0 (cron): bad timezone" },
			status: metav1.ConditionFalse, reason: ReasonInvalidSpec, inMessage: "bad timezone"},
		{name: "ready, one trigger failing is named", setup: func(s *scope) { s.triggerError = `trigger 1 (prometheus "p"): timeout` },
			status: metav1.ConditionTrue, reason: "ScaledObjectReady", inMessage: `trigger 1 (prometheus "p")`},
		{name: "every trigger failing", setup: func(s *scope) {
			s.decision.Conditions.Ready = autoscaling.Condition{Status: metav1.ConditionFalse, Reason: autoscaling.ReasonTriggerError, Message: "first"}
			s.triggerError = "trigger 0 (cron): a; trigger 1 (cron): b"
		}, status: metav1.ConditionFalse, reason: autoscaling.ReasonTriggerError, inMessage: "trigger 0 (cron): a; trigger 1 (cron): b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newScope(testDSO(0), t0)
			s.members = []*memberView{member}
			s.decision.Conditions.Ready = ok
			s.total = 2
			tc.setup(s)
			s.summarize()
			c := meta.FindStatusCondition(s.dso.Status.Conditions, v1alpha1.ConditionReady)
			if c == nil {
				t.Fatal("no Ready condition")
			}
			if c.Status != tc.status || c.Reason != tc.reason || c.ObservedGeneration != 3 {
				t.Fatalf("Ready = %s/%s (generation %d), want %s/%s (3)", c.Status, c.Reason, c.ObservedGeneration, tc.status, tc.reason)
			}
			if !strings.Contains(c.Message, tc.inMessage) {
				t.Fatalf("Ready message %q does not contain %q", c.Message, tc.inMessage)
			}
		})
	}
}

// A value read from a Secret is stored as the placeholder; status keys follow the triggers.
func TestStoreStateHidesSensitiveValues(t *testing.T) {
	var st v1alpha1.DistributedScaledObjectStatus
	d := autoscaling.ScaledObjectDecision{Triggers: []autoscaling.TriggerStatus{
		{Name: "secret", Value: 41, Target: 5, Active: true},
		{Name: "plain", Value: 3, Target: 5},
		{Value: 1, Target: 1, Error: "down"},
	}}
	storeState(&st, d, t0, map[string]bool{"secret": true})
	if v := st.Triggers["secret"].Value; v != scalers.SensitiveValue {
		t.Fatalf("secret value shown as %q", v)
	}
	if v := st.Triggers["plain"].Value; v != "3" {
		t.Fatalf("plain value = %q, want 3", v)
	}
	if e := st.Triggers["trigger-2"].Error; e != "down" {
		t.Fatalf("unnamed trigger keyed by position: %+v", st.Triggers)
	}
}

func TestSetWaitingOnlyBeforeTheFirstEvaluation(t *testing.T) {
	s := newScope(testDSO(0), t0)
	s.waitingFor = []string{"m1", "m2"}
	s.setWaiting()
	c := meta.FindStatusCondition(s.dso.Status.Conditions, v1alpha1.ConditionReady)
	if c == nil || c.Reason != ReasonWaitingForMembers || !strings.Contains(c.Message, "m1, m2") {
		t.Fatalf("Ready = %+v, want WaitingForMembers naming m1, m2", c)
	}
	dso := testDSO(0)
	dso.Status.LastEvaluationTime = &metav1.Time{Time: t0.Add(-time.Minute)}
	s = newScope(dso, t0)
	s.waitingFor = []string{"m1"}
	s.setWaiting()
	if len(s.dso.Status.Conditions) != 0 {
		t.Fatalf("an evaluated DSO's conditions changed while waiting: %+v", s.dso.Status.Conditions)
	}
}

// A new DSO waits for a member whose first read is unknown (not probed yet, or a read that
// timed out) for at most the first-read timeout, counted from when it started waiting
// (its WaitingForMembers condition); then it goes on, and the member is unhealthy.
func TestFirstReadWaitIsBounded(t *testing.T) {
	const limit = 30 * time.Second
	members := func() []*memberView {
		return []*memberView{{name: "m1", unknown: true}, {name: "m2"}, {name: "m3", unknown: true}}
	}
	// The first evaluation: nothing waited yet.
	s := newScope(testDSO(0), t0)
	s.members = members()
	s.resolveWaiting(limit)
	if got := strings.Join(s.waitingFor, ","); got != "m1,m3" {
		t.Fatalf("first evaluation waits for %q, want m1,m3", got)
	}

	waiting := func(since time.Time, now time.Time) *scope {
		dso := testDSO(0)
		dso.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionUnknown,
			Reason: ReasonWaitingForMembers, LastTransitionTime: metav1.NewTime(since)}}
		s := newScope(dso, now)
		s.members = members()
		s.resolveWaiting(limit)
		return s
	}
	if s := waiting(t0, t0.Add(limit-time.Second)); len(s.waitingFor) != 2 {
		t.Errorf("before the limit: waiting for %v, want m1 and m3", s.waitingFor)
	}
	s = waiting(t0, t0.Add(limit))
	if len(s.waitingFor) != 0 {
		t.Errorf("at the limit: still waiting for %v", s.waitingFor)
	}
	for _, mv := range s.members {
		if mv.unknown {
			t.Errorf("%s still unknown after the limit: it must count as unhealthy", mv.name)
		}
	}
	// A condition that is not WaitingForMembers starts the wait now.
	dso := testDSO(0)
	dso.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue,
		Reason: "ScaledObjectReady", LastTransitionTime: metav1.NewTime(t0.Add(-time.Hour))}}
	s = newScope(dso, t0)
	s.members = members()
	s.resolveWaiting(limit)
	if len(s.waitingFor) != 2 {
		t.Errorf("a Ready DSO meeting unknown members waits afresh; waiting for %v", s.waitingFor)
	}
}

// A failing trigger's status keeps its text when this read's text was already seen in this
// failure (it alternates wordings); a text not seen yet is shown at once, and a read that
// works forgets what was seen.
func TestErrorsSeenKeepAlternatingWordings(t *testing.T) {
	obj := types.NamespacedName{Namespace: "ns", Name: "web"}
	failing := func(text string) map[string]v1alpha1.TriggerMetricStatus {
		return map[string]v1alpha1.TriggerMetricStatus{"h1": {State: v1alpha1.TriggerStateError, Error: text}}
	}
	var e errorsSeen
	read := func(text string) []triggereval.Metric {
		if text == "" {
			return []triggereval.Metric{{Key: "h1"}}
		}
		return []triggereval.Metric{{Key: "h1", Err: errors.New(text)}}
	}
	e.record(obj, read("timed out"))
	if _, keep := e.keep(obj, failing("timed out"))("h1", "closed connection"); keep {
		t.Error("a wording not seen yet must be shown")
	}
	e.record(obj, read("closed connection"))
	if text, keep := e.keep(obj, failing("closed connection"))("h1", "timed out"); !keep || text != "closed connection" {
		t.Errorf("a wording seen in this failure: %q %v, want status's text kept", text, keep)
	}
	if _, keep := e.keep(obj, failing("closed connection"))("h1", "WRONGPASS"); keep {
		t.Error("a new problem must be shown at once")
	}
	e.record(obj, read(""))
	if _, keep := e.keep(obj, failing("closed connection"))("h1", "timed out"); keep {
		t.Error("after a good read nothing is kept")
	}
	if len(e.texts) != 0 {
		t.Errorf("%d objects remembered after every trigger read fine", len(e.texts))
	}
}

// After our own spec.totalTargetReplicas write (generation 3 → 4), status and every condition
// observe generation 4: that write is not evaluated again, so nothing is left to rewrite.
func TestConditionsObserveTheMirroredGeneration(t *testing.T) {
	s := newScope(testDSO(0), t0)
	s.members = []*memberView{{name: "m1", weight: 1, apiReady: true, observed: true, targetExists: true}}
	s.decision.Conditions.Ready = autoscaling.Condition{Status: metav1.ConditionTrue, Reason: autoscaling.ReasonReady, Message: "ok"}
	s.total, s.totalDecided, s.mirroredGeneration = 2, true, 4
	s.summarize()
	if len(s.dso.Status.Conditions) == 0 {
		t.Fatal("no conditions")
	}
	for _, c := range s.dso.Status.Conditions {
		if c.ObservedGeneration != 4 {
			t.Errorf("%s observes generation %d, want 4", c.Type, c.ObservedGeneration)
		}
	}
}
