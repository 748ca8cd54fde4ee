// Package adapter tests fleetscale-keda-scalers end to end: the real binary from bin/ (make
// build builds it through hack/keda-scalers.sh), running with a hub ServiceAccount that has
// only the adapter's RBAC, a real redis-server (Debian's redis-server package), and the
// controller of a fleettest fleet (hub + two members) sending `type: redis` triggers to it
// through --external-scaler-address.
package adapter
