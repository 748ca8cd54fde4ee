// Package fault is the fault matrix (issue 10, item 7): the hub controller runs as the real
// fleetscale-controller binary against a hub and three full members (internal/clusterenv), and
// each test breaks one thing while a watch records every member's replicas and every Job:
//
//   - TestControllerKilledMidRebalance: SIGKILL of the controller after each rebalancing step,
//     restarted at once;
//   - TestLeaderKilledStandbyTakesOver: two replicas with --leader-elect, the leader SIGKILLed;
//   - TestFlappingMember: a member hung and resumed every few seconds, then for good;
//   - TestEtcdRestart: the one etcd under every cluster stopped and started again;
//   - TestRevokedMemberToken: the member's ServiceAccount deleted, then setup-member again.
//
// Each asserts from the records that nothing is lost: healthy members never hold fewer
// replicas than the rules allow, no step moves more than maxRebalancePercentage of the total,
// the shares are those of one rebalancing sequence (internal/distribution run on its own), and
// no Job is created twice.
//
// The controller binary comes from the repository's bin/ (make test builds it first); the
// package fails at once, saying so, when it is missing.
package fault
