package triggereval

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	autoscalingv2 "k8s.io/api/autoscaling/v2"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/scalers"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestSummarize(t *testing.T) {
	down := errors.New("connection refused")
	readings := []scalers.Reading{
		{Index: 0, Trigger: v1alpha1.ScaleTriggers{Type: "cron", Name: "office"}, Active: true,
			Metrics:    []scalers.MetricReading{{MetricSpec: scalers.MetricSpec{Name: "s0-cron", Target: 1, Type: autoscalingv2.AverageValueMetricType}, Value: 4}},
			NextChange: t0.Add(90 * time.Second)},
		{Index: 1, Trigger: v1alpha1.ScaleTriggers{Type: "prometheus"}, Err: down,
			Metrics: []scalers.MetricReading{{MetricSpec: scalers.MetricSpec{Name: "s1-prometheus", Target: 5, Type: autoscalingv2.ValueMetricType, Sensitive: true}}}},
		{Index: 2, Trigger: v1alpha1.ScaleTriggers{Type: "cron"}, NextChange: t0.Add(30 * time.Second),
			Metrics: []scalers.MetricReading{{MetricSpec: scalers.MetricSpec{Name: "s2-cron", Target: 1}, Value: 0}}},
		{Index: 3, Trigger: v1alpha1.ScaleTriggers{Type: "nosuch"}, Err: down},
	}
	got := Summarize(readings)
	want := Result{
		Metrics: []Metric{
			{Name: "office", Key: "office", TriggerIndex: 0, TriggerType: "cron", HasMetric: true, MetricType: autoscalingv2.AverageValueMetricType, Value: 4, Target: 1, Active: true},
			{Name: "s1-prometheus", Key: "s1-prometheus", TriggerIndex: 1, TriggerType: "prometheus", HasMetric: true, MetricType: autoscalingv2.ValueMetricType, Target: 5, Sensitive: true, Err: down},
			{Name: "s2-cron", Key: "s2-cron", TriggerIndex: 2, TriggerType: "cron", HasMetric: true, Target: 1},
			{Key: "trigger-3", TriggerIndex: 3, TriggerType: "nosuch", Err: down},
		},
		Problems:   "trigger 1 (prometheus): connection refused; trigger 3 (nosuch): connection refused",
		NextChange: t0.Add(30 * time.Second),
	}
	if d := cmp.Diff(want, got, cmpopts.EquateErrors()); d != "" {
		t.Fatalf("Summarize (-want +got):\n%s", d)
	}
}

// A trigger only a spec change fixes is the object's spec error; the others stay problems.
func TestSummarizeSpecError(t *testing.T) {
	bad := fmt.Errorf("%w: unknown key", scalers.ErrInvalidMetadata)
	got := Summarize([]scalers.Reading{
		{Index: 0, Trigger: v1alpha1.ScaleTriggers{Type: "prometheus", Name: "p"}, Err: errors.New("timeout")},
		{Index: 1, Trigger: v1alpha1.ScaleTriggers{Type: "cron", Name: "c"}, Err: bad},
	})
	if want := `trigger 1 (cron "c"): ` + bad.Error(); got.SpecError != want {
		t.Fatalf("SpecError = %q, want %q", got.SpecError, want)
	}
	if want := `trigger 0 (prometheus "p"): timeout; trigger 1 (cron "c"): ` + bad.Error(); got.Problems != want {
		t.Fatalf("Problems = %q, want %q", got.Problems, want)
	}
}

func TestSummarizeNothingFailing(t *testing.T) {
	got := Summarize([]scalers.Reading{{Trigger: v1alpha1.ScaleTriggers{Type: "cpu", Name: "c"},
		Metrics: []scalers.MetricReading{{MetricSpec: scalers.MetricSpec{Name: "c", Target: 50}, Value: 10}}}})
	if got.Problems != "" || got.SpecError != "" || !got.NextChange.IsZero() {
		t.Fatalf("nothing failed, no cron: %+v", got)
	}
}

func TestDescribe(t *testing.T) {
	if d := Describe(scalers.Reading{Index: 2, Trigger: v1alpha1.ScaleTriggers{Type: "redis", Name: "orders"}}); d != `trigger 2 (redis "orders")` {
		t.Fatal(d)
	}
	if d := Describe(scalers.Reading{Index: 0, Trigger: v1alpha1.ScaleTriggers{Type: "cron"}}); d != "trigger 0 (cron)" {
		t.Fatal(d)
	}
}

// A trigger that keeps failing reports the text its status shows (keep), still unwrapping to
// this read's error; a spec error and a trigger keep says nothing of report their own text.
func TestSummarizeKeepingShowsTheKeptText(t *testing.T) {
	timeout := errors.New("external scaler 127.0.0.1:1: GetMetricSpec timed out after 5s")
	closed := errors.New("external scaler 127.0.0.1:1 unavailable: raw-read tcp 127.0.0.1:43396->127.0.0.1:1: use of closed network connection")
	bad := fmt.Errorf("%w: unknown key", scalers.ErrInvalidMetadata)
	keep := func(key, _ string) (string, bool) {
		switch key {
		case "h1", "spec":
			return timeout.Error(), true
		}
		return "", false
	}
	got := SummarizeKeeping([]scalers.Reading{
		{Index: 0, Trigger: v1alpha1.ScaleTriggers{Type: "external", Name: "h1"}, Err: closed},
		{Index: 1, Trigger: v1alpha1.ScaleTriggers{Type: "external", Name: "h2"}, Err: closed},
		{Index: 2, Trigger: v1alpha1.ScaleTriggers{Type: "cron", Name: "spec"}, Err: bad},
	}, keep)
	if got.Metrics[0].Err.Error() != timeout.Error() || !errors.Is(got.Metrics[0].Err, closed) {
		t.Errorf("h1: %v, want the kept text, unwrapping to this read's error", got.Metrics[0].Err)
	}
	if got.Metrics[1].Err != closed {
		t.Errorf("h2 (nothing kept): %v", got.Metrics[1].Err)
	}
	if got.Metrics[2].Err != bad {
		t.Errorf("a spec error is never replaced: %v", got.Metrics[2].Err)
	}
	want := `trigger 0 (external "h1"): ` + timeout.Error() + `; trigger 1 (external "h2"): ` + closed.Error() + `; trigger 2 (cron "spec"): ` + bad.Error()
	if got.Problems != want {
		t.Errorf("Problems = %q, want %q", got.Problems, want)
	}
}
