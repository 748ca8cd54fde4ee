// Package e2e replays the reference walkthrough end to end with the real binaries as
// processes: fleetscale-controller, kubectl fleetscale, kubectl and fleetscale-dev, against a
// hub and three full members started by internal/clusterenv. The steps and their expected
// states are internal/demo's, the same that `make demo` plays.
//
// The binaries come from the repository's bin/ (make test builds them first); the test fails
// at once, saying so, when one is missing.
package e2e
