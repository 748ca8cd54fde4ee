package metrics

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRecorderSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := New(reg)
	r.ObserveDSO("default", "nginx", 10, 9, map[string]MemberReplicas{"m1": {Desired: 4, Current: 4}, "m2": {Desired: 6, Current: 5}})
	r.Trigger("dso", "default", "nginx", "s0-configmap-mock-metric-metric-value", 50, false)
	r.Trigger("dso", "default", "nginx", "s0-configmap-mock-metric-metric-value", 0, true)
	r.Rebalanced("default", "nginx")
	r.ScaleWrite("m1", nil)
	r.ScaleWrite("m1", errors.New("boom"))
	r.MemberProbe("m1", true, 3*time.Millisecond)
	r.ObserveDSJ("default", "jobs", 2, 1, 4)

	expected := `
# HELP fleetscale_dso_member_replicas Replicas of a DistributedScaledObject's target in one member: kind=desired (its share) or current (spec.replicas).
# TYPE fleetscale_dso_member_replicas gauge
fleetscale_dso_member_replicas{kind="current",member="m1",name="nginx",namespace="default"} 4
fleetscale_dso_member_replicas{kind="current",member="m2",name="nginx",namespace="default"} 5
fleetscale_dso_member_replicas{kind="desired",member="m1",name="nginx",namespace="default"} 4
fleetscale_dso_member_replicas{kind="desired",member="m2",name="nginx",namespace="default"} 6
# HELP fleetscale_member_scale_writes_total Writes to member /scale subresources, by result (ok or error).
# TYPE fleetscale_member_scale_writes_total counter
fleetscale_member_scale_writes_total{member="m1",result="error"} 1
fleetscale_member_scale_writes_total{member="m1",result="ok"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(expected), "fleetscale_dso_member_replicas", "fleetscale_member_scale_writes_total"); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(r.dsoReplicas.WithLabelValues("default", "nginx", "desired")); got != 10 {
		t.Errorf("desired = %v", got)
	}
	if got := testutil.ToFloat64(r.triggerErrors); got != 1 {
		t.Errorf("trigger errors = %v", got)
	}
	if got := testutil.ToFloat64(r.dsjJobs.WithLabelValues("default", "jobs", "pending")); got != 1 {
		t.Errorf("dsj pending = %v", got)
	}

	r.ForgetDSO("default", "nginx")
	r.ForgetMember("m1")
	if n := testutil.CollectAndCount(r.memberReplicas); n != 0 {
		t.Errorf("%d member series left after ForgetDSO", n)
	}
	if n := testutil.CollectAndCount(r.memberReady); n != 0 {
		t.Errorf("%d member ready series left after ForgetMember", n)
	}

	// A second registration on the same registry reuses the collectors.
	again := New(reg)
	if again.dsoReplicas != r.dsoReplicas {
		t.Error("collectors were not reused")
	}
	var nilRecorder *Recorder
	nilRecorder.ObserveDSO("a", "b", 1, 1, nil) // must not panic
}

// A member that leaves a DSO's members loses its series; the other DSOs' stay.
func TestObserveDSODropsMembersThatLeft(t *testing.T) {
	r := New(prometheus.NewRegistry())
	r.ObserveDSO("default", "web", 6, 6, map[string]MemberReplicas{"m1": {3, 3}, "m2": {3, 3}})
	r.ObserveDSO("default", "api", 2, 2, map[string]MemberReplicas{"m2": {2, 2}})
	r.ObserveDSO("default", "web", 6, 6, map[string]MemberReplicas{"m1": {6, 3}})
	if n := testutil.CollectAndCount(r.memberReplicas); n != 4 {
		t.Errorf("%d member series, want 4 (web in m1, api in m2, desired and current)", n)
	}
	if got := testutil.ToFloat64(r.memberReplicas.WithLabelValues("default", "web", "m1", "desired")); got != 6 {
		t.Errorf("web m1 desired = %v, want 6", got)
	}
	if got := testutil.ToFloat64(r.memberReplicas.WithLabelValues("default", "api", "m2", "current")); got != 2 {
		t.Errorf("api m2 current = %v, want 2", got)
	}
	r.ObserveDSO("default", "web", 6, 6, map[string]MemberReplicas{"m1": {3, 3}, "m2": {3, 3}})
	if n := testutil.CollectAndCount(r.memberReplicas); n != 6 {
		t.Errorf("%d member series after m2 came back, want 6", n)
	}
}

// BenchmarkObserveDSO is one evaluation's metrics at fleet size (1,000 DSOs × 10 members).
func BenchmarkObserveDSO(b *testing.B) {
	r := New(prometheus.NewRegistry())
	members := map[string]MemberReplicas{}
	for m := range 10 {
		members[fmt.Sprintf("member-%d", m)] = MemberReplicas{Desired: 2, Current: 2}
	}
	names := make([]string, 1000)
	for i := range names {
		names[i] = fmt.Sprintf("dso-%04d", i)
		r.ObserveDSO("fleet", names[i], 20, 20, members)
	}
	b.ResetTimer()
	for i := range b.N {
		r.ObserveDSO("fleet", names[i%len(names)], 20, 20, members)
	}
}
