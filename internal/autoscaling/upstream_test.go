package autoscaling

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The tests in this file run the upstream projects' own table cases, kept as data in
// testdata/upstream with their upstream names (see each file's "source"), against the rules
// reproduced here: when upstream changes a case, refreshing the file shows the drift.

func loadUpstream(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "upstream", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// upstreamRules is generateScalingRules(pods, podsPeriod, percent, percentPeriod, window).
type upstreamRules struct {
	Pods                       int32 `json:"pods"`
	PodsPeriodSeconds          int32 `json:"podsPeriodSeconds"`
	Percent                    int32 `json:"percent"`
	PercentPeriodSeconds       int32 `json:"percentPeriodSeconds"`
	StabilizationWindowSeconds int32 `json:"stabilizationWindowSeconds"`
}

func (r *upstreamRules) rules() *autoscalingv2.HPAScalingRules {
	if r == nil {
		return nil
	}
	maxPolicy := autoscalingv2.MaxChangePolicySelect
	out := &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &r.StabilizationWindowSeconds, SelectPolicy: &maxPolicy}
	if r.Pods != 0 {
		out.Policies = append(out.Policies, autoscalingv2.HPAScalingPolicy{Type: autoscalingv2.PodsScalingPolicy, Value: r.Pods, PeriodSeconds: r.PodsPeriodSeconds})
	}
	if r.Percent != 0 {
		out.Policies = append(out.Policies, autoscalingv2.HPAScalingPolicy{Type: autoscalingv2.PercentScalingPolicy, Value: r.Percent, PeriodSeconds: r.PercentPeriodSeconds})
	}
	return out
}

// upstreamEvents is generateEventsUniformDistribution(changes, overSeconds): one event at the
// centre of each of len(changes) equal segments of the last overSeconds, oldest first.
type upstreamEvents struct {
	Changes     []int32 `json:"changes"`
	OverSeconds float64 `json:"overSeconds"`
}

func (e *upstreamEvents) events(now time.Time) []ScaleEvent {
	if e == nil {
		return nil
	}
	seg := e.OverSeconds / float64(len(e.Changes))
	out := make([]ScaleEvent, len(e.Changes))
	for i, c := range e.Changes {
		ago := e.OverSeconds - seg*float64(i+1) + seg/2
		out[i] = ScaleEvent{ReplicaChange: c, Timestamp: metav1.NewTime(now.Add(-time.Duration(ago * float64(time.Second))))}
	}
	return out
}

type upstreamRecommendation struct {
	Replicas   int32 `json:"replicas"`
	AgoSeconds int64 `json:"agoSeconds"`
}

func recommendationsAgo(rs []upstreamRecommendation, now time.Time) []TimestampedReplicas {
	out := make([]TimestampedReplicas, 0, len(rs))
	for _, r := range rs {
		out = append(out, TimestampedReplicas{Replicas: r.Replicas, Timestamp: metav1.NewTime(now.Add(-time.Duration(r.AgoSeconds) * time.Second))})
	}
	return out
}

