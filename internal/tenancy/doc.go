// Package tenancy decides what a DistributedScaledObject or DistributedScaledJob in one hub
// namespace may do, from the hub admin's TenantPolicies: which member namespaces it may act
// on (by default only its own), which ClusterTriggerAuthentications its triggers may use (by
// default none), which addresses its `external` triggers may dial (by default any), and which
// Pod Security level a DSJ's Job pod template must meet (by default baseline, checked with
// the upstream Pod Security admission evaluator).
//
// Compile and Rules are pure: they take the policies and a namespace's labels and do no I/O.
// Every refusal is a *Refusal naming what was refused and which TenantPolicy setting would
// allow it. Checker reads the policies through a client.Reader (the manager's cache) for the
// reconcilers and for the trigger code (internal/scalers' Policy hook).
package tenancy
