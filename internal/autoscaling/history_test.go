package autoscaling

import (
	"math/rand/v2"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

// The HPA (pkg/controller/podautoscaler/horizontal.go) keeps every recommendation of the
// stabilisation window (stabilizeRecommendationWithBehaviors: up = min, down = max over
// (now-window, now]) and every scale event of the policy period (getReplicasChangePerPeriod:
// the sum of the changes after now-period), however many there are. These cases decide with
// more than the 64 entries the history used to be cut at, over the API's longest window
// (3600 s) and period (1800 s).
func TestHistoryKeepsTheWholeWindow(t *testing.T) {
	tests := []struct {
		name string
		// behavior, and the evaluations: one metric value per step, step apart.
		behavior *autoscalingv2.HorizontalPodAutoscalerBehavior
		current  int32
		values   []float64
		step     time.Duration
		// the last evaluation's result
		want int32
	}{
		{
			// horizontal_test.go "TestScaleDownWithScalingRules"-style: the window's maximum
			// decides a scale-down. 300 is recommended first, then 200, 199, ... 101 (each
			// newer one lower: every entry is the maximum of some window, none is dominated);
			// after 100 steps of 30 s (3000 s < 3600 s) the 300 still holds the size.
			name:     "scale-down window 3600s holds the max of 101 distinct recommendations",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: rules(3600, "", pods(1000, 60))},
			current:  300,
			values:   append([]float64{300}, descending(200, 101)...),
			step:     30 * time.Second,
			want:     300,
		},
		{
			// The window's minimum decides a scale-up: 10 is recommended first, then 20, 21,
			// ... 119 (each newer one higher); 110 steps of 30 s stay inside the 3600 s window,
			// so the first, lowest recommendation keeps the size at 10.
			name: "scale-up window 3600s holds the min of 111 distinct recommendations",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleUp: rules(3600, "", pods(1000, 60)), ScaleDown: rules(0, "", pods(1000, 60))},
			current: 10,
			values:  append([]float64{10}, ascending(20, 119)...),
			step:    30 * time.Second,
			want:    10,
		},
		{
			// horizontal_test.go "TestScaleUpOneMetricWithPodsPolicy"-style with a long
			// period: 100 Pods per 1800 s. 80 scale-ups of 1 (one every 20 s, 1600 s in all)
			// use 80 of the budget, so the next evaluation may add only 20 more: 80 events
			// must all be counted (at 64 kept, 36 would be allowed).
			name: "Pods policy over 1800s counts 80 scale events",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleUp: rules(0, "", pods(100, 1800)), ScaleDown: rules(0, "", pods(1000, 60))},
			current: 10,
			values:  append(ascending(11, 90), 1000),
			step:    20 * time.Second,
			want:    90 + 20,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := hpaInput{current: tt.current, ready: tt.current, min: 1, max: 10000, behavior: resolveBehavior(tt.behavior)}
			now := t0
			var res hpaResult
			for _, v := range tt.values {
				in.metrics = []hpaMetric{avg("m", v, 1)}
				res = evaluateHPA(in, now)
				in.current, in.ready, in.history = res.desired, res.desired, res.history
				now = now.Add(tt.step)
			}
			if res.desired != tt.want {
				t.Fatalf("desired %d, want %d (%s); history: %d recommendations, %d up events",
					res.desired, tt.want, res.reason, len(res.history.Recommendations), len(res.history.ScaleUpEvents))
			}
		})
	}
}

func descending(from, to int) []float64 {
	var out []float64
	for v := from; v >= to; v-- {
		out = append(out, float64(v))
	}
	return out
}

func ascending(from, to int) []float64 {
	var out []float64
	for v := from; v <= to; v++ {
		out = append(out, float64(v))
	}
	return out
}