// TestUpstreamHPABehavior runs horizontal_test.go's behavior, legacy-bound and stabilisation
// tables against applyBehaviorRate (convertDesiredReplicasWithBehaviorRate), normalizeLegacy
// (stabilizeRecommendation + convertDesiredReplicasWithRules) and normalizeWithBehavior
// (stabilizeRecommendationWithBehaviors). Only the decided counts are compared: how the
// history is stored is ours (it lives in status).
func TestUpstreamHPABehavior(t *testing.T) {
	var data struct {
		ScalingWithRules []struct {
			Name                         string          `json:"name"`
			ScaleUpEvents                *upstreamEvents `json:"scaleUpEvents"`
			ScaleDownEvents              *upstreamEvents `json:"scaleDownEvents"`
			SpecMinReplicas              int32           `json:"specMinReplicas"`
			SpecMaxReplicas              int32           `json:"specMaxReplicas"`
			ScaleUpRules                 *upstreamRules  `json:"scaleUpRules"`
			ScaleDownRules               *upstreamRules  `json:"scaleDownRules"`
			CurrentReplicas              int32           `json:"currentReplicas"`
			PrenormalizedDesiredReplicas int32           `json:"prenormalizedDesiredReplicas"`
			ExpectedReplicas             int32           `json:"expectedReplicas"`
			ExpectedCondition            string          `json:"expectedCondition"`
		} `json:"TestScalingWithRules"`
		ConvertWithRules []struct {
			Name                         string `json:"name"`
			CurrentReplicas              int32  `json:"currentReplicas"`
			PrenormalizedDesiredReplicas int32  `json:"prenormalizedDesiredReplicas"`
			HPAMinReplicas               int32  `json:"hpaMinReplicas"`
			HPAMaxReplicas               int32  `json:"hpaMaxReplicas"`
			ExpectedReplicas             int32  `json:"expectedReplicas"`
			ExpectedCondition            string `json:"expectedCondition"`
		} `json:"TestConvertDesiredReplicasWithRules"`
		Normalize []struct {
			Name                         string                   `json:"name"`
			Recommendations              []upstreamRecommendation `json:"recommendations"`
			PrenormalizedDesiredReplicas int32                    `json:"prenormalizedDesiredReplicas"`
			ExpectedStabilizedReplicas   int32                    `json:"expectedStabilizedReplicas"`
		} `json:"TestNormalizeDesiredReplicas"`
		NormalizeWithBehavior []struct {
			Name                                string                   `json:"name"`
			Recommendations                     []upstreamRecommendation `json:"recommendations"`
			CurrentReplicas                     int32                    `json:"currentReplicas"`
			PrenormalizedDesiredReplicas        int32                    `json:"prenormalizedDesiredReplicas"`
			ScaleUpStabilizationWindowSeconds   int32                    `json:"scaleUpStabilizationWindowSeconds"`
			ScaleDownStabilizationWindowSeconds int32                    `json:"scaleDownStabilizationWindowSeconds"`
			ExpectedStabilizedReplicas          int32                    `json:"expectedStabilizedReplicas"`
		} `json:"TestNormalizeDesiredReplicasWithBehavior"`
		ScaleUpLimit   []limitCase `json:"TestCalculateScaleUpLimitWithScalingRules"`
		ScaleDownLimit []limitCase `json:"TestCalculateScaleDownLimitWithBehaviors"`
	}
	loadUpstream(t, "kubernetes-horizontal_test.json", &data)
	now := t0
	if len(data.ScalingWithRules) < 40 || len(data.NormalizeWithBehavior) < 10 {
		t.Fatalf("upstream tables look truncated: %d and %d cases", len(data.ScalingWithRules), len(data.NormalizeWithBehavior))
	}
	for _, tc := range data.ScalingWithRules {
		t.Run("TestScalingWithRules/"+tc.Name, func(t *testing.T) {
			b := resolveBehavior(&autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: tc.ScaleUpRules.rules(), ScaleDown: tc.ScaleDownRules.rules()})
			in := hpaInput{current: tc.CurrentReplicas, min: tc.SpecMinReplicas, max: tc.SpecMaxReplicas, behavior: b}
			hist := History{ScaleUpEvents: tc.ScaleUpEvents.events(now), ScaleDownEvents: tc.ScaleDownEvents.events(now)}
			got, reason := applyBehaviorRate(in, tc.PrenormalizedDesiredReplicas, hist, now)
			if got != tc.ExpectedReplicas || reason != tc.ExpectedCondition {
				t.Errorf("got %d (%s), upstream %d (%s)", got, reason, tc.ExpectedReplicas, tc.ExpectedCondition)
			}
		})
	}
	for _, tc := range data.ConvertWithRules {
		t.Run("TestConvertDesiredReplicasWithRules/"+tc.Name, func(t *testing.T) {
			in := hpaInput{current: tc.CurrentReplicas, min: tc.HPAMinReplicas, max: tc.HPAMaxReplicas}
			var hist History
			_, got, reason := normalizeLegacy(in, tc.PrenormalizedDesiredReplicas, &hist, now)
			if got != tc.ExpectedReplicas || reason != tc.ExpectedCondition {
				t.Errorf("got %d (%s), upstream %d (%s)", got, reason, tc.ExpectedReplicas, tc.ExpectedCondition)
			}
		})
	}
	for _, tc := range data.Normalize {
		t.Run("TestNormalizeDesiredReplicas/"+tc.Name, func(t *testing.T) {
			in := hpaInput{current: tc.PrenormalizedDesiredReplicas, min: 1, max: math.MaxInt32}
			hist := History{Recommendations: recommendationsAgo(tc.Recommendations, now)}
			got, _, _ := normalizeLegacy(in, tc.PrenormalizedDesiredReplicas, &hist, now)
			if got != tc.ExpectedStabilizedReplicas {
				t.Errorf("stabilized %d, upstream %d", got, tc.ExpectedStabilizedReplicas)
			}
		})
	}
	for _, tc := range data.NormalizeWithBehavior {
		t.Run("TestNormalizeDesiredReplicasWithBehavior/"+tc.Name, func(t *testing.T) {
			up, down := tc.ScaleUpStabilizationWindowSeconds, tc.ScaleDownStabilizationWindowSeconds
			b := resolveBehavior(&autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleUp:   &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &up},
				ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &down},
			})
			in := hpaInput{current: tc.CurrentReplicas, min: 1, max: math.MaxInt32, behavior: b}
			hist := History{Recommendations: recommendationsAgo(tc.Recommendations, now)}
			got, _, _ := normalizeWithBehavior(in, tc.PrenormalizedDesiredReplicas, &hist, now)
			if got != tc.ExpectedStabilizedReplicas {
				t.Errorf("stabilized %d, upstream %d", got, tc.ExpectedStabilizedReplicas)
			}
		})
	}
	for _, tc := range data.ScaleUpLimit {
		t.Run("TestCalculateScaleUpLimitWithScalingRules/"+tc.Name, func(t *testing.T) {
			if got := tc.rules().scaleUpLimit(tc.CurrentReplicas, History{}, now); got != tc.Expected {
				t.Errorf("limit %d, upstream %d", got, tc.Expected)
			}
		})
	}
	for _, tc := range data.ScaleDownLimit {
		t.Run("TestCalculateScaleDownLimitWithBehaviors/"+tc.Name, func(t *testing.T) {
			if got := tc.rules().scaleDownLimit(tc.CurrentReplicas, History{}, now); got != tc.Expected {
				t.Errorf("limit %d, upstream %d", got, tc.Expected)
			}
		})
	}
}

