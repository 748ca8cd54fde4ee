//go:build tools

// Package tools pins the KEDA commands that hack/keda-bins.sh builds: the operator (with its
// scalers) and the external metrics API server (the adapter). It lives in its own module so
// KEDA's scalers never enter the project's module graph.
package tools

import (
	_ "github.com/kedacore/keda/v2/cmd/adapter"
	_ "github.com/kedacore/keda/v2/cmd/operator"
)
