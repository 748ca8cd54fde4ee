package autoscaling

import (
	"math"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func avg(name string, value, target float64) hpaMetric {
	return hpaMetric{name: name, targetType: autoscalingv2.AverageValueMetricType, valueMilli: toMilli(value), targetMilli: toMilli(target)}
}

func val(name string, value, target float64) hpaMetric {
	return hpaMetric{name: name, targetType: autoscalingv2.ValueMetricType, valueMilli: toMilli(value), targetMilli: toMilli(target)}
}

func recs(pairs ...any) []TimestampedReplicas {
	var out []TimestampedReplicas
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, TimestampedReplicas{Replicas: int32(pairs[i].(int)), Timestamp: metav1.NewTime(t0.Add(-pairs[i+1].(time.Duration)))})
	}
	return out
}

func events(pairs ...any) []ScaleEvent {
	var out []ScaleEvent
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, ScaleEvent{ReplicaChange: int32(pairs[i].(int)), Timestamp: metav1.NewTime(t0.Add(-pairs[i+1].(time.Duration)))})
	}
	return out
}

func rules(window int32, sel autoscalingv2.ScalingPolicySelect, policies ...autoscalingv2.HPAScalingPolicy) *autoscalingv2.HPAScalingRules {
	r := &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &window, Policies: policies}
	if sel != "" {
		r.SelectPolicy = &sel
	}
	return r
}

func pods(v, period int32) autoscalingv2.HPAScalingPolicy {
	return autoscalingv2.HPAScalingPolicy{Type: autoscalingv2.PodsScalingPolicy, Value: v, PeriodSeconds: period}
}

func percent(v, period int32) autoscalingv2.HPAScalingPolicy {
	return autoscalingv2.HPAScalingPolicy{Type: autoscalingv2.PercentScalingPolicy, Value: v, PeriodSeconds: period}
}

