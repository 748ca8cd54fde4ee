package scalers

import "context"

// Policy is the hub admin's say over what triggers may reach; nil allows everything.
// internal/tenancy implements it from the cluster-scoped admin policy; a denial is reported
// on the object as a spec problem (Ready=False, InvalidSpec) and nothing is read.
type Policy interface {
	// AllowClusterTriggerAuthentication: may objects in hub namespace ns use this ClusterTriggerAuthentication?
	AllowClusterTriggerAuthentication(ctx context.Context, namespace, name string) error
	// AllowExternalAddress: may a trigger of an object in ns dial address (host:port)?
	AllowExternalAddress(ctx context.Context, namespace, address string) error
}
