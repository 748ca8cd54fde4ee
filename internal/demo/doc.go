// Package demo plays the reference multi-cluster walkthrough on local clusters: the nine
// steps (Walkthrough) with what the walkthrough says, the command lines we run for it and the
// state that must then hold, and a Runner that runs those command lines as processes (kubectl,
// kubectl fleetscale, fleetscale-dev, fleetscale-controller), waits for each expected state
// while showing the per-member view (internal/statusview), and fails naming the step whose
// state did not come.
//
// `make demo` (cmd/fleetscale-demo) plays it on an environment it starts with fleetscale-dev
// up; the end-to-end test (test/e2e) plays the same steps on an environment it starts with
// internal/clusterenv, so both check the same outcomes.
//
// Two shortcuts, narrated where they apply: the DSO's grace period is patched from 1m to
// GracePeriod, and a Job's pod succeeds after JobPodDuration (kwok runs no containers).
// Everything else applies the walkthrough's manifests verbatim (internal/demo/manifests, embedded).
package demo