type limitCase struct {
	Name            string                            `json:"name"`
	CurrentReplicas int32                             `json:"currentReplicas"`
	SelectPolicy    autoscalingv2.ScalingPolicySelect `json:"selectPolicy"`
	Policies        []autoscalingv2.HPAScalingPolicy  `json:"policies"`
	Expected        int64                             `json:"expected"`
}

func (c limitCase) rules() scalingRules {
	return scalingRules{selectPol: c.SelectPolicy, policies: c.Policies}
}

// TestUpstreamHPATolerance runs the tolerance cases of horizontal_test.go and the external
// metric cases of replica_calculator_test.go against metricProposal. The CPU cases of
// TestConfigurableTolerance are carried as their usage ratio: the tolerance rule is the same
// for every metric source, only the ratio's inputs differ.
func TestUpstreamHPATolerance(t *testing.T) {
	var hz struct {
		Tolerance []struct {
			Name             string  `json:"name"`
			SpecReplicas     int32   `json:"specReplicas"`
			TargetType       string  `json:"targetType"`
			TargetMilli      int64   `json:"targetMilli"`
			LevelsMilli      []int64 `json:"levelsMilli"`
			ExpectedReplicas int32   `json:"expectedReplicas"`
		} `json:"TestTolerance"`
		Configurable []struct {
			Name               string   `json:"name"`
			SpecReplicas       int32    `json:"specReplicas"`
			CPUTargetPercent   int64    `json:"cpuTargetPercent"`
			LevelsMilli        []int64  `json:"levelsMilli"`
			RequestsMilli      []int64  `json:"requestsMilli"`
			ScaleUpTolerance   *float64 `json:"scaleUpTolerance"`
			ScaleDownTolerance *float64 `json:"scaleDownTolerance"`
			ExpectedReplicas   int32    `json:"expectedReplicas"`
		} `json:"TestConfigurableTolerance"`
	}
	loadUpstream(t, "kubernetes-horizontal_test.json", &hz)
	for _, tc := range hz.Tolerance {
		t.Run("TestTolerance/"+tc.Name, func(t *testing.T) {
			m := hpaMetric{targetType: autoscalingv2.MetricTargetType(tc.TargetType), valueMilli: sumMilli(tc.LevelsMilli), targetMilli: tc.TargetMilli}
			if got := metricProposal(m, tc.SpecReplicas, tc.SpecReplicas, defaultTolerances()); got != tc.ExpectedReplicas {
				t.Errorf("proposal %d, upstream %d", got, tc.ExpectedReplicas)
			}
		})
	}
	for _, tc := range hz.Configurable {
		t.Run("TestConfigurableTolerance/"+tc.Name, func(t *testing.T) {
			tol := defaultTolerances()
			if tc.ScaleUpTolerance != nil {
				tol.up = *tc.ScaleUpTolerance
			}
			if tc.ScaleDownTolerance != nil {
				tol.down = *tc.ScaleDownTolerance
			}
			// utilisation = Σusage / Σrequests; as an AverageValue metric with target
			// (target% × Σrequests / pods) it has the same usage ratio.
			usage, requests := sumMilli(tc.LevelsMilli), sumMilli(tc.RequestsMilli)
			target := tc.CPUTargetPercent * requests / 100 / int64(tc.SpecReplicas)
			m := hpaMetric{targetType: autoscalingv2.AverageValueMetricType, valueMilli: usage, targetMilli: target}
			if got := metricProposal(m, tc.SpecReplicas, tc.SpecReplicas, tol); got != tc.ExpectedReplicas {
				t.Errorf("proposal %d, upstream %d", got, tc.ExpectedReplicas)
			}
		})
	}

	var rc struct {
		External []struct {
			Name             string   `json:"name"`
			CurrentReplicas  int32    `json:"currentReplicas"`
			ReadyPods        int32    `json:"readyPods"`
			LevelsMilli      []int64  `json:"levelsMilli"`
			TargetMilli      int64    `json:"targetMilli"`
			ScaleUpTolerance *float64 `json:"scaleUpTolerance"`
			ExpectedReplicas int32    `json:"expectedReplicas"`
		} `json:"TestReplicaCalcExternalMetric"`
		PerPod []struct {
			Name             string   `json:"name"`
			CurrentReplicas  int32    `json:"currentReplicas"`
			LevelsMilli      []int64  `json:"levelsMilli"`
			TargetMilli      int64    `json:"targetMilli"`
			ScaleUpTolerance *float64 `json:"scaleUpTolerance"`
			ExpectedReplicas int32    `json:"expectedReplicas"`
		} `json:"TestReplicaCalcExternalPerPodMetric"`
	}
	loadUpstream(t, "kubernetes-replica_calculator_test.json", &rc)
	for _, tc := range rc.External {
		t.Run("TestReplicaCalcExternalMetric/"+tc.Name, func(t *testing.T) {
			tol := defaultTolerances()
			if tc.ScaleUpTolerance != nil {
				tol.up = *tc.ScaleUpTolerance
			}
			m := hpaMetric{targetType: autoscalingv2.ValueMetricType, valueMilli: sumMilli(tc.LevelsMilli), targetMilli: tc.TargetMilli}
			if got := metricProposal(m, tc.CurrentReplicas, tc.ReadyPods, tol); got != tc.ExpectedReplicas {
				t.Errorf("proposal %d, upstream %d", got, tc.ExpectedReplicas)
			}
		})
	}
	for _, tc := range rc.PerPod {
		t.Run("TestReplicaCalcExternalPerPodMetric/"+tc.Name, func(t *testing.T) {
			tol := defaultTolerances()
			if tc.ScaleUpTolerance != nil {
				tol.up = *tc.ScaleUpTolerance
			}
			m := hpaMetric{targetType: autoscalingv2.AverageValueMetricType, valueMilli: sumMilli(tc.LevelsMilli), targetMilli: tc.TargetMilli}
			if got := metricProposal(m, tc.CurrentReplicas, tc.CurrentReplicas, tol); got != tc.ExpectedReplicas {
				t.Errorf("proposal %d, upstream %d", got, tc.ExpectedReplicas)
			}
		})
	}
}

