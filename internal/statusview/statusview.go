// Package statusview renders the per-member view of a DistributedScaledObject or a
// DistributedScaledJob: a header with the totals, conditions and trigger values, then one row
// per member with its replicas (or Jobs) as a bar, its state and whether it is excluded.
//
// It is pure: FromDSO and FromDSJ read an object, Render returns text. The text never
// exceeds Options.Width columns (80 by default) and, without Options.Color, holds no escape
// sequences, so the same view reads on a terminal, in `kubectl fleetscale status`, in the
// demo and in a plain CI log.
package statusview

import (
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

// Kind names what a View shows.
type Kind string

// The kinds a View can show.
const (
	KindDSO Kind = "DistributedScaledObject"
	KindDSJ Kind = "DistributedScaledJob"
)

// View is what Render draws, independent of the API types so that tests can build one.
type View struct {
	Kind      Kind
	Namespace string
	Name      string
	// Current and Desired are the totals: replicas (DSO), or running and desired Jobs (DSJ).
	Current, Desired int32
	// Pending is the number of pending Jobs (DSJ only).
	Pending int32
	// Healthy and Members count the members ("healthy/total").
	Healthy, Members int32
	// Max is the most a member's bar has to hold (maxReplicaCount); 0 scales to the rows.
	Max int32
	// HasStatus is false while the controller has written no status yet.
	HasStatus bool
	// Conditions are shown by type: Ready and Active always, others only when True.
	Conditions []Condition
	// Triggers are the last values read from the triggers, sorted by name.
	Triggers []Trigger
	// Rows are the members, sorted by name.
	Rows []Row
}

// Condition is one status condition.
type Condition struct {
	Type, Status, Reason, Message string
}

// Trigger is the last value read from one trigger.
type Trigger struct {
	Name, Value, Target, Error string
	Active                     bool
}

// Row is one member.
type Row struct {
	Name  string
	State string
	// Current and Desired are the member's replicas (DSO).
	Current, Desired int32
	// Running, Pending and Stuck are the member's Jobs (DSJ).
	Running, Pending, Stuck  int32
	Excluded                 bool
	SoftTainted, HardTainted bool
	Description              string
}

// FromDSO builds the view of a DistributedScaledObject.
func FromDSO(dso *v1alpha1.DistributedScaledObject) View {
	st := dso.Status
	v := View{
		Kind: KindDSO, Namespace: dso.Namespace, Name: dso.Name,
		Current: st.TotalCurrentReplicas, Desired: st.TotalDesiredReplicas,
		Healthy: st.MembersHealthyCount, Members: st.MembersTotalCount,
		HasStatus: len(st.Conditions) > 0 || len(st.MemberClusterStatuses) > 0,
	}
	if m := dso.Spec.ScaledObjectSpec.MaxReplicaCount; m != nil {
		v.Max = *m
	}
	v.Conditions = conditions(st.Conditions, map[string]string{v1alpha1.ConditionScaledObjectActive: "Active"})
	v.Triggers = triggers(st.Triggers)
	for _, name := range sortedKeys(st.MemberClusterStatuses) {
		m := st.MemberClusterStatuses[name]
		v.Rows = append(v.Rows, Row{
			Name: name, State: m.State, Current: m.CurrentReplicas, Desired: m.DesiredReplicas,
			Excluded: m.Excluded, Description: m.Description,
		})
	}
	return v
}

// FromDSJ builds the view of a DistributedScaledJob.
func FromDSJ(dsj *v1alpha1.DistributedScaledJob) View {
	st := dsj.Status
	v := View{
		Kind: KindDSJ, Namespace: dsj.Namespace, Name: dsj.Name,
		Current: st.RunningJobs, Desired: st.DesiredJobs, Pending: st.PendingJobs,
		HasStatus: len(st.Conditions) > 0 || len(st.MemberClusterStatuses) > 0,
	}
	if m := dsj.Spec.ScaledJobSpec.MaxReplicaCount; m != nil {
		v.Max = *m
	}
	v.Conditions = conditions(st.Conditions, nil)
	v.Triggers = triggers(st.TriggerMetricsStatus)
	for _, name := range sortedKeys(st.MemberClusterStatuses) {
		m := st.MemberClusterStatuses[name]
		v.Rows = append(v.Rows, Row{
			Name: name, State: m.State, Running: m.RunningJobs, Pending: m.PendingJobs, Stuck: m.StuckJobs,
			SoftTainted: m.SoftTainted, HardTainted: m.HardTainted, Description: m.Description,
		})
		if m.State == v1alpha1.MemberStateReady {
			v.Healthy++
		}
	}
	v.Members = int32(len(v.Rows))
	return v
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// conditions keeps Ready and Active (renamed by rename) always, and other types only when
// True (Paused, Fallback): a False Paused is no news.
func conditions(cs []metav1.Condition, rename map[string]string) []Condition {
	var out []Condition
	for _, c := range cs {
		t := c.Type
		if r, ok := rename[t]; ok {
			t = r
		}
		if t != v1alpha1.ConditionReady && t != v1alpha1.ConditionActive && c.Status != metav1.ConditionTrue {
			continue
		}
		out = append(out, Condition{Type: t, Status: string(c.Status), Reason: c.Reason, Message: c.Message})
	}
	order := map[string]int{v1alpha1.ConditionReady: 0, v1alpha1.ConditionActive: 1}
	sort.SliceStable(out, func(i, j int) bool {
		oi, ok := order[out[i].Type]
		if !ok {
			oi = 2
		}
		oj, ok := order[out[j].Type]
		if !ok {
			oj = 2
		}
		return oi < oj
	})
	return out
}

func triggers(ts map[string]v1alpha1.TriggerMetricStatus) []Trigger {
	var out []Trigger
	for _, name := range sortedKeys(ts) {
		t := ts[name]
		out = append(out, Trigger{Name: name, Value: t.Value, Target: t.Target, Error: t.Error, Active: t.Active})
	}
	return out
}

// Key identifies what the view shows apart from free text that changes with time
// (descriptions such as "unhealthy for 12s"): a plain log re-prints the view only when the
// key changes.
func (v View) Key() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s/%s %d/%d/%d %d/%d", v.Kind, v.Namespace, v.Name, v.Current, v.Desired, v.Pending, v.Healthy, v.Members)
	for _, c := range v.Conditions {
		fmt.Fprintf(&b, " %s=%s", c.Type, c.Status)
	}
	for _, t := range v.Triggers {
		fmt.Fprintf(&b, " %s=%s/%s/%t/%t", t.Name, t.Value, t.Target, t.Active, t.Error != "")
	}
	for _, r := range v.Rows {
		fmt.Fprintf(&b, " [%s %s %d/%d %d/%d/%d %t %t %t]", r.Name, r.State, r.Current, r.Desired,
			r.Running, r.Pending, r.Stuck, r.Excluded, r.SoftTainted, r.HardTainted)
	}
	return b.String()
}
