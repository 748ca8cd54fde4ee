package bench

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fleetscale/fleetscale/internal/benchreport"
)

// docHeader starts docs/benchmarks.md when it does not exist yet.
const docHeader = "# Benchmarks\n\n<!-- Each section is written by the benchmark it names (make bench). Rerun it instead of editing. -->\n"

// target is one figure against the target.
func target(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func fleetTable(r fleetResult) [][]string {
	rows := [][]string{{"figure", "measured", "target", ""}}
	add := func(fig, got, tgt string, ok bool) { rows = append(rows, []string{fig, got, tgt, target(ok)}) }
	cold := fmt.Sprintf("%.1f s", r.ColdStart.Seconds())
	if r.ColdFailed != "" {
		cold += " (" + r.ColdFailed + ")"
	}
	add("cold start: controller start → every target in every member at its share", cold, "< 30 s", r.ColdFailed == "" && r.ColdStart < 30*time.Second)
	caught := fmt.Sprintf("%.1f s", r.HubCaughtUp.Seconds())
	if r.HubCaughtUpFailed != "" {
		caught += " (" + r.HubCaughtUpFailed + ")"
	}
	add("cold start: controller start → every DSO's status written in the hub", caught, "< 30 s", r.HubCaughtUpFailed == "" && r.HubCaughtUp < 30*time.Second)
	add(fmt.Sprintf("steady-state writes to the hub (over %s)", r.Size.Window), fmt.Sprintf("%.2f /s", r.HubWrites), "0", r.HubWrites == 0)
	add("steady-state writes to the members", fmt.Sprintf("%.2f /s", r.MemberWrites), "0", r.MemberWrites == 0)
	add("controller CPU, idle", fmt.Sprintf("%.1f %% of a core", r.CPUPercentIdle), "< 5 %", r.CPUPercentIdle < 5)
	add("controller RSS (peak)", fmt.Sprintf("%d MiB (%d MiB)", r.RSSBytes>>20, r.PeakRSSBytes>>20), "< 300 MiB", r.RSSBytes < 300<<20)
	for _, ph := range []struct {
		name string
		p    phaseResult
	}{{"ConfigMap change → all members' /scale, under load", r.Loaded}, {fmt.Sprintf("the same with %d DSOs whose scalers hang", r.Size.Hanging), r.Hanging}} {
		if ph.p.Delays == nil && ph.p.Failed == nil {
			continue
		}
		s := benchreport.Summarize(ph.p.Delays)
		got := fmt.Sprintf("p50 %s, p99 %s, max %s (%d changes", benchreport.MS(s.P50), benchreport.MS(s.P99), benchreport.MS(s.Max), s.N)
		if n := len(ph.p.Failed); n > 0 {
			got += fmt.Sprintf(", %d not within their bound", n)
		}
		if ph.p.Skipped > 0 {
			got += fmt.Sprintf(", %d not made: phase budget %s used up", ph.p.Skipped, r.Size.Budget)
		}
		add(ph.name, got+")", "p99 < 1 s", s.N > 0 && len(ph.p.Failed) == 0 && ph.p.Skipped == 0 && s.P99 < time.Second)
	}
	return rows
}

func markdownTable(rows [][]string) string {
	var b strings.Builder
	for i, r := range rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
		if i == 0 {
			b.WriteString(strings.Repeat("|---", len(r)) + "|\n")
		}
	}
	return b.String()
}

func phaseBreakdown(name string, p phaseResult) string {
	if len(p.Delays) == 0 {
		return ""
	}
	c, f, a := benchreport.Summarize(p.Commit), benchreport.Summarize(p.First), benchreport.Summarize(p.Delays)
	return fmt.Sprintf("| %s | %s / %s | %s / %s | %s / %s |\n", name,
		benchreport.MS(c.P50), benchreport.MS(c.P99), benchreport.MS(f.P50), benchreport.MS(f.P99), benchreport.MS(a.P50), benchreport.MS(a.P99))
}

