// Package badinput holds the bad-input table: manifests, trigger metadata, ConfigMap values,
// annotations, kubeconfig Secrets and plugin flags, each with the rejection or condition it
// must produce on a real hub and member, and a check that nothing changed in the member. It
// also holds the "bounded work" tests: a DistributedScaledJob asking for 2³¹−1 Jobs leaves the
// controller alive and the other objects scaling.
//
// The package has only tests; this file gives it a name.
package badinput
