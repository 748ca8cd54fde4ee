// Package autoscaling decides replica totals and Job counts from trigger
// readings, reproducing what KEDA and the Kubernetes HPA would do together in
// one cluster (docs/architecture.md says where each rule lives). It is pure: no clients, no
// clock (time comes in as now), no package state; every input and output is
// a plain value, so the decisions are table-tested and fuzzed.
//
// # API
//
//	func DecideTotal(in ScaledObjectInput, now time.Time) (ScaledObjectDecision, error)
//	func DecideJobs(in ScaledJobInput) ScaledJobDecision
//	func PauseFromAnnotations(annotations map[string]string) (Pause, error)
//	func ForceActivation(annotations map[string]string) bool
//
// State the caller must persist (in the object's status) and pass back:
//
//   - ScaledObjectDecision.State (a ScaledObjectState, JSON-tagged):
//     LastActiveTime (cooldown), TriggerFailures (fallback failure counts)
//     and History (the HPA's recommendations and scale events, bounded).
//     A fresh object starts from the zero ScaledObjectState.
//   - DecideJobs keeps no state; the caller counts running/pending Jobs.
//
// Other outputs: DesiredReplicas (the total to apply), Conditions (Ready,
// Active, Fallback, Paused, with KEDA's reasons), Triggers (values for
// display), Reason (one line for events and describe), RequeueAfter (when a
// new evaluation can change the outcome by itself: the end of a cooldown, or
// HPASyncPeriod while a rate limit or stabilisation window holds the total).
// An error from DecideTotal always wraps ErrInvalidSpec: a terminal problem
// with the spec; the decision then keeps the current total.
//
// # How a total is decided
//
// DecideTotal follows KEDA's scale loop, then the HPA:
//
//  1. Pause: paused-replicas pins the total, paused freezes it (and drops
//     the HPA history, as KEDA deletes the HPA) and leaves the Active
//     condition as it was; paused-scale-in/-out disable that direction in the
//     HPA behavior and in KEDA's own 0↔1 moves. force-activation makes the
//     object active whatever its triggers read.
//  2. Triggers: a trigger is active when value > activationTarget. A failing
//     trigger past fallback.failureThreshold is replaced by the value that
//     makes the HPA compute the fallback count, and counts as active; only a
//     valid fallback counts failures (KEDA's HasValidFallback: with
//     scalingModifiers an integer target), otherwise the stored counts stay. With
//     scalingModifiers the formula (expr-lang) turns the values into one
//     composite metric that alone decides activity.
//  3. KEDA: active at 0 (or below min with idleReplicaCount) → max(min, 1);
//     inactive past the cooldown → idleReplicaCount, else minReplicaCount.
//  4. HPA (only when the current total is above 0): per metric
//     AverageValue → ceil(Σvalue/target), Value → ceil(Σvalue/target × ready),
//     both with a 10 % tolerance (or the behavior's per-direction tolerance);
//     the largest proposal wins; bounds [max(min, 1), max]; then either the
//     legacy rules (300 s scale-down stabilisation, scale-up at most
//     max(2×current, 4) per evaluation) or the behavior's windows and
//     Pods/Percent policies. Unreadable metrics never cause a scale-down.
//
// "Current" is Σ spec.replicas for every metric type, where the HPA uses
// status.replicas for AverageValue metrics (see docs/slow-progress.md).
//
// Where a single decision cannot mirror two controllers that would fight,
// it picks the stable outcome: at or below idleReplicaCount while inactive the
// HPA is not consulted (in a cluster it would raise the target to its minimum
// and KEDA would lower it again).
//
// DecideJobs reproduces KEDA's ScaledJob maths: per trigger queue length and
// max value, multipleScalersCalculation over the active triggers, and the
// default/custom/accurate/eager strategies (and the reference's basic =
// default, pendingAware = accurate) against running and pending Jobs.
package autoscaling
