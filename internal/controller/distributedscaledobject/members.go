package distributedscaledobject

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/member"
)

// eligibleMembers is spec.memberClusters, or every registered member with weight 1 when the
// list is empty; it also returns the MemberCluster registrations by name.
func (r *Reconciler) eligibleMembers(ctx context.Context, dso *v1alpha1.DistributedScaledObject) ([]v1alpha1.MemberClusterRef, map[string]*v1alpha1.MemberCluster, error) {
	var list v1alpha1.MemberClusterList
	if err := r.List(ctx, &list, client.InNamespace(r.Namespace)); err != nil {
		return nil, nil, err
	}
	registrations := make(map[string]*v1alpha1.MemberCluster, len(list.Items))
	refs := make([]v1alpha1.MemberClusterRef, 0, len(list.Items))
	for i, mc := range list.Items {
		if mc.DeletionTimestamp.IsZero() {
			registrations[mc.Name] = &list.Items[i]
			refs = append(refs, v1alpha1.MemberClusterRef{Name: mc.Name})
		}
	}
	if len(dso.Spec.MemberClusters) > 0 {
		return dso.Spec.MemberClusters, registrations, nil
	}
	slices.SortFunc(refs, func(a, b v1alpha1.MemberClusterRef) int { return strings.Compare(a.Name, b.Name) })
	return refs, registrations, nil
}

// connecting: registered in the hub but without a client yet (the controller just started),
// unless the registration is known to be unusable.
func connecting(mc *v1alpha1.MemberCluster) bool {
	if mc == nil {
		return false
	}
	for _, c := range mc.Status.Conditions {
		if c.Type == v1alpha1.ConditionReady && c.Reason == v1alpha1.MemberReasonInvalid {
			return false
		}
	}
	return true
}

// DefaultFirstReadTimeout is how long a new DSO waits for its members' targets to be read.
const DefaultFirstReadTimeout = 30 * time.Second

func (r *Reconciler) firstReadTimeout() time.Duration {
	if r.FirstReadTimeout > 0 {
		return r.FirstReadTimeout
	}
	return DefaultFirstReadTimeout
}

// observeMembers reads every eligible member's health and target (its /scale), in parallel,
// each bounded by that member's timeout; a member that cannot be read keeps its last known
// replicas. A read that can never succeed as things are (forbidden, kind not served, no scale
// subresource) makes the member unhealthy with that reason at once; one that may (not probed
// yet, timing out) is waited for, on a new DSO, for at most firstReadTimeout.
//
// A failure to list the registrations is the hub's, not the spec's: it is returned, so the
// object is retried with backoff and its status keeps what it said.
func (r *Reconciler) observeMembers(ctx context.Context, s *scope) error {
	refs, registrations, err := r.eligibleMembers(ctx, s.dso)
	if err != nil {
		return fmt.Errorf("list member clusters: %w", err)
	}
	gvk := targetGVK(s.dso)
	targetName := s.dso.Spec.ScaledObjectSpec.ScaleTargetRef.Name
	var wg sync.WaitGroup
	for _, ref := range refs {
		prev, hadPrev := s.prev.MemberClusterStatuses[ref.Name]
		mv := &memberView{name: ref.Name, weight: ref.GetWeight(), namespace: ref.TargetNamespaceOr(s.dso.Namespace)}
		if mc := registrations[ref.Name]; mc != nil {
			mv.id = string(mc.UID)
		}
		if hadPrev {
			mv.prevState, mv.prevExcluded, mv.current = prev.State, prev.Excluded, prev.CurrentReplicas
		}
		s.members = append(s.members, mv)
		m, ok := r.Registry.Get(ref.Name)
		if !ok {
			mv.apiReason = "member cluster is not registered"
			mv.unknown = connecting(registrations[ref.Name])
			continue
		}
		h := m.Health()
		switch {
		case !h.Probed:
			// Right after a controller start or a re-registration: its health is not known
			// yet (the first probe takes at most the probe timeout). Counting it unhealthy
			// would start a grace period and emit events for nothing.
			mv.apiReason = "member cluster not probed yet"
			mv.unknown = true
			continue
		case !h.Ready:
			mv.apiReason = "member API not ready (" + h.Reason + "): " + h.Message
			continue
		}
		mv.apiReady = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Target events only: without a watch (a kind the credentials may not watch, or
			// the review failed and is asked again next time) changes are seen at the polling
			// interval, and the read below decides health either way.
			_ = m.WatchKind(ctx, gvk)
			t, err := m.GetTarget(ctx, gvk, mv.namespace, targetName)
			if err != nil {
				mv.readErr = err.Error()
				mv.unknown = !hadPrev && !member.Permanent(err)
				return
			}
			mv.observed, mv.targetExists = true, t.Exists
			if t.Exists {
				mv.current, mv.selector = t.Replicas, t.Selector
				readyFromPods(ctx, m, gvk, targetName, mv)
			}
		}()
	}
	wg.Wait()
	s.resolveWaiting(r.firstReadTimeout())
	return nil
}

// resolveWaiting decides, for the members whose first read is still unknown, whether this
// evaluation waits for them (s.waitingFor) or, once the DSO has waited firstReadTimeout,
// goes on without them: from then on such a member is unhealthy with its reason.
func (s *scope) resolveWaiting(firstReadTimeout time.Duration) {
	waitOver := s.now.Sub(s.waitingSince()) >= firstReadTimeout
	for _, mv := range s.members {
		if !mv.unknown {
			continue
		}
		if waitOver {
			mv.unknown = false
			continue
		}
		s.waitingFor = append(s.waitingFor, mv.name)
	}
}

// waitingSince is when this DSO started waiting for its members' first read: when its Ready
// condition became WaitingForMembers, else now.
func (s *scope) waitingSince() time.Time {
	if c := meta.FindStatusCondition(s.prev.Conditions, v1alpha1.ConditionReady); c != nil && c.Reason == ReasonWaitingForMembers {
		return c.LastTransitionTime.Time
	}
	return s.now
}

// readyFromPods counts the target's ready pods through its /scale selector (the HPA's rule,
// member.TargetReadyPods): /scale has no ready count, and it is all the member role grants for
// any kind. A target at 0 replicas has 0 ready; one whose /scale declares no selector, or whose
// pods cannot be listed, stays unknown and is never treated as slow.
func readyFromPods(ctx context.Context, m *member.Member, gvk schema.GroupVersionKind, name string, mv *memberView) {
	switch {
	case mv.current == 0:
		mv.ready, mv.readyKnown = 0, true
	case mv.selector != "":
		if n, err := m.TargetReadyPods(ctx, gvk, mv.namespace, name, mv.selector); err == nil {
			mv.ready, mv.readyKnown = n, true
		}
	}
}

// healthy is the failover notion: API Ready and the target present.
func (mv *memberView) healthy() bool { return mv.apiReady && mv.observed && mv.targetExists }

// unhealthyReason says why a member is not healthy, for its description.
func (mv *memberView) unhealthyReason(kind, name string) string {
	switch {
	case !mv.apiReady:
		return mv.apiReason
	case !mv.observed:
		return "cannot read " + kind + " " + mv.namespace + "/" + name + ": " + mv.readErr
	case !mv.targetExists:
		return kind + " " + mv.namespace + "/" + name + " not found"
	}
	return ""
}
