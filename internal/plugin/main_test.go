package plugin

import (
	"os"
	"testing"

	"github.com/fleetscale/fleetscale/internal/clusterenv"
)

// One environment for the package's integration tests: a hub with fleetscale's CRDs and two
// members, apiservers only (setup-member needs no controllers). It starts with the first
// test that asks for it, so the pure tests run without it.
var shared = clusterenv.NewShared(clusterenv.Options{Members: 2, CRDDir: "../../config/crd/bases"})

func TestMain(m *testing.M) { os.Exit(shared.Main(m)) }

// envFor returns the shared environment, or skips the test under -short.
func envFor(t *testing.T) *clusterenv.Env {
	t.Helper()
	if testing.Short() {
		t.Skip("starts kube-apiservers; skipped with -short")
	}
	return shared.Env(t)
}
