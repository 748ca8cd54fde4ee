// Package helm tests how fleetscale is packaged for a real hub. The Helm chart
// charts/fleetscale is rendered with the Helm SDK as `helm install` renders it and checked
// (replicas, leader election, non-root pods, probes, RBAC equal to the generated
// config/rbac/role.yaml, CRDs equal to config/crd/bases); every object is applied with a
// server-side dry run to a real kube-apiserver; and the controller runs with the chart's
// arguments under the chart's ServiceAccount to prove the RBAC is enough. The krew manifest
// template hack/krew/fleetscale.yaml is rendered as krew-release-bot renders it.
package helm
