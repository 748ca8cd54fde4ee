package autoscaling

import (
	"errors"
	"math"
	"strconv"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

// FuzzPauseFromAnnotations: any annotation values give a Pause or an ErrInvalidSpec error,
// and paused-replicas, when accepted, is the non-negative 32-bit integer written.
func FuzzPauseFromAnnotations(f *testing.F) {
	f.Add("true", "3", "false", "")
	f.Add("", "-1", "yes", "1")
	f.Add("false", "99999999999", "", "")
	f.Add("x", " 4", "True", "0")
	f.Fuzz(func(t *testing.T, paused, replicas, scaleIn, scaleOut string) {
		ann := map[string]string{}
		for k, v := range map[string]string{AnnotationPaused: paused, AnnotationPausedReplicas: replicas,
			AnnotationPausedScaleIn: scaleIn, AnnotationPausedScaleOut: scaleOut} {
			if v != "" {
				ann[k] = v
			}
		}
		p, err := PauseFromAnnotations(ann)
		if err != nil {
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("error %v does not wrap ErrInvalidSpec", err)
			}
			return
		}
		if p.Replicas != nil && *p.Replicas < 0 {
			t.Fatalf("negative paused replicas %d from %q", *p.Replicas, replicas)
		}
		// KEDA: present and not a valid boolean counts as true.
		v, perr := strconv.ParseBool(paused)
		if want := paused != "" && (perr != nil || v); p.Paused != want {
			t.Fatalf("paused=%q gave %v", paused, p.Paused)
		}
	})
}

// FuzzScalingModifiers: any formula, target and activation target either are refused with
// ErrInvalidSpec (keeping the total) or give a total within [min, max] from a finite target
// of at least 0.001.
func FuzzScalingModifiers(f *testing.F) {
	f.Add("a + b", "2", "", 10.0, 4.0)
	f.Add("a ?? b", "0.001", "1", 1.0, 0.0)
	f.Add("a > 5 ? b : a", "0.0001", "-3", 1e300, -1e300)
	f.Add("sum(map(1..100, #))", "1e-3", "x", 0.0, 0.0)
	f.Add("float(a) / 0", "5", "0", 3.0, 3.0)
	f.Add("let x = a; x * 2", "NaN", "", 2.0, 1.0)
	f.Fuzz(func(t *testing.T, formula, target, activation string, a, b float64) {
		if len(formula) > 4096 || len(target) > 64 || len(activation) > 64 {
			return // the CRD's maxLength
		}
		in := ScaledObjectInput{
			Triggers:         []Trigger{{Name: "a", Value: a, Target: 1}, {Name: "b", Value: b, Target: 1}},
			ScalingModifiers: &ScalingModifiers{Formula: formula, Target: target, ActivationTarget: activation},
			CurrentReplicas:  3, ReadyReplicas: 3, MaxReplicaCount: ptr(int32(50)),
		}
		d, err := DecideTotal(in, t0)
		if err != nil {
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("error %v does not wrap ErrInvalidSpec", err)
			}
			if d.DesiredReplicas != 3 {
				t.Fatalf("an invalid spec changed the total to %d", d.DesiredReplicas)
			}
			return
		}
		if d.DesiredReplicas < 0 || d.DesiredReplicas > 50 {
			t.Fatalf("total %d outside [0, 50]: %s", d.DesiredReplicas, d.Reason)
		}
		for _, s := range d.Triggers {
			if s.Name == CompositeMetricName && (!(s.Target >= 0.001) || math.IsInf(s.Target, 0)) {
				t.Fatalf("accepted target %v from %q", s.Target, target)
			}
		}
	})
}

// FuzzBehavior: any behavior is either refused as the HPA API refuses it, or evaluated to a
// total within [min, max].
func FuzzBehavior(f *testing.F) {
	f.Add(int32(0), int32(300), uint8(0), uint8(0), int32(4), int32(15), uint8(1), int32(100), int32(15), true, false)
	f.Add(int32(-1), int32(3601), uint8(3), uint8(2), int32(0), int32(0), uint8(7), int32(-5), int32(1801), false, true)
	f.Add(int32(3600), int32(0), uint8(1), uint8(1), int32(1), int32(1800), uint8(0), int32(1), int32(1), true, true)
	f.Fuzz(func(t *testing.T, upWindow, downWindow int32, upSel, downSel uint8, v1, p1 int32, typ uint8, v2, p2 int32, emptyUp, noDown bool) {
		selects := []autoscalingv2.ScalingPolicySelect{"", autoscalingv2.MaxChangePolicySelect, autoscalingv2.MinChangePolicySelect, autoscalingv2.DisabledPolicySelect, "Other"}
		types := []autoscalingv2.HPAScalingPolicyType{autoscalingv2.PodsScalingPolicy, autoscalingv2.PercentScalingPolicy, "Nodes"}
		up := rules(upWindow, selects[int(upSel)%len(selects)], autoscalingv2.HPAScalingPolicy{Type: types[int(typ)%len(types)], Value: v1, PeriodSeconds: p1})
		if emptyUp {
			up.Policies = []autoscalingv2.HPAScalingPolicy{}
		}
		b := &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: up}
		if !noDown {
			b.ScaleDown = rules(downWindow, selects[int(downSel)%len(selects)], percent(v2, p2))
		}
		in := ScaledObjectInput{Triggers: []Trigger{{Name: "a", Value: 50, Target: 5}}, CurrentReplicas: 3, ReadyReplicas: 3,
			MinReplicaCount: ptr(int32(1)), MaxReplicaCount: ptr(int32(20)), Behavior: b}
		d, err := DecideTotal(in, t0)
		verr := validateBehavior(b)
		if (err != nil) != (verr != nil) {
			t.Fatalf("DecideTotal %v, validateBehavior %v", err, verr)
		}
		if err != nil {
			if d.DesiredReplicas != 3 {
				t.Fatalf("an invalid behavior changed the total to %d", d.DesiredReplicas)
			}
			return
		}
		if d.DesiredReplicas < 1 || d.DesiredReplicas > 20 {
			t.Fatalf("total %d outside [1, 20]: %s", d.DesiredReplicas, d.Reason)
		}
	})
}
