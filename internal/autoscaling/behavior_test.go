package autoscaling

import (
	"errors"
	"math"
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestValidateBehaviorAsTheHPAAPI(t *testing.T) {
	sel := func(s string) *autoscalingv2.ScalingPolicySelect {
		p := autoscalingv2.ScalingPolicySelect(s)
		return &p
	}
	window := func(w int32) *autoscalingv2.HPAScalingRules {
		return &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &w}
	}
	neg := resource.MustParse("-0.1")
	for _, tc := range []struct {
		name    string
		b       *autoscalingv2.HorizontalPodAutoscalerBehavior
		wantErr string
	}{
		{name: "none"},
		{name: "empty", b: &autoscalingv2.HorizontalPodAutoscalerBehavior{}},
		{name: "only a stabilisation window (the policies default)", b: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: window(60)}},
		{name: "window 0 and 3600", b: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: window(0), ScaleDown: window(3600)}},
		{name: "full", b: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(30, autoscalingv2.MinChangePolicySelect, pods(4, 15), percent(100, 1800))}},
		{name: "window above an hour", b: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: window(3601)},
			wantErr: "behavior.scaleDown.stabilizationWindowSeconds 3601 must be between 0 and 3600"},
		{name: "negative window", b: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: window(-1)},
			wantErr: "behavior.scaleUp.stabilizationWindowSeconds -1 must be between 0 and 3600"},
		{name: "unknown selectPolicy", b: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: &autoscalingv2.HPAScalingRules{SelectPolicy: sel("Largest")}},
			wantErr: `behavior.scaleUp.selectPolicy "Largest" must be Max, Min or Disabled`},
		{name: "empty policies list", b: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{Policies: []autoscalingv2.HPAScalingPolicy{}}},
			wantErr: "behavior.scaleDown.policies must list at least one policy"},
		{name: "period 0", b: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(0, "", pods(1, 0))},
			wantErr: "behavior.scaleUp.policies[0].periodSeconds 0 must be between 1 and 1800"},
		{name: "period above 30 minutes", b: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(0, "", pods(1, 15), percent(10, 1801))},
			wantErr: "behavior.scaleUp.policies[1].periodSeconds 1801 must be between 1 and 1800"},
		{name: "value 0", b: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: rules(0, "", percent(0, 15))},
			wantErr: "behavior.scaleDown.policies[0].value 0 must be greater than 0"},
		{name: "unknown policy type", b: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: rules(0, "", autoscalingv2.HPAScalingPolicy{Type: "Nodes", Value: 1, PeriodSeconds: 1})},
			wantErr: `behavior.scaleDown.policies[0].type "Nodes" must be Pods or Percent`},
		{name: "negative tolerance", b: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: &autoscalingv2.HPAScalingRules{Tolerance: &neg}},
			wantErr: "behavior.scaleUp.tolerance -100m must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := validateBehavior(tc.b)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want %q", err, tc.wantErr)
			case err != nil && !errors.Is(err, ErrInvalidSpec):
				t.Fatalf("%v does not wrap ErrInvalidSpec", err)
			}
			// DecideTotal reports the same, and keeps the total.
			in := ScaledObjectInput{Triggers: []Trigger{{Name: "a", Value: 50, Target: 5}}, CurrentReplicas: 3, ReadyReplicas: 3, Behavior: tc.b}
			d, err := DecideTotal(in, t0)
			if (err != nil) != (tc.wantErr != "") {
				t.Fatalf("DecideTotal: %v", err)
			}
			if err != nil && d.DesiredReplicas != 3 {
				t.Fatalf("an invalid behavior changed the total to %d", d.DesiredReplicas)
			}
		})
	}
}

func TestScalingModifiersTargetThatRoundsToZero(t *testing.T) {
	for _, tc := range []struct {
		target  string
		wantErr bool
	}{
		{"0.001", false}, {"1e-3", false}, {"2", false},
		{"0.0009", true}, {"0.0001", true}, {"1e-300", true}, {"0", true}, {"-1", true}, {"", true}, {"NaN", true}, {"Inf", true}, {"x", true},
	} {
		in := ScaledObjectInput{
			Triggers:         []Trigger{{Name: "a", Value: 50, Target: 5}},
			ScalingModifiers: &ScalingModifiers{Formula: "a", Target: tc.target},
			CurrentReplicas:  3, ReadyReplicas: 3,
		}
		_, err := DecideTotal(in, t0)
		if (err != nil) != tc.wantErr {
			t.Errorf("target %q: %v", tc.target, err)
		}
		if err != nil && !strings.Contains(err.Error(), "must be a number of at least 0.001") {
			t.Errorf("target %q: message %q", tc.target, err)
		}
	}
}

func TestSumReplicasSaturates(t *testing.T) {
	if got := SumReplicas(math.MaxInt32, math.MaxInt32, 5); got != math.MaxInt32 {
		t.Errorf("sum = %d", got)
	}
	if got := SumReplicas(math.MinInt32, -1); got != math.MinInt32 {
		t.Errorf("sum = %d", got)
	}
	if got := SumReplicas(1, 2, 3); got != 6 {
		t.Errorf("sum = %d", got)
	}
	if got := ClampReplicas(math.MaxInt64); got != math.MaxInt32 {
		t.Errorf("clamp = %d", got)
	}
}