func reportFleet(b *testing.B, root string, r fleetResult) {
	rows := fleetTable(r)
	for _, row := range rows {
		fmt.Printf("%-80s %-50s %-10s %s\n", row[0], row[1], row[2], row[3])
	}
	for file, p := range map[string]phaseResult{"fleet-loaded": r.Loaded, "fleet-hanging": r.Hanging} {
		if len(p.Delays) == 0 {
			continue
		}
		name := fmt.Sprintf("%d DSOs × %d members", r.Size.DSOs, r.Size.Members)
		order := 2
		if file == "fleet-hanging" {
			name += fmt.Sprintf(", %d hanging", r.Size.Hanging)
			order = 3
		}
		if err := benchreport.WriteSamples(file, benchreport.Samples{Scenario: name, Order: order, DelaysMS: benchreport.Millis(p.Delays), Failed: len(p.Failed)}); err != nil {
			b.Error(err)
		}
	}
	var s strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&s, format, args...) }
	p("## %d DSOs × %d members\n\n", r.Size.DSOs, r.Size.Members)
	p("Written by `BenchmarkFleetAtScale` (test/bench/fleet_test.go) on %s.\n\n", r.Machine)
	p("%s\n", markdownTable(rows))
	p("Where the time of a change goes (p50 / p99): the ConfigMap update's own round trip to the hub, the first\n")
	p("member holding its new share, and all %d members holding theirs, each from the start of the update:\n\n", r.Size.Members)
	p("| phase | ConfigMap update returns | first member | all members |\n|---|---|---|---|\n")
	p("%s", phaseBreakdown("under load", r.Loaded))
	p("%s\n", phaseBreakdown(fmt.Sprintf("%d hanging", r.Size.Hanging), r.Hanging))
	p("Writes during the quiet window (apiserver_request_total of POST/PUT/PATCH/DELETE/APPLY, Leases excluded, by\n")
	p("cluster, resource and verb; members summed):\n\n")
	if len(r.WriteBreakdown) == 0 {
		p("- none\n")
	}
	for _, w := range r.WriteBreakdown {
		p("- %s\n", w)
	}
	if r.HangingStatus != "" {
		p("\nThe hanging DSOs' statuses all reported their reads' deadline %.1f s after they were created; their changes\n", r.HangingSettled.Seconds())
		p("were measured from then on. Status of %s at the end (its scalers hang): %s\n", appName("hang", 0), r.HangingStatus)
	}
	p("\nSetup (clusters, registrations, %d Deployments, %d ConfigMaps and DSOs) took %.0f s and is not measured.\n",
		r.Size.DSOs*r.Size.Members, r.Size.DSOs, r.Setup.Seconds())
	for _, ph := range []phaseResult{r.Loaded, r.Hanging} {
		for _, f := range ph.Failed {
			p("- not within its bound: %s\n", f)
		}
	}
	if len(r.Size.ControllerArgs) > 0 {
		p("\nController flags beyond the defaults: `%s`.\n", strings.Join(r.Size.ControllerArgs, " "))
	}
	p("\nReproduce: `make bench`, or only this benchmark (scaled down with BENCH_DSOS, BENCH_MEMBERS, BENCH_HANGING,\n")
	p("BENCH_CHANGES, BENCH_WINDOW, BENCH_BUDGET; defaults 1000, 10, 100, 40, 60s, 4m; BENCH_CONTROLLER_ARGS adds\n")
	p("controller flags). A phase (the cold start, each series of changes) stops at its budget, so a run ends in\n")
	p("about 15 minutes at most whatever the controller does:\n\n")
	p("```sh\nmake build-hub\nFLEETSCALE_K8S_BINS=$(hack/k8s-bins.sh --print-dir) go test -run '^$' -bench FleetAtScale -benchtime 1x -timeout 30m ./test/bench/\n```\n\n")
	p("What runs: etcd, a hub apiserver and %d member apiservers (apiserver only: Deployments exist but have no\n", r.Size.Members)
	p("pods) from `internal/clusterenv`, members registered with `setup-member`; `bin/fleetscale-controller` with its\n")
	p("default flags (5 s member probes, no leader election). Every DSO has its own ConfigMap (`kubernetes-resource`,\n")
	p("target 5; default pollingInterval 30 s), its own Deployment in every member, and a behavior that allows any\n")
	p("change in one step, and a grace period of 24 h: the members run no pods, which slow-progress detection\n")
	p("would act on after the default 1 m (a status write and a MemberSlow Event per member). The cold start is measured with the DSOs, ConfigMaps and Deployments already there:\n")
	p("from the controller's start until watches on the members show every Deployment at its share\n")
	p("(%d → %d replicas in total). Each change patches one DSO's ConfigMap (DSOs spread over the fleet) and\n", r.Size.Members, 2*r.Size.Members)
	p("waits for all members; the next change follows at once. The hanging DSOs each have three `external`\n")
	p("triggers at a loopback port that accepts connections and never answers. CPU is utime+stime of the\n")
	p("controller over the window (/proc/PID/stat), RSS is VmRSS at its end (peak VmHWM). The quiet window\n")
	p("starts 10 s after every DSO's status is written: the controller writes the members first, and the hub's\n")
	p("status writes and Events of the cold start queue behind its hub client rate (--kube-api-qps).\n")
	doc := benchreport.DocPath(root)
	if err := benchreport.WriteSection(doc, docHeader, "fleet", s.String()); err != nil {
		b.Error(err)
	}
}
