// Package member is the hub's registry of member clusters.
//
// A MemberCluster object and the kubeconfig Secret it names become a Member: a client and a
// cache for that cluster (a controller-runtime cluster.Cluster, started lazily), a health
// probe loop, and an expiring token that is refreshed before it runs out. Every call into a
// member is bounded by that member's timeout, so one slow or hung member never delays another.
//
// Reconcilers get from the Registry: which members exist and whether each is healthy (and
// since when), a scale client (Member.SetReplicas), a cache of target objects
// (Member.GetTarget after Member.WatchKind), and Subscribe, a stream of Events on health
// transitions, registrations and target changes to feed a source.Channel.
package member
