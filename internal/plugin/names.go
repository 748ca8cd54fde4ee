package plugin

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Names and labels shared by the objects the plugin creates.
const (
	// DefaultNamespace is the hub namespace of the registrations, and the member namespace of
	// the fleetscale ServiceAccount, unless -n says otherwise.
	DefaultNamespace = "keda"
	// NamePrefix starts the name of every member-side object of a registration (see
	// Registration).
	NamePrefix = "fleetscale"
	// LegacyServiceAccountName is the ServiceAccount that setup-member shared between every
	// registration in a member namespace before registrations had their own; it is never
	// created or deleted any more.
	LegacyServiceAccountName = "fleetscale"
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
	// ServiceAccount they grant access to.
	LabelServiceAccountNamespace = "fleetscale.dev/service-account-namespace"
	// LabelRegistration is set on every member-side object of a registration: its
	// Registration.ID, so a later run (or delete-member) finds its own objects and no one else's.
	LabelRegistration = "fleetscale.dev/registration"
	// AnnotationTokenExpiration on the hub Secret is the stored token's expiry, RFC 3339.
	AnnotationTokenExpiration = "fleetscale.dev/token-expiration"
)

// Registration names what one registration owns in the member. A registration is one hub
// (identified by the UID of its kube-system namespace), one hub namespace and one member
// name: two hubs registering the same member, or one hub registering it under two names, get
// distinct ServiceAccounts and RBAC, so neither can revoke the other's access, and
// delete-member removes only its own.
type Registration struct {
	// ID is a hash of (hub identity, hub namespace, member name); the value of
	// LabelRegistration.
	ID string
	// Namespace is the member namespace of the ServiceAccount (the hub namespace's name).
	Namespace string
	// ServiceAccount is the ServiceAccount's name; it also names the ClusterRole and
	// ClusterRoleBinding (cluster-wide access) or the Role and RoleBinding in each target
	// namespace.
	ServiceAccount string
	// TokenRole names the Role and RoleBinding, in Namespace, that let the hub request a fresh
	// token for ServiceAccount (and no other) before the current one expires.
	TokenRole string
}

// memberNameInObjects is how much of the member name the member-side object names keep: with
// the prefix, the hash and "-token" they stay within 63 characters.
const memberNameInObjects = 35

// RegistrationFor returns the names of the registration of member in hub namespace ns of the
// hub whose kube-system namespace has UID hubID. It is a pure function, so every run of
// setup-member and delete-member for the same registration finds the same objects.
func RegistrationFor(hubID, ns, member string) Registration {
	sum := sha256.Sum256([]byte(hubID + "\x00" + ns + "\x00" + member))
	id := hex.EncodeToString(sum[:])[:10]
	short := member
	if len(short) > memberNameInObjects {
		short = strings.TrimRight(short[:memberNameInObjects], "-")
	}
	sa := NamePrefix + "-" + short + "-" + id
	return Registration{ID: id, Namespace: ns, ServiceAccount: sa, TokenRole: sa + "-token"}
}

// String is "namespace/name" of the ServiceAccount, as MemberCluster spec.serviceAccount.
func (r Registration) String() string { return r.Namespace + "/" + r.ServiceAccount }

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
