package statusview

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

func dso(mutate func(*v1alpha1.DistributedScaledObject)) *v1alpha1.DistributedScaledObject {
	d := &v1alpha1.DistributedScaledObject{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "nginx"},
		Spec: v1alpha1.DistributedScaledObjectSpec{ScaledObjectSpec: v1alpha1.ScaledObjectSpec{
			MinReplicaCount: ptr.To[int32](1), MaxReplicaCount: ptr.To[int32](10),
		}},
		Status: v1alpha1.DistributedScaledObjectStatus{
			Conditions: []metav1.Condition{
				{Type: "Ready", Status: "True", Reason: "Scaled"},
				{Type: "ScaledObjectActive", Status: "True"},
				{Type: "Paused", Status: "False"},
			},
			Triggers: map[string]v1alpha1.TriggerMetricStatus{
				"kubernetes-resource-0": {Value: "50", Target: "5", Active: true},
			},
			MemberClusterStatuses: map[string]v1alpha1.ScaledMemberStatus{
				"k3d-member-1": {CurrentReplicas: 4, DesiredReplicas: 4, State: "Ready", Description: "healthy"},
				"k3d-member-2": {CurrentReplicas: 3, DesiredReplicas: 3, State: "Ready", Description: "healthy"},
				"k3d-member-3": {CurrentReplicas: 3, DesiredReplicas: 3, State: "Ready", Description: "healthy"},
			},
			MembersHealthyCount: 3, MembersTotalCount: 3, TotalCurrentReplicas: 10, TotalDesiredReplicas: 10,
		},
	}
	if mutate != nil {
		mutate(d)
	}
	return d
}

func dsj(mutate func(*v1alpha1.DistributedScaledJob)) *v1alpha1.DistributedScaledJob {
	d := &v1alpha1.DistributedScaledJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "dsj-example"},
		Spec: v1alpha1.DistributedScaledJobSpec{ScaledJobSpec: v1alpha1.ScaledJobSpec{
			MaxReplicaCount: ptr.To[int32](10),
		}},
		Status: v1alpha1.DistributedScaledJobStatus{
			Conditions:  []metav1.Condition{{Type: "Ready", Status: "True"}, {Type: "Active", Status: "True"}},
			DesiredJobs: 4, RunningJobs: 3, PendingJobs: 1,
			TriggerMetricsStatus: map[string]v1alpha1.TriggerMetricStatus{
				"kubernetes-resource-0": {Value: "20", Target: "5", Active: true},
			},
			MemberClusterStatuses: map[string]v1alpha1.JobMemberClusterStatus{
				"k3d-member-1": {State: "Ready", RunningJobs: 2},
				"k3d-member-2": {State: "Ready", RunningJobs: 1, PendingJobs: 1, SoftTainted: true},
			},
		},
	}
	if mutate != nil {
		mutate(d)
	}
	return d
}

// TestRenderGolden pins two complete renders, so that a change of layout is a visible diff.
func TestRenderGolden(t *testing.T) {
	got := Render(FromDSO(dso(func(d *v1alpha1.DistributedScaledObject) {
		st := &d.Status
		st.MemberClusterStatuses["k3d-member-1"] = v1alpha1.ScaledMemberStatus{CurrentReplicas: 4, DesiredReplicas: 5, State: "Ready",
			Description: "healthy; receiving replicas: 5 of 5"}
		st.MemberClusterStatuses["k3d-member-2"] = v1alpha1.ScaledMemberStatus{CurrentReplicas: 3, DesiredReplicas: 0, State: "Excluded", Excluded: true,
			Description: "deployments.apps \"nginx\" not found for 12s; excluded after grace period 10s; 3 of its replicas still to move to other members"}
		st.MemberClusterStatuses["k3d-member-3"] = v1alpha1.ScaledMemberStatus{CurrentReplicas: 3, DesiredReplicas: 5, State: "Ready"}
		st.MembersHealthyCount, st.TotalCurrentReplicas = 2, 7
	})), Options{})
	want := `DistributedScaledObject default/nginx
  replicas 7/10   members 2/3 healthy   Ready   Active
  trigger kubernetes-resource-0: value 50, target 5, active
  MEMBER        STATE       REPLICAS current/desired
  k3d-member-1  Ready       ########++              4/5
                healthy; receiving replicas: 5 of 5
  k3d-member-2  Excluded    ------                  3/0  excluded
                deployments.apps "nginx" not found for 12s; excluded after gr...
  k3d-member-3  Ready       ######++++              3/5
  # current  + to add  - to remove  (1 replica = 2 columns)
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DSO render (-want +got):\n%s", diff)
	}

	got = Render(FromDSJ(dsj(nil)), Options{})
	want = `DistributedScaledJob default/dsj-example
  jobs 3/4 running/desired, 1 pending   members 2/2 healthy   Ready   Active
  trigger kubernetes-resource-0: value 20, target 5, active
  MEMBER        STATE       JOBS
  k3d-member-1  Ready       ##                2 running
  k3d-member-2  Ready       #+                1 running, 1 pending  soft-tainted
  # running  + pending  ! stuck  (1 job = 1 column)
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DSJ render (-want +got):\n%s", diff)
	}
}

