package plugin

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fleetv1 "github.com/fleetscale/fleetscale/api/v1alpha1"
)

// Output formats of PrintMembers.
const (
	OutputTable = "table"
	OutputWide  = "wide"
	OutputJSON  = "json"
	OutputYAML  = "yaml"
)

// OutputFormats are the values -o accepts.
var OutputFormats = []string{OutputTable, OutputWide, OutputJSON, OutputYAML}

// ValidateOutput checks an -o value ("" means table).
func ValidateOutput(format string) error {
	if format == "" || slices.Contains(OutputFormats, format) {
		return nil
	}
	return fmt.Errorf("unknown output format %q: use one of %s", format, strings.Join(OutputFormats, ", "))
}

// ListMembers returns the MemberClusters in the hub namespace, sorted by name. Pass its error
// through DescribeError for a one-line message.
func ListMembers(ctx context.Context, hub client.Client, namespace string) (*fleetv1.MemberClusterList, error) {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	list := &fleetv1.MemberClusterList{}
	if err := hub.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	slices.SortFunc(list.Items, func(a, b fleetv1.MemberCluster) int { return strings.Compare(a.Name, b.Name) })
	return list, nil
}

// MemberRow is one line of the list-members table.
type MemberRow struct {
	Name      string
	State     string // Ready or NotReady
	APIURL    string
	Version   string
	LastProbe string // age of the last probe, "<none>" before the first
	Age       string
	Reason    string // wide: the Ready condition's reason
	Message   string // wide: the Ready condition's message
	Latency   string // wide: the last probe's round trip
}

const none = "<none>"

// MemberRows turns MemberClusters into table rows as of now.
func MemberRows(items []fleetv1.MemberCluster, now time.Time) []MemberRow {
	rows := make([]MemberRow, 0, len(items))
	for i := range items {
		m := &items[i]
		r := MemberRow{
			Name:      m.Name,
			State:     fleetv1.MemberStateNotReady,
			APIURL:    orNone(m.Spec.APIURL),
			Version:   orNone(m.Status.KubernetesVersion),
			LastProbe: none,
			Age:       since(m.CreationTimestamp, now),
			Reason:    none,
			Message:   none,
			Latency:   orNone(m.Status.ProbeLatency),
		}
		if c := meta.FindStatusCondition(m.Status.Conditions, fleetv1.ConditionReady); c != nil {
			if c.Status == metav1.ConditionTrue {
				r.State = fleetv1.MemberStateReady
			}
			r.Reason = orNone(c.Reason)
			r.Message = orNone(strings.Join(strings.Fields(c.Message), " "))
		}
		if m.Status.LastProbeTime != nil {
			r.LastProbe = since(*m.Status.LastProbeTime, now)
		}
		rows = append(rows, r)
	}
	return rows
}

func orNone(s string) string {
	if s == "" {
		return none
	}
	return s
}

// since renders an age the way kubectl does ("3s", "5m", "2d"), or "<unknown>".
func since(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// PrintMembers writes the members as a table (table, wide) or as a MemberClusterList (json,
// yaml, as kubectl get -o json|yaml prints a list). An empty table prints nothing; the caller
// says "no members" where it sees fit.
func PrintMembers(w io.Writer, list *fleetv1.MemberClusterList, format string, now time.Time) error {
	if err := ValidateOutput(format); err != nil {
		return err
	}
	switch format {
	case OutputJSON, OutputYAML:
		out := list.DeepCopy()
		out.APIVersion, out.Kind = fleetv1.GroupVersion.String(), "MemberClusterList"
		for i := range out.Items {
			out.Items[i].APIVersion, out.Items[i].Kind = fleetv1.GroupVersion.String(), "MemberCluster"
			out.Items[i].ManagedFields = nil // kubectl hides them by default too
		}
		var p printers.ResourcePrinter = &printers.YAMLPrinter{}
		if format == OutputJSON {
			p = &printers.JSONPrinter{}
		}
		return p.PrintObj(out, w)
	}
	if len(list.Items) == 0 {
		return nil
	}
	wide := format == OutputWide
	tw := printers.GetNewTabWriter(w) // kubectl's table layout
	header := []string{"NAME", "STATE", "API URL", "VERSION", "LAST PROBE", "AGE"}
	if wide {
		header = append(header, "REASON", "MESSAGE", "LATENCY")
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range MemberRows(list.Items, now) {
		cols := []string{r.Name, r.State, r.APIURL, r.Version, r.LastProbe, r.Age}
		if wide {
			cols = append(cols, r.Reason, r.Message, r.Latency)
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	return tw.Flush()
}