func TestMetricProposal(t *testing.T) {
	def := tolerances{down: 0.1, up: 0.1}
	tests := []struct {
		name    string
		metric  hpaMetric
		current int32
		ready   int32
		tol     tolerances
		want    int32
	}{
		// AverageValue: ratio = Σvalue / (target × current), else ceil(Σvalue / target).
		{"walkthrough 20/(5×3)=1.33 leaves tolerance", avg("m", 20, 5), 3, 3, def, 4},
		{"ratio 16/15=1.067 within 10% keeps current", avg("m", 16, 5), 3, 3, def, 3},
		{"ratio exactly 1.1 is within", avg("m", 16.5, 5), 3, 3, def, 3},
		{"ratio 1.133 outside", avg("m", 17, 5), 3, 3, def, 4},
		{"ratio exactly 0.9 is within", avg("m", 13.5, 5), 3, 3, def, 3},
		{"scale down", avg("m", 4, 5), 3, 3, def, 1},
		{"zero value proposes zero", avg("m", 0, 5), 3, 3, def, 0},
		{"walkthrough value 50 → 10", avg("m", 50, 5), 4, 4, def, 10},
		{"decimal values stay exact: 1.1/0.1 = 11", avg("m", 1.1, 0.1), 3, 3, def, 11},
		// Value: ratio = Σvalue / target, desired = ceil(ratio × ready pods).
		{"value uses ready pods", val("m", 30, 10), 4, 2, def, 6},
		{"value within tolerance keeps current", val("m", 10.5, 10), 4, 2, def, 4},
		{"value with current 0 is ceil(ratio)", val("m", 25, 10), 0, 0, def, 3},
		{"value with no ready pods proposes 0", val("m", 30, 10), 4, 0, def, 0},
		// Per-direction tolerances (behavior, Kubernetes ≥ 1.33).
		{"up tolerance 50% absorbs 1.33", avg("m", 20, 5), 3, 3, tolerances{down: 0.1, up: 0.5}, 3},
		{"down tolerance 5% does not absorb 0.925", avg("m", 18.5, 1), 20, 20, tolerances{down: 0.05, up: 0.1}, 19},
		{"default down tolerance absorbs 0.925", avg("m", 18.5, 1), 20, 20, def, 20},
		{"zero tolerance: any change counts", avg("m", 15.1, 5), 3, 3, tolerances{}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := metricProposal(tt.metric, tt.current, tt.ready, tt.tol); got != tt.want {
				t.Errorf("metricProposal = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestEvaluateHPALegacy(t *testing.T) {
	tests := []struct {
		name        string
		in          hpaInput
		want        int32
		unconstr    int32
		rateLimited bool
		stabilized  bool
		limit       string
	}{
		{
			name: "walkthrough first step 3 → 4",
			in:   hpaInput{current: 3, ready: 3, min: 1, max: 10, metrics: []hpaMetric{avg("cm", 20, 5)}},
			want: 4, unconstr: 4, limit: limitNone,
		},
		{
			name: "walkthrough scale-up limit 4 → 8 = max(2×4, 4)",
			in:   hpaInput{current: 4, ready: 4, min: 1, max: 10, metrics: []hpaMetric{avg("cm", 50, 5)}},
			want: 8, unconstr: 10, rateLimited: true, limit: limitScaleUp,
		},
		{
			name: "walkthrough second evaluation 8 → 10",
			in:   hpaInput{current: 8, ready: 8, min: 1, max: 10, metrics: []hpaMetric{avg("cm", 50, 5)}},
			want: 10, unconstr: 10, limit: limitNone,
		},
		{
			name: "bounded by max",
			in:   hpaInput{current: 8, ready: 8, min: 1, max: 10, metrics: []hpaMetric{avg("cm", 90, 5)}},
			want: 10, unconstr: 10, limit: limitTooMany,
		},
		{
			name: "scale-up limit floor of 4 from 1",
			in:   hpaInput{current: 1, ready: 1, min: 1, max: 100, metrics: []hpaMetric{avg("m", 100, 1)}},
			want: 4, unconstr: 100, rateLimited: true, limit: limitScaleUp,
		},
		{
			name: "scale-up limit saturates instead of wrapping for huge totals",
			in:   hpaInput{current: math.MaxInt32 - 1, ready: 1, min: 1, max: math.MaxInt32, metrics: []hpaMetric{avg("m", 1e15, 1)}},
			want: math.MaxInt32, unconstr: math.MaxInt32, limit: limitNone,
		},
		{
			name: "largest metric wins",
			in:   hpaInput{current: 4, ready: 4, min: 1, max: 100, metrics: []hpaMetric{avg("a", 10, 5), avg("b", 30, 5), avg("c", 4, 1)}},
			want: 6, unconstr: 6, limit: limitNone,
		},
		{
			name: "below min is raised to min",
			in:   hpaInput{current: 3, ready: 3, min: 2, max: 10, metrics: []hpaMetric{avg("m", 0, 5)}, history: History{Recommendations: recs(0, 400*time.Second)}},
			want: 2, unconstr: 2, limit: limitTooFew,
		},
		{
			name: "scale-down held by the 300 s window (seeded with current)",
			in:   hpaInput{current: 6, ready: 6, min: 1, max: 10, metrics: []hpaMetric{avg("m", 5, 5)}},
			want: 6, unconstr: 1, stabilized: true, limit: limitNone,
		},
		{
			name: "scale-down to the max recommendation of the last 300 s",
			in: hpaInput{current: 6, ready: 6, min: 1, max: 10, metrics: []hpaMetric{avg("m", 5, 5)},
				history: History{Recommendations: recs(6, 400*time.Second, 4, 200*time.Second, 3, 100*time.Second)}},
			want: 4, unconstr: 1, stabilized: true, limit: limitNone,
		},
		{
			name: "a recommendation exactly 300 s old still counts",
			in: hpaInput{current: 6, ready: 6, min: 1, max: 10, metrics: []hpaMetric{avg("m", 5, 5)},
				history: History{Recommendations: recs(5, 300*time.Second)}},
			want: 5, unconstr: 1, stabilized: true, limit: limitNone,
		},
		{
			name: "recommendations older than 300 s are ignored",
			in: hpaInput{current: 6, ready: 6, min: 1, max: 10, metrics: []hpaMetric{avg("m", 5, 5)},
				history: History{Recommendations: recs(6, 301*time.Second)}},
			want: 1, unconstr: 1, limit: limitNone,
		},
		{
			name: "current above max goes to max without metrics",
			in:   hpaInput{current: 12, ready: 12, min: 1, max: 10, metrics: []hpaMetric{{name: "m", invalid: true}}},
			want: 10, unconstr: 10, limit: limitNone,
		},
		{
			name: "all metrics invalid keeps current",
			in:   hpaInput{current: 5, ready: 5, min: 1, max: 10, metrics: []hpaMetric{{name: "a", invalid: true}, {name: "b", invalid: true}}},
			want: 5, unconstr: 5, limit: limitInvalidMetrics,
		},
		{
			name: "one invalid metric blocks a scale-down",
			in:   hpaInput{current: 5, ready: 5, min: 1, max: 10, metrics: []hpaMetric{{name: "a", invalid: true}, avg("b", 1, 5)}, history: History{Recommendations: recs(1, time.Hour)}},
			want: 5, unconstr: 5, limit: limitInvalidMetrics,
		},
		{
			name: "one invalid metric does not block a scale-up",
			in:   hpaInput{current: 5, ready: 5, min: 1, max: 10, metrics: []hpaMetric{{name: "a", invalid: true}, avg("b", 40, 5)}},
			want: 8, unconstr: 8, limit: limitNone,
		},
		{
			name: "no metrics at all keeps current",
			in:   hpaInput{current: 5, ready: 5, min: 1, max: 10},
			want: 5, unconstr: 5, limit: limitInvalidMetrics,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := evaluateHPA(tt.in, t0)
			if res.desired != tt.want || res.unconstrained != tt.unconstr || res.rateLimited != tt.rateLimited || res.stabilized != tt.stabilized || res.limitReason != tt.limit {
				t.Errorf("got desired=%d unconstrained=%d rateLimited=%v stabilized=%v limit=%s, want %d %d %v %v %s (%s)",
					res.desired, res.unconstrained, res.rateLimited, res.stabilized, res.limitReason,
					tt.want, tt.unconstr, tt.rateLimited, tt.stabilized, tt.limit, res.reason)
			}
			if len(res.history.ScaleUpEvents)+len(res.history.ScaleDownEvents) != 0 {
				t.Errorf("legacy rules must not record scale events, got %+v", res.history)
			}
		})
	}
}

func TestEvaluateHPAWithBehavior(t *testing.T) {
	zeroDown := &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: rules(0, "")}
	tests := []struct {
		name        string
		behavior    *autoscalingv2.HorizontalPodAutoscalerBehavior
		current     int32
		min, max    int32
		metric      hpaMetric
		history     History
		want        int32
		rateLimited bool
		stabilized  bool
		limit       string
	}{
		{
			name:     "defaults: scale-up max(4 Pods, 100 Percent) per 15 s from 3 → 7",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{},
			current:  3, min: 1, max: 100, metric: avg("m", 100, 1),
			want: 7, rateLimited: true, limit: limitScaleUp,
		},
		{
			name:     "defaults: from 10 the 100 % policy gives 20",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{},
			current:  10, min: 1, max: 100, metric: avg("m", 100, 1),
			want: 20, rateLimited: true, limit: limitScaleUp,
		},
		{
			name:     "defaults: scale-down window of 300 s holds the seeded current",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{},
			current:  10, min: 1, max: 100, metric: avg("m", 2, 1),
			want: 10, stabilized: true, limit: limitNone,
		},
		{
			name:     "scale-down window 0 with default 100 % policy goes straight down",
			behavior: zeroDown,
			current:  10, min: 1, max: 100, metric: avg("m", 2, 1),
			want: 2, limit: limitNone,
		},
		{
			name:     "scale-up window: min over the window",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(60, "")},
			current:  5, min: 1, max: 100, metric: avg("m", 10, 1),
			history: History{Recommendations: recs(7, 30*time.Second, 3, 90*time.Second)},
			want:    7, stabilized: true, limit: limitNone,
		},
		{
			name:     "scale-up window below current keeps current",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(60, "")},
			current:  5, min: 1, max: 100, metric: avg("m", 10, 1),
			history: History{Recommendations: recs(3, 30*time.Second)},
			want:    5, stabilized: true, limit: limitNone,
		},
		{
			name:     "scale-down window: max over the window",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: rules(120, "")},
			current:  10, min: 1, max: 100, metric: avg("m", 2, 1),
			history: History{Recommendations: recs(6, 100*time.Second, 9, 130*time.Second)},
			want:    6, stabilized: true, limit: limitNone,
		},
		{
			name:     "a recommendation exactly at the window edge does not count (After)",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: rules(120, "")},
			current:  10, min: 1, max: 100, metric: avg("m", 2, 1),
			history: History{Recommendations: recs(6, 120*time.Second)},
			want:    2, limit: limitNone,
		},
		{
			name:     "Pods policy: start of period = current − added",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(0, "", pods(2, 60))},
			current:  5, min: 1, max: 100, metric: avg("m", 20, 1),
			history: History{ScaleUpEvents: events(1, 30*time.Second)},
			want:    6, rateLimited: true, limit: limitScaleUp,
		},
		{
			name:     "Pods policy budget used up: stay at current",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(0, "", pods(2, 60))},
			current:  5, min: 1, max: 100, metric: avg("m", 20, 1),
			history: History{ScaleUpEvents: events(3, 30*time.Second)},
			want:    5, rateLimited: true, limit: limitScaleUp,
		},
		{
			name:     "events outside the period are not counted",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(0, "", pods(2, 60))},
			current:  5, min: 1, max: 100, metric: avg("m", 20, 1),
			history: History{ScaleUpEvents: events(3, 60*time.Second)},
			want:    7, rateLimited: true, limit: limitScaleUp,
		},
		{
			name:     "Percent scale-up rounds up: ceil(3 × 1.1) = 4",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(0, "", percent(10, 60))},
			current:  3, min: 1, max: 100, metric: avg("m", 20, 1),
			want: 4, rateLimited: true, limit: limitScaleUp,
		},
		{
			name:     "Percent scale-down rounds down: floor(10 × 0.5) = 5",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: rules(0, "", percent(50, 60))},
			current:  10, min: 1, max: 100, metric: avg("m", 1, 1),
			want: 5, rateLimited: true, limit: limitScaleDown,
		},
		{
			name:     "Percent scale-down start includes earlier removals: floor(14 × 0.5) = 7",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: rules(0, "", percent(50, 60))},
			current:  10, min: 1, max: 100, metric: avg("m", 1, 1),
			history: History{ScaleDownEvents: events(4, 30*time.Second)},
			want:    7, rateLimited: true, limit: limitScaleDown,
		},
		{
			name:     "Percent scale-down floor: floor(3 × 0.7) = 2",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: rules(0, "", percent(30, 60))},
			current:  3, min: 1, max: 100, metric: avg("m", 0, 1),
			want: 2, rateLimited: true, limit: limitScaleDown,
		},
		{
			name:     "selectPolicy Max picks the most permissive scale-up",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(0, autoscalingv2.MaxChangePolicySelect, pods(4, 15), percent(100, 15))},
			current:  10, min: 1, max: 100, metric: avg("m", 100, 1),
			want: 20, rateLimited: true, limit: limitScaleUp,
		},
		{
			name:     "selectPolicy Min picks the least permissive scale-up",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(0, autoscalingv2.MinChangePolicySelect, pods(4, 15), percent(100, 15))},
			current:  10, min: 1, max: 100, metric: avg("m", 100, 1),
			want: 14, rateLimited: true, limit: limitScaleUp,
		},
		{
			name:     "selectPolicy Min on scale-down removes the least",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: rules(0, autoscalingv2.MinChangePolicySelect, pods(1, 15), percent(50, 15))},
			current:  10, min: 1, max: 100, metric: avg("m", 1, 1),
			want: 9, rateLimited: true, limit: limitScaleDown,
		},
		{
			name:     "selectPolicy Max on scale-down removes the most",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: rules(0, autoscalingv2.MaxChangePolicySelect, pods(1, 15), percent(50, 15))},
			current:  10, min: 1, max: 100, metric: avg("m", 1, 1),
			want: 5, rateLimited: true, limit: limitScaleDown,
		},
		{
			name:     "selectPolicy Disabled on scale-up holds current and is no rate limit to wait for",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(0, autoscalingv2.DisabledPolicySelect)},
			current:  5, min: 1, max: 100, metric: avg("m", 50, 1),
			want: 5, limit: limitScaleUp,
		},
		{
			name:     "selectPolicy Disabled on scale-down holds current",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: rules(0, autoscalingv2.DisabledPolicySelect)},
			current:  5, min: 1, max: 100, metric: avg("m", 1, 1),
			want: 5, limit: limitScaleDown,
		},
		{
			name:     "max bound is TooManyReplicas when below the rate limit",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{},
			current:  5, min: 1, max: 8, metric: avg("m", 50, 1),
			want: 8, limit: limitTooMany,
		},
		{
			name:     "min bound is TooFewReplicas when above the rate limit",
			behavior: zeroDown,
			current:  5, min: 3, max: 8, metric: avg("m", 1, 1),
			want: 3, limit: limitTooFew,
		},
		{
			name: "per-direction tolerance from behavior",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleUp: &autoscalingv2.HPAScalingRules{Tolerance: ptr(resource.MustParse("0.5"))},
			},
			current: 3, min: 1, max: 10, metric: avg("m", 20, 5),
			want: 3, limit: limitNone,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := evaluateHPA(hpaInput{
				current: tt.current, ready: tt.current, min: tt.min, max: tt.max,
				metrics: []hpaMetric{tt.metric}, behavior: resolveBehavior(tt.behavior), history: tt.history,
			}, t0)
			if res.desired != tt.want || res.rateLimited != tt.rateLimited || res.stabilized != tt.stabilized || res.limitReason != tt.limit {
				t.Errorf("got desired=%d rateLimited=%v stabilized=%v limit=%s, want %d %v %v %s (%s)",
					res.desired, res.rateLimited, res.stabilized, res.limitReason, tt.want, tt.rateLimited, tt.stabilized, tt.limit, res.reason)
			}
		})
	}
}