// TestRender checks, for many states, that every line fits the width, that a plain render has
// no escape sequences, and that what matters is said.
func TestRender(t *testing.T) {
	long := strings.Repeat("very-long-member-name-", 4)
	tests := []struct {
		name  string
		view  View
		width int
		want  []string // substrings, in order
		not   []string
	}{
		{
			name: "walkthrough step 5: total 4 over three members",
			view: FromDSO(dso(func(d *v1alpha1.DistributedScaledObject) {
				st := &d.Status
				st.MemberClusterStatuses = map[string]v1alpha1.ScaledMemberStatus{
					"k3d-member-1": {CurrentReplicas: 2, DesiredReplicas: 2, State: "Ready", Description: "healthy"},
					"k3d-member-2": {CurrentReplicas: 1, DesiredReplicas: 1, State: "Ready", Description: "healthy"},
					"k3d-member-3": {CurrentReplicas: 1, DesiredReplicas: 1, State: "Ready", Description: "healthy"},
				}
				st.TotalCurrentReplicas, st.TotalDesiredReplicas = 4, 4
			})),
			want: []string{"replicas 4/4", "members 3/3 healthy", "k3d-member-1  Ready       ####  ", "2/2", "k3d-member-2", "##  ", "1/1"},
			not:  []string{"excluded", "healthy\n"},
		},
		{
			name: "member 3 stopped: unhealthy, then excluded with its last known replicas",
			view: FromDSO(dso(func(d *v1alpha1.DistributedScaledObject) {
				st := &d.Status
				st.MemberClusterStatuses["k3d-member-3"] = v1alpha1.ScaledMemberStatus{CurrentReplicas: 3, DesiredReplicas: 0,
					State: "Excluded", Excluded: true, Description: "member unreachable for 14s; excluded after grace period 10s"}
				st.MembersHealthyCount = 2
			})),
			want: []string{"members 2/3 healthy", "k3d-member-3  Excluded", "3/0  excluded", "member unreachable for 14s"},
		},
		{
			name: "recovering member",
			view: FromDSO(dso(func(d *v1alpha1.DistributedScaledObject) {
				d.Status.MemberClusterStatuses["k3d-member-2"] = v1alpha1.ScaledMemberStatus{CurrentReplicas: 1, State: "Recovering", Excluded: true,
					Description: "healthy for 3s; excluded until healthy for 10s"}
			})),
			want: []string{"Recovering", "1/0  excluded", "healthy for 3s"},
		},
		{
			name: "not ready: the reason is shown",
			view: FromDSO(dso(func(d *v1alpha1.DistributedScaledObject) {
				d.Status.Conditions[0] = metav1.Condition{Type: "Ready", Status: "False", Reason: "WaitingForMembers",
					Message: "waiting to read the target in member(s) k3d-member-1"}
			})),
			want: []string{"not Ready", "WaitingForMembers: waiting to read the target in member(s) k3d-member-1"},
		},
		{
			name: "paused and fallback only when true",
			view: FromDSO(dso(func(d *v1alpha1.DistributedScaledObject) {
				d.Status.Conditions = append(d.Status.Conditions, metav1.Condition{Type: "Fallback", Status: "True"})
			})),
			want: []string{"Ready   Active   Fallback"},
			not:  []string{"Paused"},
		},
		{
			name: "trigger error",
			view: FromDSO(dso(func(d *v1alpha1.DistributedScaledObject) {
				d.Status.Triggers["kubernetes-resource-0"] = v1alpha1.TriggerMetricStatus{Error: "configmaps \"mock-metric\" not found"}
			})),
			want: []string{`trigger kubernetes-resource-0: error: configmaps "mock-metric" not found`},
		},
		{
			name: "no status yet",
			view: FromDSO(&v1alpha1.DistributedScaledObject{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "x"}}),
			want: []string{"DistributedScaledObject ns/x", "no status yet"},
			not:  []string{"MEMBER"},
		},
		{
			name: "status without members",
			view: FromDSO(dso(func(d *v1alpha1.DistributedScaledObject) { d.Status.MemberClusterStatuses = nil })),
			want: []string{"no members"},
		},
		{
			name: "more replicas than the bar has columns: scaled",
			view: FromDSO(dso(func(d *v1alpha1.DistributedScaledObject) {
				d.Spec.ScaledObjectSpec.MaxReplicaCount = ptr.To[int32](100)
				d.Status.MemberClusterStatuses["k3d-member-1"] = v1alpha1.ScaledMemberStatus{CurrentReplicas: 100, DesiredReplicas: 100, State: "Ready"}
				d.Status.MemberClusterStatuses["k3d-member-2"] = v1alpha1.ScaledMemberStatus{CurrentReplicas: 1, DesiredReplicas: 1, State: "Ready"}
			})),
			want: []string{"k3d-member-1  Ready       " + strings.Repeat("#", 20) + "  100/100", "k3d-member-2  Ready       #    ", "(100 replicas = 20 columns)"},
		},
		{
			name: "long names and descriptions are cut",
			view: FromDSO(dso(func(d *v1alpha1.DistributedScaledObject) {
				d.Name = long
				d.Status.MemberClusterStatuses[long] = v1alpha1.ScaledMemberStatus{State: "Unhealthy", Description: strings.Repeat("x ", 100)}
			})),
			want: []string{"very-long-member-name...  Unhealthy"},
		},
		{
			name:  "narrow terminal",
			width: 50,
			view:  FromDSO(dso(nil)),
			want:  []string{"k3d-member-1  Ready"},
		},
		{
			name: "DSJ with taints and stuck jobs",
			view: FromDSJ(dsj(func(d *v1alpha1.DistributedScaledJob) {
				d.Status.MemberClusterStatuses["k3d-member-1"] = v1alpha1.JobMemberClusterStatus{State: "Ready", RunningJobs: 1, StuckJobs: 2,
					HardTainted: true, Description: "2 Jobs pending for 1m"}
			})),
			want: []string{"k3d-member-1  Ready       #!!  ", "1 running, 2 stuck  hard-tainted", "2 Jobs pending for 1m", "k3d-member-2", "soft-tainted"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			width := tt.width
			if width == 0 {
				width = 80
			}
			for _, o := range []Options{{Width: tt.width}, {Width: tt.width, Unicode: true, Color: true}} {
				out := Render(tt.view, o)
				if !strings.HasSuffix(out, "\n") {
					t.Errorf("render does not end with a newline:\n%s", out)
				}
				plainOut := stripANSI(out)
				if !o.Color && plainOut != out {
					t.Errorf("plain render has escape sequences:\n%q", out)
				}
				for _, l := range strings.Split(strings.TrimSuffix(plainOut, "\n"), "\n") {
					if n := utf8.RuneCountInString(l); n > width {
						t.Errorf("line of %d columns (> %d): %q", n, width, l)
					}
					if strings.HasSuffix(l, " ") {
						t.Errorf("trailing blank: %q", l)
					}
				}
				if o.Unicode {
					continue // the substrings are written for the ASCII render
				}
				rest := out
				for _, w := range tt.want {
					i := strings.Index(rest, w)
					if i < 0 {
						t.Errorf("render lacks %q (in order):\n%s", w, out)
						break
					}
					rest = rest[i+len(w):]
				}
				for _, n := range tt.not {
					if strings.Contains(out, n) {
						t.Errorf("render has %q:\n%s", n, out)
					}
				}
			}
		})
	}
}

