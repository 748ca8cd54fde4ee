// Package memory checks that the hub controller's memory does not grow with hub objects it
// has no use for (issue 11, item 4): the real fleetscale-controller binary runs against a hub
// and one member while 2,000 unrelated 100 KiB Secrets are created in the hub, and its
// VmRSS (/proc/<pid>/status) must move by less than 20 MiB; a ConfigMap change still reaches
// the member (one metadata watch event, then one direct GET of that ConfigMap).
//
// The controller binary comes from the repository's bin/ (make test builds it first); the
// package fails at once, saying so, when it is missing.
package memory
