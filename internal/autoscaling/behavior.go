package autoscaling

import (
	"fmt"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

// The HPA API's limits (k8s.io/kubernetes pkg/apis/autoscaling/validation).
const (
	maxStabilizationWindowSeconds = 3600
	maxPeriodSeconds              = 1800
)

// validateBehavior reproduces the HPA API's validateBehavior as it applies after the API's
// defaulting: a rules block may leave fields out (a missing policies list takes the
// defaults, so a block with only a stabilisation window is valid), but a field that is set
// must be in range, and a policies list that is set must not be empty. The CRD holds the same
// rules in CEL; this check covers objects stored before them.
func validateBehavior(b *autoscalingv2.HorizontalPodAutoscalerBehavior) error {
	if b == nil {
		return nil
	}
	for _, dir := range []struct {
		name  string
		rules *autoscalingv2.HPAScalingRules
	}{{"scaleUp", b.ScaleUp}, {"scaleDown", b.ScaleDown}} {
		r := dir.rules
		if r == nil {
			continue
		}
		path := "behavior." + dir.name
		if w := r.StabilizationWindowSeconds; w != nil && (*w < 0 || *w > maxStabilizationWindowSeconds) {
			return fmt.Errorf("%w: %s.stabilizationWindowSeconds %d must be between 0 and %d", ErrInvalidSpec, path, *w, maxStabilizationWindowSeconds)
		}
		if p := r.SelectPolicy; p != nil {
			switch *p {
			case autoscalingv2.MaxChangePolicySelect, autoscalingv2.MinChangePolicySelect, autoscalingv2.DisabledPolicySelect:
			default:
				return fmt.Errorf("%w: %s.selectPolicy %q must be Max, Min or Disabled", ErrInvalidSpec, path, *p)
			}
		}
		if r.Policies != nil && len(r.Policies) == 0 {
			return fmt.Errorf("%w: %s.policies must list at least one policy when set (leave it out for the defaults)", ErrInvalidSpec, path)
		}
		for i, p := range r.Policies {
			switch {
			case p.Type != autoscalingv2.PodsScalingPolicy && p.Type != autoscalingv2.PercentScalingPolicy:
				return fmt.Errorf("%w: %s.policies[%d].type %q must be Pods or Percent", ErrInvalidSpec, path, i, p.Type)
			case p.Value <= 0:
				return fmt.Errorf("%w: %s.policies[%d].value %d must be greater than 0", ErrInvalidSpec, path, i, p.Value)
			case p.PeriodSeconds <= 0 || p.PeriodSeconds > maxPeriodSeconds:
				return fmt.Errorf("%w: %s.policies[%d].periodSeconds %d must be between 1 and %d", ErrInvalidSpec, path, i, p.PeriodSeconds, maxPeriodSeconds)
			}
		}
		if t := r.Tolerance; t != nil && t.Sign() < 0 {
			return fmt.Errorf("%w: %s.tolerance %s must not be negative", ErrInvalidSpec, path, t.String())
		}
	}
	return nil
}
