// Package member is the hub's registry of member clusters.
//
// A MemberCluster object and the kubeconfig Secret it names become a Member: a client and a
// cache for that cluster (a controller-runtime cluster.Cluster, started lazily), a health
// probe loop, and an expiring token that is refreshed before it runs out. Every call into a
// member is bounded by that member's timeout, so one slow or hung member never delays another.
//
// Reconcilers get from the Registry: which members exist and whether each is healthy (and
// since when), the target's scale subresource (Member.GetTarget reads it, Member.SetReplicas
// writes it: /scale is all the member role grants for any kind), a metadata-only watch of the
// target kind where the credentials allow one (Member.WatchKind), and Subscribe, a stream of
// Events on health transitions, registrations and target changes to feed a source.Channel.
package member
