package plugin

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	fleetv1 "github.com/fleetscale/fleetscale/api/v1alpha1"
)

func testMembers(now time.Time) *fleetv1.MemberClusterList {
	probe := metav1.NewTime(now.Add(-3 * time.Second))
	return &fleetv1.MemberClusterList{Items: []fleetv1.MemberCluster{
		{
			ObjectMeta: metav1.ObjectMeta{Name: "k3d-member-1", Namespace: "keda", CreationTimestamp: metav1.NewTime(now.Add(-2 * time.Hour))},
			Spec:       fleetv1.MemberClusterSpec{APIURL: "https://host.k3d.internal:65501"},
			Status: fleetv1.MemberClusterStatus{
				Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Ready", Message: "reachable"}},
				State:      "Ready", LastProbeTime: &probe, ProbeLatency: "3ms", KubernetesVersion: "v1.37.2",
			},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: "k3d-member-2", Namespace: "keda", CreationTimestamp: metav1.NewTime(now.Add(-90 * time.Second))},
			Spec:       fleetv1.MemberClusterSpec{APIURL: "https://host.k3d.internal:65502"},
			Status: fleetv1.MemberClusterStatus{
				// State says Ready but the condition does not: the condition decides.
				Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionFalse, Reason: "Unreachable", Message: "dial tcp:\nconnection refused"}},
				State:      "Ready",
			},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: "new", Namespace: "keda"},
			Spec:       fleetv1.MemberClusterSpec{APIURL: "https://n:6443"},
		},
	}}
}

func TestPrintMembersTable(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	if err := PrintMembers(&buf, testMembers(now), OutputTable, now); err != nil {
		t.Fatal(err)
	}
	want := `NAME           STATE      API URL                           VERSION   LAST PROBE   AGE
k3d-member-1   Ready      https://host.k3d.internal:65501   v1.37.2   3s           120m
k3d-member-2   NotReady   https://host.k3d.internal:65502   <none>    <none>       90s
new            NotReady   https://n:6443                    <none>    <none>       <unknown>
`
	if buf.String() != want {
		t.Fatalf("table:\n%s\nwant:\n%s", buf.String(), want)
	}

	buf.Reset()
	if err := PrintMembers(&buf, testMembers(now), OutputWide, now); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("wide:\n%s", buf.String())
	}
	for i, w := range [][]string{
		{"NAME", "REASON", "MESSAGE", "LATENCY"},
		{"Ready", "reachable", "3ms"},
		{"NotReady", "Unreachable", "dial tcp: connection refused"},
		{"new", "NotReady", "<none>"},
	} {
		for _, s := range w {
			if !strings.Contains(lines[i], s) {
				t.Errorf("wide line %d %q lacks %q", i, lines[i], s)
			}
		}
	}
}

func TestPrintMembersEmptyTable(t *testing.T) {
	var buf bytes.Buffer
	if err := PrintMembers(&buf, &fleetv1.MemberClusterList{}, OutputTable, time.Now()); err != nil || buf.Len() != 0 {
		t.Fatalf("empty table: %q %v", buf.String(), err)
	}
}

func TestPrintMembersJSONYAML(t *testing.T) {
	now := time.Now()
	list := testMembers(now)
	list.Items[0].ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "x"}}
	for _, format := range []string{OutputJSON, OutputYAML} {
		var buf bytes.Buffer
		if err := PrintMembers(&buf, list, format, now); err != nil {
			t.Fatal(err)
		}
		var got fleetv1.MemberClusterList
		var err error
		if format == OutputJSON {
			err = json.Unmarshal(buf.Bytes(), &got)
		} else {
			err = yaml.Unmarshal(buf.Bytes(), &got)
		}
		if err != nil {
			t.Fatalf("%s: %v\n%s", format, err, buf.String())
		}
		if got.Kind != "MemberClusterList" || got.APIVersion != "keda.kedify.io/v1alpha1" || len(got.Items) != 3 ||
			got.Items[0].Kind != "MemberCluster" || got.Items[0].ManagedFields != nil || got.Items[0].Status.ProbeLatency != "3ms" {
			t.Fatalf("%s: %+v", format, got)
		}
	}
	if list.Items[0].ManagedFields == nil || list.Kind != "" {
		t.Fatal("PrintMembers changed its input")
	}
	if err := PrintMembers(&bytes.Buffer{}, list, "xml", now); err == nil || !strings.Contains(err.Error(), `"xml"`) {
		t.Fatalf("unknown format: %v", err)
	}
}