func defaultTolerances() tolerances { return (*effectiveBehavior)(nil).tolerances() }

// sumMilli adds metric values as the replica calculator does, capping at MaxInt64.
func sumMilli(xs []int64) int64 {
	var s int64
	for _, x := range xs {
		if x > 0 && s > math.MaxInt64-x {
			return math.MaxInt64
		}
		s += x
	}
	return s
}

// TestUpstreamScaledJobStrategies runs scale_jobs_test.go's strategy and minReplicaCount cases.
func TestUpstreamScaledJobStrategies(t *testing.T) {
	var data struct {
		Strategies []struct {
			Test       string  `json:"test"`
			Strategy   string  `json:"strategy"`
			Deduction  *int32  `json:"deduction"`
			Percentage *string `json:"percentage"`
			Comment    string  `json:"comment"`
			Args       []int64 `json:"args"`
			Want       []int64 `json:"want"`
		} `json:"strategies"`
		Min []struct {
			Test                  string `json:"test"`
			MinReplicaCount       int32  `json:"minReplicaCount"`
			Running               int64  `json:"running"`
			ScaleTo               int64  `json:"scaleTo"`
			MaxScale              int64  `json:"maxScale"`
			Pending               int64  `json:"pending"`
			WantEffectiveMaxScale int64  `json:"wantEffectiveMaxScale"`
			WantScaleTo           int64  `json:"wantScaleTo"`
		} `json:"minReplicaCount"`
	}
	loadUpstream(t, "keda-scale_jobs_test.json", &data)
	for _, tc := range data.Strategies {
		t.Run(tc.Test+"/"+tc.Comment, func(t *testing.T) {
			s := JobScalingStrategy{Strategy: tc.Strategy, CustomScalingQueueLengthDeduction: tc.Deduction}
			if tc.Percentage != nil {
				s.CustomScalingRunningJobPercentage = *tc.Percentage
			}
			a := tc.Args
			effMax, scaleTo := jobStrategyEffectiveMax(s, a[0], a[1], a[2], a[3], a[4])
			if effMax != tc.Want[0] || (len(tc.Want) > 1 && scaleTo != tc.Want[1]) {
				t.Errorf("GetEffectiveMaxScale%v = (%d, %d), upstream %v", a, effMax, scaleTo, tc.Want)
			}
		})
	}
	for _, tc := range data.Min {
		t.Run(tc.Test, func(t *testing.T) {
			// One trigger with target 1 gives queue length scaleTo and max value maxScale
			// (the test's maxScale equals its scaleTo, or both are 0).
			d := DecideJobs(ScaledJobInput{
				Triggers:        []JobTrigger{{Name: "q", Value: float64(tc.ScaleTo), Target: 1, Active: true}},
				RunningJobs:     tc.Running,
				PendingJobs:     tc.Pending,
				MinReplicaCount: &tc.MinReplicaCount,
			})
			want := min(tc.WantScaleTo, tc.WantEffectiveMaxScale)
			if d.JobsToCreate != want {
				t.Errorf("creates %d, upstream effectiveMaxScale %d scaleTo %d (%s)", d.JobsToCreate, tc.WantEffectiveMaxScale, tc.WantScaleTo, d.Reason)
			}
		})
	}
}

