package scalers

import (
	"context"
	"fmt"
	"net"
	"net/url"
)

// Policy is the hub admin's say over what triggers may reach; nil allows everything.
// internal/tenancy implements it from the cluster-scoped admin policy; a denial is reported
// on the object as a spec problem (Ready=False, InvalidSpec) and nothing is read.
type Policy interface {
	// AllowClusterTriggerAuthentication: may objects in hub namespace ns use this ClusterTriggerAuthentication?
	AllowClusterTriggerAuthentication(ctx context.Context, namespace, name string) error
	// AllowExternalAddress: may a trigger of an object in ns dial address (host:port)?
	AllowExternalAddress(ctx context.Context, namespace, address string) error
}

// allowURL asks the Policy whether the object's namespace may dial the host:port of an HTTP
// trigger's URL (prometheus serverAddress, metrics-api url): the same say the admin has over
// external scalers, so a tenant cannot make the controller probe addresses it may not reach.
func allowURL(ctx context.Context, cfg Config, key, raw string) error {
	if cfg.Policy == nil {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil // the metadata check reports it
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	address := net.JoinHostPort(u.Hostname(), port)
	if err := cfg.Policy.AllowExternalAddress(ctx, cfg.Namespace, address); err != nil {
		return &NotAllowedError{What: fmt.Sprintf("%s %s", key, address), Err: err}
	}
	return nil
}