// Dominated recommendations never decide (the windows are suffixes of the history), so they
// are dropped; same-second entries keep their extremes; entries outside the window go.
func TestRecommendationCoalescing(t *testing.T) {
	s := func(d int) time.Duration { return time.Duration(d) * time.Second }
	tests := []struct {
		name   string
		before []TimestampedReplicas
		add    int32
		window time.Duration
		want   []int32
	}{
		{"steady state keeps one entry", recs(4, s(30), 4, s(15)), 4, s(300), []int32{4}},
		{"an older value between newer extremes is dominated", recs(5, s(60), 9, s(30), 1, s(15)), 3, s(300), []int32{9, 1, 3}},
		{"older maximum and minimum both kept", recs(9, s(60), 1, s(30)), 5, s(300), []int32{9, 1, 5}},
		{"a lower older value under a newer minimum is kept", recs(2, s(60), 7, s(30)), 5, s(300), []int32{2, 7, 5}},
		{"outside the window dropped", recs(9, s(301), 3, s(10)), 5, s(300), []int32{3, 5}},
		{"same second: only the extremes and the newest", recs(9, s(0), 1, s(0), 6, s(0)), 5, s(300), []int32{9, 1, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := History{Recommendations: tt.before}
			h.addRecommendation(tt.add, t0, tt.window)
			var got []int32
			for _, r := range h.Recommendations {
				got = append(got, r.Replicas)
			}
			if !equalInt32(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			if last := h.Recommendations[len(h.Recommendations)-1]; !last.Timestamp.Time.Equal(t0) || last.Replicas != tt.add {
				t.Errorf("the newest entry is %+v", last)
			}
		})
	}
}

func equalInt32(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Scale events within one second are summed; events older than the longest period dropped.
func TestScaleEventCoalescing(t *testing.T) {
	b := resolveBehavior(&autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(0, "", pods(100, 60))})
	var h History
	h.storeScaleEvent(*b, 1, 3, t0)
	h.storeScaleEvent(*b, 3, 4, t0.Add(300*time.Millisecond))
	h.storeScaleEvent(*b, 4, 6, t0.Add(2*time.Second))
	if len(h.ScaleUpEvents) != 2 || h.ScaleUpEvents[0].ReplicaChange != 3 || h.ScaleUpEvents[1].ReplicaChange != 2 {
		t.Fatalf("events %+v, want 3 (same second) then 2", h.ScaleUpEvents)
	}
	if got := replicasChangedWithin(h.ScaleUpEvents, time.Minute, t0.Add(3*time.Second)); got != 5 {
		t.Errorf("changed within a minute: %d, want 5", got)
	}
	h.storeScaleEvent(*b, 6, 7, t0.Add(62*time.Second))
	if len(h.ScaleUpEvents) != 2 || h.ScaleUpEvents[0].ReplicaChange != 2 {
		t.Errorf("the event older than the 60 s period stays: %+v", h.ScaleUpEvents)
	}
}

// However the metrics move (a new value every second, for two hours), the history stays within
// 2 recommendations per second of the longest window and one event per second of the longest
// period, and in practice far below.
func TestHistoryStaysBounded(t *testing.T) {
	in := hpaInput{current: 5, ready: 5, min: 1, max: 100000, behavior: resolveBehavior(&autoscalingv2.HorizontalPodAutoscalerBehavior{
		ScaleUp:   rules(3600, "", pods(1000, 1800)),
		ScaleDown: rules(3600, "", pods(1000, 1800)),
	})}
	rng := rand.New(rand.NewPCG(1, 2))
	most := 0
	for i := range 7200 {
		in.metrics = []hpaMetric{avg("m", float64(1+rng.IntN(100000)), 1)}
		res := evaluateHPA(in, t0.Add(time.Duration(i)*time.Second))
		in.current, in.ready, in.history = res.desired, res.desired, res.history
		h := in.history
		most = max(most, len(h.Recommendations))
		if len(h.Recommendations) > 2*3600+1 || len(h.ScaleUpEvents) > 1801 || len(h.ScaleDownEvents) > 1801 {
			t.Fatalf("step %d: %d recommendations, %d up, %d down", i, len(h.Recommendations), len(h.ScaleUpEvents), len(h.ScaleDownEvents))
		}
	}
	t.Logf("at most %d recommendations kept over 7200 random evaluations", most)
}