// TestUpstreamFallback runs fallback_test.go's specs through DecideTotal: one AverageValue
// trigger, read or failing, with the stored failure count and the fallback as given.
func TestUpstreamFallback(t *testing.T) {
	var data struct {
		Cases []struct {
			Name     string `json:"name"`
			Skip     string `json:"skip"`
			Fallback *struct {
				FailureThreshold int32            `json:"failureThreshold"`
				Replicas         int32            `json:"replicas"`
				Behavior         FallbackBehavior `json:"behavior"`
			} `json:"fallback"`
			StoredFailures  *int32  `json:"storedFailures"`
			ReadError       bool    `json:"readError"`
			Value           float64 `json:"value"`
			AverageValue    float64 `json:"averageValue"`
			CurrentReplicas int32   `json:"currentReplicas"`
			Want            struct {
				Error             bool                    `json:"error"`
				Value             *float64                `json:"value"`
				Failures          *int32                  `json:"failures"`
				FallbackCondition *metav1.ConditionStatus `json:"fallbackCondition"`
			} `json:"want"`
		} `json:"cases"`
	}
	loadUpstream(t, "keda-fallback_test.json", &data)
	for _, tc := range data.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			if tc.Skip != "" {
				t.Skip(tc.Skip)
			}
			current := max(tc.CurrentReplicas, 1)
			in := ScaledObjectInput{
				Triggers:        []Trigger{{Name: "metric", Value: tc.Value, Target: tc.AverageValue}},
				CurrentReplicas: current, ReadyReplicas: current,
				MaxReplicaCount: ptr(int32(100)),
				CreationTime:    t0.Add(-time.Hour),
			}
			if tc.ReadError {
				in.Triggers[0].Err = errors.New("some error")
			}
			if tc.StoredFailures != nil {
				in.State.TriggerFailures = map[string]int32{"metric": *tc.StoredFailures}
			}
			if f := tc.Fallback; f != nil {
				in.Fallback = &Fallback{FailureThreshold: f.FailureThreshold, Replicas: f.Replicas, Behavior: f.Behavior}
			}
			d, err := DecideTotal(in, t0)
			if err != nil {
				t.Fatalf("DecideTotal: %v", err)
			}
			// The error reaches the HPA unless the fallback replaced the value (the read error
			// stays in the trigger's status for display).
			st := d.Triggers[0]
			if gotErr := st.Error != "" && !st.FallbackActive; gotErr != tc.Want.Error {
				t.Errorf("error %q, upstream error=%v", st.Error, tc.Want.Error)
			}
			if tc.Want.Value != nil && st.Value != *tc.Want.Value {
				t.Errorf("metric value %v, upstream %v", st.Value, *tc.Want.Value)
			}
			if tc.Want.Failures != nil && d.State.TriggerFailures["metric"] != *tc.Want.Failures {
				t.Errorf("failures %d, upstream %d", d.State.TriggerFailures["metric"], *tc.Want.Failures)
			}
			if tc.Want.FallbackCondition != nil && d.Conditions.Fallback.Status != *tc.Want.FallbackCondition {
				t.Errorf("Fallback condition %s, upstream %s", d.Conditions.Fallback.Status, *tc.Want.FallbackCondition)
			}
		})
	}
}

