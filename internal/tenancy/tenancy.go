package tenancy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

// Reasons of refusals; the reconcilers use them as condition and Event reasons (defined in
// api/v1alpha1/reasons.go).
const (
	ReasonNamespaceNotAllowed                    = v1alpha1.ReasonNamespaceNotAllowed
	ReasonPodSecurityViolation                   = v1alpha1.ReasonPodSecurityViolation
	ReasonClusterTriggerAuthenticationNotAllowed = v1alpha1.ReasonClusterTriggerAuthenticationNotAllowed
	ReasonExternalAddressNotAllowed              = v1alpha1.ReasonExternalAddressNotAllowed
)

// Refusal is something the policies do not allow, in words a tenant and an admin can act on.
type Refusal struct {
	// Reason is one of the Reason constants.
	Reason  string
	Message string
}

func (r *Refusal) Error() string { return r.Message }

// ReasonOf returns the Reason of the Refusal in err's chain, or "" when there is none.
func ReasonOf(err error) string {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Reason
	}
	return ""
}

// Policies are the TenantPolicies of a hub, compiled once for many questions.
type Policies struct {
	items []compiled
}

type compiled struct {
	name       string
	namespaces []string
	// selector is nil when the policy has no namespaceSelector; selectorErr is set (and the
	// selector selects nothing) when it cannot be parsed.
	selector    labels.Selector
	selectorErr error
	spec        *v1alpha1.TenantPolicySpec
}

// Compile prepares the policies; their order does not matter (they are sorted by name, so
// messages are stable).
func Compile(items []v1alpha1.TenantPolicy) *Policies {
	p := &Policies{items: make([]compiled, 0, len(items))}
	for i := range items {
		tp := &items[i]
		c := compiled{name: tp.Name, namespaces: tp.Spec.Namespaces, spec: &tp.Spec}
		if tp.Spec.NamespaceSelector != nil {
			c.selector, c.selectorErr = metav1.LabelSelectorAsSelector(tp.Spec.NamespaceSelector)
			if c.selectorErr != nil {
				c.selector = labels.Nothing()
			}
		}
		p.items = append(p.items, c)
	}
	slices.SortFunc(p.items, func(a, b compiled) int { return strings.Compare(a.name, b.name) })
	return p
}

// NeedsLabels reports whether a namespace's labels matter (some policy selects by label):
// callers may skip reading the Namespace otherwise.
func (p *Policies) NeedsLabels() bool {
	return slices.ContainsFunc(p.items, func(c compiled) bool { return c.selector != nil })
}

// For returns the rules for objects in hub namespace ns, whose labels are nsLabels.
func (p *Policies) For(ns string, nsLabels map[string]string) *Rules {
	r := &Rules{Namespace: ns}
	for i := range p.items {
		c := &p.items[i]
		switch {
		case slices.Contains(c.namespaces, ns):
		case c.selector != nil && c.selector.Matches(labels.Set(nsLabels)):
		default:
			if c.selectorErr != nil {
				r.brokenSelectors = append(r.brokenSelectors, fmt.Sprintf("TenantPolicy %s selects nothing by label: its namespaceSelector is invalid: %v", c.name, c.selectorErr))
			}
			continue
		}
		r.policies = append(r.policies, c)
	}
	return r
}

// Default is the rules when no TenantPolicy applies.
func Default(ns string) *Rules { return &Rules{Namespace: ns} }

// Rules are what objects in one hub namespace may do: the defaults plus what the policies
// selecting that namespace allow. Every check returns nil or a *Refusal.
type Rules struct {
	// Namespace is the hub namespace the rules are for.
	Namespace string
	policies  []*compiled
	// brokenSelectors note policies that might have selected the namespace but cannot be
	// evaluated: an admin reading a refusal needs to know.
	brokenSelectors []string
}

// PolicyNames are the TenantPolicies that apply to the namespace, sorted.
func (r *Rules) PolicyNames() []string {
	names := make([]string, 0, len(r.policies))
	for _, c := range r.policies {
		names = append(names, c.name)
	}
	return names
}