func TestColorAndUnicode(t *testing.T) {
	out := Render(FromDSO(dso(nil)), Options{Color: true, Unicode: true})
	for _, w := range []string{"\x1b[32mReady\x1b[0m", "████████", "█ current  ░ to add  ▒ to remove"} {
		if !strings.Contains(out, w) {
			t.Errorf("render lacks %q:\n%s", w, out)
		}
	}
}

func TestKey(t *testing.T) {
	base := FromDSO(dso(nil))
	described := FromDSO(dso(func(d *v1alpha1.DistributedScaledObject) {
		m := d.Status.MemberClusterStatuses["k3d-member-1"]
		m.Description = "unhealthy for 13s"
		d.Status.MemberClusterStatuses["k3d-member-1"] = m
	}))
	if base.Key() != described.Key() {
		t.Error("a new description changed the key; a plain log would re-print the view every second")
	}
	excluded := FromDSO(dso(func(d *v1alpha1.DistributedScaledObject) {
		m := d.Status.MemberClusterStatuses["k3d-member-1"]
		m.Excluded = true
		d.Status.MemberClusterStatuses["k3d-member-1"] = m
	}))
	if base.Key() == excluded.Key() {
		t.Error("exclusion did not change the key")
	}
}

func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b {
			for i < len(s) && s[i] != 'm' {
				i++
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