// TestUpstreamScaleExecutor runs scale_scaledobjects_test.go's RequestScale cases through
// DecideTotal. isActive is a trigger whose value keeps the HPA where it is; isError adds a
// failing trigger.
func TestUpstreamScaleExecutor(t *testing.T) {
	var data struct {
		Cases []struct {
			Name             string            `json:"name"`
			MinReplicaCount  *int32            `json:"minReplicaCount"`
			IdleReplicaCount *int32            `json:"idleReplicaCount"`
			CurrentReplicas  int32             `json:"currentReplicas"`
			IsActive         bool              `json:"isActive"`
			IsError          bool              `json:"isError"`
			Annotations      map[string]string `json:"annotations"`
			Want             struct {
				Replicas        int32  `json:"replicas"`
				ActiveCondition string `json:"activeCondition"`
				ActiveReason    string `json:"activeReason"`
				ActiveMessage   string `json:"activeMessage"`
				LastActiveTime  bool   `json:"lastActiveTime"`
				PausedCondition string `json:"pausedCondition"`
				ReadyCondition  string `json:"readyCondition"`
				ReadyReason     string `json:"readyReason"`
			} `json:"want"`
		} `json:"cases"`
	}
	loadUpstream(t, "keda-scale_scaledobjects_test.json", &data)
	for _, tc := range data.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			value := 0.0
			if tc.IsActive {
				value = float64(max(tc.CurrentReplicas, 1))
			}
			pause, err := PauseFromAnnotations(tc.Annotations)
			if err != nil {
				t.Fatal(err)
			}
			in := ScaledObjectInput{
				Triggers:         []Trigger{{Name: "active", Value: value, Target: 1}},
				CurrentReplicas:  tc.CurrentReplicas,
				ReadyReplicas:    tc.CurrentReplicas,
				MinReplicaCount:  tc.MinReplicaCount,
				IdleReplicaCount: tc.IdleReplicaCount,
				Pause:            pause,
				ForceActivation:  ForceActivation(tc.Annotations),
				CreationTime:     t0.Add(-time.Hour),
			}
			if tc.IsError {
				in.Triggers = append(in.Triggers, Trigger{Name: "failing", Target: 1, Err: errors.New("some error")})
			}
			d, err := DecideTotal(in, t0)
			if err != nil {
				t.Fatalf("DecideTotal: %v", err)
			}
			w := tc.Want
			if d.DesiredReplicas != w.Replicas {
				t.Errorf("replicas %d, upstream %d (%s)", d.DesiredReplicas, w.Replicas, d.Reason)
			}
			switch a := d.Conditions.Active; {
			case w.ActiveCondition == "unchanged" && a.Status != "":
				t.Errorf("Active set to %s; upstream returns before it touches Active", a.Status)
			case w.ActiveCondition != "" && w.ActiveCondition != "unchanged" && string(a.Status) != w.ActiveCondition:
				t.Errorf("Active %s, upstream %s", a.Status, w.ActiveCondition)
			case w.ActiveReason != "" && (a.Reason != w.ActiveReason || a.Message != w.ActiveMessage):
				t.Errorf("Active %s %q, upstream %s %q", a.Reason, a.Message, w.ActiveReason, w.ActiveMessage)
			}
			if w.LastActiveTime && (d.State.LastActiveTime == nil || !d.State.LastActiveTime.Time.Equal(t0)) {
				t.Errorf("lastActiveTime %v, upstream sets it now", d.State.LastActiveTime)
			}
			if w.PausedCondition != "" && string(d.Conditions.Paused.Status) != w.PausedCondition {
				t.Errorf("Paused %s, upstream %s", d.Conditions.Paused.Status, w.PausedCondition)
			}
			if w.ReadyCondition != "" && (string(d.Conditions.Ready.Status) != w.ReadyCondition || d.Conditions.Ready.Reason != w.ReadyReason) {
				t.Errorf("Ready %s/%s, upstream %s/%s", d.Conditions.Ready.Status, d.Conditions.Ready.Reason, w.ReadyCondition, w.ReadyReason)
			}
		})
	}
}
