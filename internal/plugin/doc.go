// Package plugin is the library behind `kubectl fleetscale`: registering a member cluster with
// the hub (SetupMember), listing the registrations (ListMembers, PrintMembers) and removing
// them (DeleteMember). The cobra layer in cmd/kubectl-fleetscale only parses flags, loads the
// kubeconfigs (LoadHubConfig, LoadMemberConfig) and calls these functions; tests call them
// directly against real API servers.
//
// What a registration is, as the hub-side registry reads it:
//
//   - a Secret "fleetscale-member-NAME" (type Opaque) in the hub namespace, key "kubeconfig":
//     a kubeconfig with one cluster, one user and one context, all named NAME, whose current
//     context is NAME; the user authenticates with a bound ServiceAccount token of the
//     registration's own ServiceAccount (Registration: MEMBER-NS/fleetscale-NAME-HASH, never
//     shared with another hub or name). The annotation fleetscale.dev/token-expiration holds
//     the token's expiry (RFC 3339).
//   - a MemberCluster NAME in the same namespace whose spec.kubeconfigSecretRef points at it
//     and whose spec.serviceAccount names that ServiceAccount.
//
// Nothing here ever prints or logs a token or a kubeconfig.
package plugin
