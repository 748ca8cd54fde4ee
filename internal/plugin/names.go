package plugin

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Names and labels shared by the objects the plugin creates.
const (
	// DefaultNamespace is the hub namespace of the registrations, and the member namespace of
	// the fleetscale ServiceAccount, unless -n says otherwise.
	DefaultNamespace = "keda"
	// ServiceAccountName is the member-side identity of the hub.
	ServiceAccountName = "fleetscale"
	// MemberRoleName names the ClusterRole and ClusterRoleBinding (cluster-wide access) or the
	// Role and RoleBinding in each target namespace (--target-namespaces).
	MemberRoleName = "fleetscale-member"
	// TokenRoleName names the Role and RoleBinding, in the ServiceAccount's namespace, that let
	// the hub request a fresh token for the ServiceAccount before the current one expires.
	TokenRoleName = "fleetscale-member-token"
	// SecretKey is the key of the kubeconfig in the hub Secret.
	SecretKey = "kubeconfig"
	// SecretNamePrefix + member name is the hub Secret's name.
	SecretNamePrefix = "fleetscale-member-"

	// LabelManagedBy marks every object the plugin creates, in the hub and in members.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is LabelManagedBy's value.
	ManagedByValue = "fleetscale"
	// LabelMember carries the member name on the hub Secret and MemberCluster.
	LabelMember = "fleetscale.dev/member"
	// LabelServiceAccountNamespace is set on member-side RBAC objects: the namespace of the
	// ServiceAccount they grant access to, so a later run finds and removes stale ones.
	LabelServiceAccountNamespace = "fleetscale.dev/service-account-namespace"
	// AnnotationTokenExpiration on the hub Secret is the stored token's expiry, RFC 3339.
	AnnotationTokenExpiration = "fleetscale.dev/token-expiration"
)

// SecretName returns the name of the hub Secret that holds member's kubeconfig.
func SecretName(member string) string { return SecretNamePrefix + member }

// ValidateMemberName reports whether name can name a member: a DNS-1123 label, because it
// names a MemberCluster (whose CRD enforces the same) and is part of the Secret's name.
func ValidateMemberName(name string) error {
	if name == "" {
		return fmt.Errorf("a member name is required")
	}
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return fmt.Errorf("invalid member name %q: %s", name, labelRule)
	}
	// The Secret name must stay a valid object name too (253 characters): always true for a
	// label of at most 63, checked here so a future prefix change cannot break it silently.
	if errs := validation.IsDNS1123Subdomain(SecretName(name)); len(errs) > 0 {
		return fmt.Errorf("invalid member name %q: %s", name, strings.Join(errs, "; "))
	}
	return nil
}

const labelRule = "must be a DNS-1123 label: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit"

// validateNamespaceName checks a namespace name given on the command line.
func validateNamespaceName(flag, ns string) error {
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return fmt.Errorf("invalid namespace %q in %s: %s", ns, flag, labelRule)
	}
	return nil
}
