package autoscaling

import (
	"fmt"
	"strconv"
)

// KEDA's pause annotations (apis/keda/v1alpha1/scaledobject_types.go).
const (
	AnnotationPaused         = "autoscaling.keda.sh/paused"
	AnnotationPausedReplicas = "autoscaling.keda.sh/paused-replicas"
	AnnotationPausedScaleIn  = "autoscaling.keda.sh/paused-scale-in"
	AnnotationPausedScaleOut = "autoscaling.keda.sh/paused-scale-out"
	// AnnotationForceActivation makes a ScaledObject active whatever its
	// triggers read (apis/keda/v1alpha1 ForceActivationAnnotation).
	AnnotationForceActivation = "autoscaling.keda.sh/force-activation"
)

// ForceActivation reads the force-activation annotation as KEDA's
// NeedToForceActivation does: present and not a valid boolean counts as true.
func ForceActivation(annotations map[string]string) bool {
	return boolAnnotation(annotations, AnnotationForceActivation)
}

// Pause is what the pause annotations ask for.
type Pause struct {
	// Paused freezes the total where it is.
	Paused bool
	// Replicas, when set, pins the total to this count (it wins over Paused and
	// may lie outside [min, max]).
	Replicas *int32
	// ScaleIn and ScaleOut block one direction while scaling continues.
	ScaleIn  bool
	ScaleOut bool
}

// frozen reports whether scaling stops altogether (KEDA deletes the HPA).
func (p Pause) frozen() bool { return p.Paused || p.Replicas != nil }

// PauseFromAnnotations reads the pause annotations the way KEDA does: a
// boolean annotation that is present but not a valid boolean counts as true,
// and paused-replicas must be a 32-bit integer.
func PauseFromAnnotations(annotations map[string]string) (Pause, error) {
	p := Pause{
		Paused:   boolAnnotation(annotations, AnnotationPaused),
		ScaleIn:  boolAnnotation(annotations, AnnotationPausedScaleIn),
		ScaleOut: boolAnnotation(annotations, AnnotationPausedScaleOut),
	}
	if raw, ok := annotations[AnnotationPausedReplicas]; ok {
		n, err := strconv.ParseInt(raw, 10, 32)
		if err != nil {
			return Pause{}, fmt.Errorf("%w: annotation %s=%q: %w", ErrInvalidSpec, AnnotationPausedReplicas, raw, err)
		}
		if n < 0 {
			return Pause{}, fmt.Errorf("%w: annotation %s=%q must not be negative", ErrInvalidSpec, AnnotationPausedReplicas, raw)
		}
		replicas := int32(n)
		p.Replicas = &replicas
	}
	return p, nil
}

func boolAnnotation(annotations map[string]string, key string) bool {
	raw, ok := annotations[key]
	if !ok {
		return false
	}
	v, err := strconv.ParseBool(raw)
	if err != nil {
		return true
	}
	return v
}
