package scalers

import (
	"os"
	"testing"
)

// TestMain stops the servers tests started (Prometheus).
func TestMain(m *testing.M) {
	code := m.Run()
	stopPrometheus()
	os.Exit(code)
}
