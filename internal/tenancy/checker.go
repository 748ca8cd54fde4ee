package tenancy

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

// Checker reads the TenantPolicies (and, when a policy selects by label, the Namespace)
// through Reader, normally the manager's cache, and answers with Rules. A nil Checker, or one
// without a Reader, answers with the defaults: the strictest rules, never the most open.
//
// It has the two methods of internal/scalers' Policy interface, so it can be passed as
// scalers.Options.Policy.
type Checker struct {
	Reader client.Reader
}

// Rules returns the rules for objects in hub namespace ns. An error is a failed read (retry
// later), never a refusal.
func (c *Checker) Rules(ctx context.Context, ns string) (*Rules, error) {
	if c == nil || c.Reader == nil {
		return Default(ns), nil
	}
	var list v1alpha1.TenantPolicyList
	if err := c.Reader.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("reading TenantPolicies: %w", err)
	}
	p := Compile(list.Items)
	var nsLabels map[string]string
	if p.NeedsLabels() {
		var n corev1.Namespace
		if err := c.Reader.Get(ctx, client.ObjectKey{Name: ns}, &n); err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("reading namespace %s: %w", ns, err)
		}
		nsLabels = n.Labels
	}
	return p.For(ns, nsLabels), nil
}

// AllowClusterTriggerAuthentication says whether objects in hub namespace ns may use the
// ClusterTriggerAuthentication name.
func (c *Checker) AllowClusterTriggerAuthentication(ctx context.Context, ns, name string) error {
	r, err := c.Rules(ctx, ns)
	if err != nil {
		return err
	}
	return r.ClusterTriggerAuthentication(name)
}

// AllowExternalAddress says whether a trigger of an object in hub namespace ns may dial
// address (host:port).
func (c *Checker) AllowExternalAddress(ctx context.Context, ns, address string) error {
	r, err := c.Rules(ctx, ns)
	if err != nil {
		return err
	}
	return r.ExternalAddress(address)
}
