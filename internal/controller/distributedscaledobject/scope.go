package distributedscaledobject

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/autoscaling"
	"github.com/fleetscale/fleetscale/internal/distribution"
)

// scope is what one reconcile read and decided; the sub-steps fill it in order.
type scope struct {
	dso *v1alpha1.DistributedScaledObject
	now time.Time
	// orig is the object as read: the status patch is computed against it.
	orig *v1alpha1.DistributedScaledObject
	// prev is the status as read, for transitions (events) and stored state.
	prev v1alpha1.DistributedScaledObjectStatus

	members []*memberView

	decision     autoscaling.ScaledObjectDecision
	total        int32
	totalDecided bool
	// mirroredGeneration is the DSO's generation after mirrorTotal wrote
	// spec.totalTargetReplicas (0: not written): that write is ours, already evaluated.
	mirroredGeneration int64
	specError          string
	triggerError       string
	// sensitive names the triggers whose value was read from a Secret (never shown).
	sensitive map[string]bool
	// triggerTypes is each trigger's type by its name in status, for messages.
	triggerTypes map[string]string
	// nextTriggerChange is when a time-based trigger (cron) changes next.
	nextTriggerChange time.Time

	// waitingFor lists members whose replicas are not known yet (first sync).
	waitingFor []string

	split       distribution.Result
	applyErrors map[string]string
	prevTotal   int32
}

// memberView is one eligible member as observed now.
type memberView struct {
	name      string
	weight    int32
	namespace string
	apiReady  bool
	apiReason string
	// observed: the target's /scale was read from the member just now.
	observed     bool
	targetExists bool
	current      int32
	ready        int32
	// readyKnown: ready came from the target's status or its pods; without it the member is
	// never slow.
	readyKnown bool
	selector   string
	// id is the MemberCluster's UID (status id).
	id string
	// unknown: not probed yet, or reachable but its target not read yet and never seen
	// before: no total may be computed until it is known.
	unknown       bool
	result        distribution.MemberResult
	readErr       string
	prevState     string
	prevExcluded  bool
	applied       bool
	replicasAfter int32
}

func newScope(dso *v1alpha1.DistributedScaledObject, now time.Time) *scope {
	return &scope{dso: dso, now: now, orig: dso.DeepCopy(), prev: *dso.Status.DeepCopy(), applyErrors: map[string]string{}}
}

// specProblem reports what makes the spec unusable before any member is read: a target
// apiVersion or kind that does not parse (it must never fall back to apps/v1 Deployment) and a
// duration the schema should have refused. The CRD rejects both at apply time; this covers
// objects stored before those rules.
func specProblem(dso *v1alpha1.DistributedScaledObject) string {
	var problems []string
	if ref := dso.Spec.ScaledObjectSpec.ScaleTargetRef; ref != nil {
		if ref.APIVersion != "" {
			gv, err := schema.ParseGroupVersion(ref.APIVersion)
			if err != nil || gv.String() != ref.APIVersion || len(validation.IsDNS1035Label(gv.Version)) > 0 ||
				(gv.Group != "" && len(validation.IsDNS1123Subdomain(gv.Group)) > 0) {
				problems = append(problems, fmt.Sprintf("scaleTargetRef.apiVersion %q is not group/version (or version for the core group)", ref.APIVersion))
			}
		}
		if ref.Kind != "" && len(validation.IsDNS1035Label(strings.ToLower(ref.Kind))) > 0 {
			problems = append(problems, fmt.Sprintf("scaleTargetRef.kind %q is not a kind name", ref.Kind))
		}
	}
	if rp := dso.Spec.RebalancingPolicy; rp != nil {
		if _, err := rp.GracePeriod.Parse(time.Minute); err != nil {
			problems = append(problems, "rebalancingPolicy.gracePeriod: "+err.Error())
		}
	}
	return strings.Join(problems, "; ")
}

// targetGVK is the target's kind, apps/v1 Deployment by default; call it on a spec that
// specProblem accepted.
func targetGVK(dso *v1alpha1.DistributedScaledObject) schema.GroupVersionKind {
	ref := dso.Spec.ScaledObjectSpec.ScaleTargetRef
	apiVersion, kind := "apps/v1", "Deployment"
	if ref != nil && ref.APIVersion != "" {
		apiVersion = ref.APIVersion
	}
	if ref != nil && ref.Kind != "" {
		kind = ref.Kind
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		gv = schema.GroupVersion{Group: "apps", Version: "v1"}
	}
	return gv.WithKind(kind)
}

func memberTargetNamespace(dso *v1alpha1.DistributedScaledObject, name string) string {
	for _, m := range dso.Spec.MemberClusters {
		if m.Name == name {
			return m.TargetNamespaceOr(dso.Namespace)
		}
	}
	return dso.Namespace
}

// requeueAfter is the earliest moment a new evaluation can change something by itself:
// the polling interval, a cooldown's end, the next rebalancing step or grace expiry.
func (s *scope) requeueAfter(syncPeriod time.Duration) time.Duration {
	next := time.Duration(pollingInterval(s.dso)) * time.Second
	for _, d := range []time.Duration{s.decision.RequeueAfter, s.split.RequeueAfter} {
		if d > 0 && d < next {
			next = d
		}
	}
	if len(s.applyErrors) > 0 && syncPeriod < next {
		next = syncPeriod
	}
	// A cron boundary is evaluated when it passes, not at the next polling interval.
	if !s.nextTriggerChange.IsZero() {
		if d := s.nextTriggerChange.Sub(s.now); d > 0 && d < next {
			next = d
		}
	}
	return next
}

func pollingInterval(dso *v1alpha1.DistributedScaledObject) int32 {
	if p := dso.Spec.ScaledObjectSpec.PollingInterval; p != nil && *p > 0 {
		return *p
	}
	return 30
}

// observedGeneration is the generation this evaluation covers: the one read, or the one our
// own spec.totalTargetReplicas write produced (which is not evaluated again). Status and every
// condition carry it, so the next evaluation finds nothing to rewrite.
func (s *scope) observedGeneration() int64 { return max(s.dso.Generation, s.mirroredGeneration) }
