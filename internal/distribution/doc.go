// Package distribution decides how a total of replicas or Jobs is spread over member clusters,
// and what happens to a member's share when it fails and comes back. It is pure: standard
// library only, no clients, no clock (time comes in as a value), no state of its own. Every
// piece of state it needs comes in as an argument and goes out in the result, so that the
// caller can keep it in status and a restart or a leader change loses nothing.
//
// # API
//
//	Split(total int32, members []Member, seed string) map[string]int32
//	    Webster/Sainte-Laguë split by weight (as Karmada ≥ 1.16), ties by a hash of seed (the
//	    object's UID) and member name. Deterministic, independent of input order, and
//	    house-monotonic: a larger total never gives a member fewer. Weight 0 = standby.
//	TieOrder(seed string, names []string) []string
//	    The order in which members win ties for that seed (first wins), to explain a split.
//	Evaluate(in Input) Result
//	    DSO failover state machine and one rate-limited rebalancing step; call it once per
//	    evaluation with the new total and each member's health. Result says, per member, the
//	    state (Ready, Unhealthy, Excluded, Recovering), the share, whether to write it, and a
//	    description; overall, whether it has settled and when to evaluate again.
//	    A Ready member that makes no scaling progress for the grace period is slow: its share
//	    is capped at its ready replicas, the rest moves rate-limited, and it keeps one probe
//	    replica until it has room again (slow.go, docs/slow-progress.md).
//	DefaultPolicy() Policy
//	    Grace period 1m, stabilisation 1m, at most 50 % of the total moved per step, steps 30s
//	    apart.
//	Place(n int, members []Member, state map[string]int64) ([]string, map[string]int64)
//	    Smooth weighted round-robin (as nginx) to choose a member for each of n new Jobs.
//
// # What the caller persists in status
//
//   - Split: nothing; it is a function of (total, weights, UID).
//   - Evaluate, per member: MemberResult.State (state), .Since (lastStatusChangeTime),
//     .Desired (desiredReplicas), .Progress (lastScalingProgressTime), .Capacity (capacity) and
//     .Excluded for display; they come back as MemberInput.State, .Since, .Desired, .Progress
//     and .Capacity, with the ready replicas seen as LastReady. Per object: Result.LastStep,
//     passed back as Input.LastStep. Write MemberResult.Write (Desired, plus a probe replica
//     while slow) to a member's scale target only when Apply is true; keep the last known
//     current replicas of a member that cannot be read. Requeue after Result.RequeueAfter.
//   - Place: the returned map of current weights (one int64 per member), passed back next time.
//
// Nothing else is kept between calls. Shares rest on the stored Desired values: a member's
// current and ready replicas only tell whether it is slow, and only while it is Ready, so an
// unreachable member's unknown counts cannot move anyone's share.
package distribution