func TestScaleEventsAreRecordedAndReused(t *testing.T) {
	behavior := resolveBehavior(&autoscalingv2.HorizontalPodAutoscalerBehavior{
		ScaleUp:   rules(0, "", pods(2, 60)),
		ScaleDown: rules(0, "", pods(10, 30)),
	})
	in := hpaInput{current: 5, ready: 5, min: 1, max: 100, metrics: []hpaMetric{avg("m", 20, 1)}, behavior: behavior}

	// 5 → 7 uses the 2-Pods budget of the 60 s period; 20 s later the period
	// still starts at 5, so 7 holds; after 61 s the budget is back.
	res := evaluateHPA(in, t0)
	if res.desired != 7 || len(res.history.ScaleUpEvents) != 1 || res.history.ScaleUpEvents[0].ReplicaChange != 2 {
		t.Fatalf("first evaluation: desired=%d events=%+v", res.desired, res.history.ScaleUpEvents)
	}
	in.current, in.history = res.desired, res.history
	res = evaluateHPA(in, t0.Add(20*time.Second))
	if res.desired != 7 || !res.rateLimited {
		t.Fatalf("second evaluation within the 60 s period must stay at 7, got %d (%s)", res.desired, res.reason)
	}
	in.history = res.history
	res = evaluateHPA(in, t0.Add(61*time.Second))
	if res.desired != 9 {
		t.Fatalf("after the period the budget is back: want 9, got %d", res.desired)
	}
	if n := len(res.history.ScaleUpEvents); n != 1 {
		t.Fatalf("an event older than the longest period must be reused, got %d events: %+v", n, res.history.ScaleUpEvents)
	}
	if got := res.history.ScaleUpEvents[0]; got.ReplicaChange != 2 || !got.Timestamp.Time.Equal(t0.Add(61*time.Second)) {
		t.Errorf("reused slot holds %+v", got)
	}

	// A scale-down records a down event.
	in.current, in.history, in.metrics = res.desired, res.history, []hpaMetric{avg("m", 1, 1)}
	res = evaluateHPA(in, t0.Add(70*time.Second))
	if res.desired != 1 || len(res.history.ScaleDownEvents) != 1 || res.history.ScaleDownEvents[0].ReplicaChange != 8 {
		t.Fatalf("scale-down: desired=%d events=%+v (%s)", res.desired, res.history.ScaleDownEvents, res.reason)
	}
}

