package autoscaling

import (
	"fmt"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// compileFormula reproduces KEDA's ValidateAndCompileScalingModifiers
// (apis/keda/v1alpha1/scaledobject_webhook.go): the formula is cast to float
// (a ternary would otherwise return an int), compiled against the named
// triggers, and run once with dummy values so that a formula that can never
// run is rejected up front.
func compileFormula(formula string, triggerNames []string) (*vm.Program, error) {
	if strings.TrimSpace(formula) == "" {
		return nil, fmt.Errorf("%w: scalingModifiers.formula is empty", ErrInvalidSpec)
	}
	dummy := make(map[string]float64, len(triggerNames))
	for _, name := range triggerNames {
		dummy[name] = -1
	}
	program, err := expr.Compile(castFormulaToFloat(formula), expr.Env(dummy))
	if err != nil {
		return nil, fmt.Errorf("%w: scalingModifiers.formula: %w", ErrInvalidSpec, err)
	}
	if _, err := expr.Run(program, dummy); err != nil {
		return nil, fmt.Errorf("%w: scalingModifiers.formula: %w", ErrInvalidSpec, err)
	}
	return program, nil
}

// castFormulaToFloat is KEDA's castToFloatIfNecessary. A formula using "??"
// may legitimately yield nil, so it is only cast when it is not nil.
func castFormulaToFloat(formula string) string {
	if strings.Contains(formula, "??") {
		if strings.HasPrefix(formula, "let _kedaCompositeResult = ") {
			return formula
		}
		return fmt.Sprintf("let _kedaCompositeResult = (%s); _kedaCompositeResult == nil ? nil : float(_kedaCompositeResult)", formula)
	}
	if strings.HasPrefix(formula, "float(") {
		return formula
	}
	return "float(" + formula + ")"
}

// runFormula evaluates the compiled formula over trigger name → value, as
// KEDA's calculateScalingModifiersFormula does. isNil reports a nil result
// (possible with "??"), which KEDA replaces by the fallback replicas.
func runFormula(program *vm.Program, values map[string]float64) (result float64, isNil bool, err error) {
	env := make(map[string]any, len(values))
	for name, v := range values {
		env[name] = v
	}
	out, err := expr.Run(program, env)
	if err != nil {
		return 0, false, fmt.Errorf("running scalingModifiers.formula: %w", err)
	}
	if out == nil {
		return 0, true, nil
	}
	f, ok := out.(float64)
	if !ok {
		return 0, false, fmt.Errorf("scalingModifiers.formula returned %T (%v), not a number", out, out)
	}
	return f, false, nil
}
