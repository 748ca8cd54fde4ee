// Package bench holds benchmarks that need more than one test package's fleet, starting
// their own clusters. BenchmarkKEDAvsFleetscale runs real KEDA (operator and metrics API
// server, built by `make keda-bins`) next to fleetscale on one harness cluster with
// kube-controller-manager's HPA, applies the same kubernetes-resource ConfigMap change to a
// KEDA ScaledObject and to a DistributedScaledObject, and reports how long each takes until
// its Deployment's spec.replicas changes (docs/benchmarks.md, section KEDA).
// BenchmarkFleetAtScale runs 1,000 DSOs over 10 apiserver-only members with the real
// controller: cold start, steady-state writes, CPU, RSS and reaction times under load.
//
// Nothing here runs in `make test` beyond a few pure unit tests: run `make bench`, or
//
//	go test -run '^$' -bench KEDAvsFleetscale -benchtime 1x -timeout 30m ./test/bench/
//
// It needs root (it creates a network namespace and a veth pair for KEDA's metrics server,
// whose EndpointSlice address may not be loopback) and iproute2's ip.
package bench