func TestRecommendationsArePruned(t *testing.T) {
	h := History{Recommendations: recs(4, 400*time.Second, 5, 100*time.Second, 3, 50*time.Second)}
	h.addRecommendation(5, t0, 300*time.Second)
	want := []int32{3, 5}
	if len(h.Recommendations) != len(want) {
		t.Fatalf("got %+v", h.Recommendations)
	}
	for i, r := range h.Recommendations {
		if r.Replicas != want[i] {
			t.Errorf("recommendation %d = %d, want %d", i, r.Replicas, want[i])
		}
	}
	if !h.Recommendations[1].Timestamp.Time.Equal(t0) {
		t.Errorf("the newer duplicate must replace the older one")
	}
}

func TestResolveBehaviorDefaults(t *testing.T) {
	b := resolveBehavior(&autoscalingv2.HorizontalPodAutoscalerBehavior{})
	if b.up.window != 0 || b.up.selectPol != autoscalingv2.MaxChangePolicySelect || len(b.up.policies) != 2 ||
		b.up.policies[0] != pods(4, 15) || b.up.policies[1] != percent(100, 15) {
		t.Errorf("scale-up defaults: %+v", b.up)
	}
	if b.down.window != 300*time.Second || b.down.selectPol != autoscalingv2.MaxChangePolicySelect || len(b.down.policies) != 1 ||
		b.down.policies[0] != percent(100, 15) {
		t.Errorf("scale-down defaults: %+v", b.down)
	}
	if b.up.tolerance != 0.1 || b.down.tolerance != 0.1 {
		t.Errorf("tolerances: %v %v", b.up.tolerance, b.down.tolerance)
	}
	if resolveBehavior(nil) != nil {
		t.Error("nil behavior must stay nil (legacy rules)")
	}
}