// TargetNamespace says whether objects of the namespace may act on member namespace target.
func (r *Rules) TargetNamespace(target string) error {
	if target == r.Namespace {
		return nil
	}
	var granted []string
	for _, c := range r.policies {
		for _, pattern := range c.spec.TargetNamespaces {
			if matchName(pattern, target) {
				return nil
			}
		}
		if len(c.spec.TargetNamespaces) > 0 {
			granted = append(granted, fmt.Sprintf("TenantPolicy %s allows %s", c.name, strings.Join(c.spec.TargetNamespaces, ", ")))
		}
	}
	msg := fmt.Sprintf("member namespace %q is not allowed for objects in hub namespace %q: by default they act only on member namespace %q", target, r.Namespace, r.Namespace)
	return r.refuse(ReasonNamespaceNotAllowed, msg, granted,
		fmt.Sprintf("lists %q in spec.targetNamespaces", target))
}

// ClusterTriggerAuthentication says whether triggers of the namespace's objects may use the
// ClusterTriggerAuthentication name.
func (r *Rules) ClusterTriggerAuthentication(name string) error {
	var granted []string
	for _, c := range r.policies {
		for _, pattern := range c.spec.ClusterTriggerAuthentications {
			if pattern == "*" || pattern == name {
				return nil
			}
		}
		if len(c.spec.ClusterTriggerAuthentications) > 0 {
			granted = append(granted, fmt.Sprintf("TenantPolicy %s allows %s", c.name, strings.Join(c.spec.ClusterTriggerAuthentications, ", ")))
		}
	}
	msg := fmt.Sprintf("ClusterTriggerAuthentication %q is not allowed for objects in hub namespace %q: by default they may use none", name, r.Namespace)
	return r.refuse(ReasonClusterTriggerAuthenticationNotAllowed, msg, granted,
		fmt.Sprintf("lists %q in spec.clusterTriggerAuthentications", name))
}

// ExternalAddress says whether an `external` trigger of the namespace's objects may dial
// address (host:port). Any address is allowed unless a policy restricts them; then the
// address must match a rule of one of the restricting policies.
func (r *Rules) ExternalAddress(address string) error {
	var restricting []string
	for _, c := range r.policies {
		if c.spec.ExternalAddresses != nil {
			restricting = append(restricting, c.name)
		}
	}
	if len(restricting) == 0 {
		return nil
	}
	a, err := parseAddress(address)
	if err != nil {
		return &Refusal{Reason: ReasonExternalAddressNotAllowed, Message: fmt.Sprintf(
			"external trigger address %q is not allowed for objects in hub namespace %q: %v, and %s %s the addresses to host:port rules",
			address, r.Namespace, err, policyWord(restricting), verb(restricting, "restricts", "restrict"))}
	}
	for _, c := range r.policies {
		if c.spec.ExternalAddresses == nil {
			continue
		}
		for _, rule := range c.spec.ExternalAddresses.Allow {
			if a.matches(rule) {
				return nil
			}
		}
	}
	return &Refusal{Reason: ReasonExternalAddressNotAllowed, Message: fmt.Sprintf(
		"external trigger address %q is not allowed for objects in hub namespace %q: %s %s external addresses and none of the rules matches; a hub admin can allow it by adding {host: %q, ports: [%d]} to spec.externalAddresses.allow",
		address, r.Namespace, policyWord(restricting), verb(restricting, "restricts", "restrict"), a.host, a.port)}
}

// refuse builds a refusal: what was refused, what the policies that apply do allow, and the
// policy change that would allow it.
func (r *Rules) refuse(reason, msg string, granted []string, fix string) *Refusal {
	var b strings.Builder
	b.WriteString(msg)
	if len(granted) > 0 {
		b.WriteString(", and " + strings.Join(granted, "; "))
	}
	for _, s := range r.brokenSelectors {
		b.WriteString("; " + s)
	}
	fmt.Fprintf(&b, "; a hub admin can allow it with a TenantPolicy that selects namespace %q and %s", r.Namespace, fix)
	return &Refusal{Reason: reason, Message: b.String()}
}

// policyWord is "TenantPolicy a" or "TenantPolicies a, b".
func policyWord(names []string) string {
	if len(names) == 1 {
		return "TenantPolicy " + names[0]
	}
	return "TenantPolicies " + strings.Join(names, ", ")
}

func verb(names []string, one, many string) string {
	if len(names) == 1 {
		return one
	}
	return many
}

// matchName matches a name against "*", a prefix pattern "team-*" or an exact name.
func matchName(pattern, name string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(name, prefix)
	}
	return pattern == name
}
