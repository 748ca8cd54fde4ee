package distributedscaledjob

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/jobs"
	"github.com/fleetscale/fleetscale/internal/member"
)

// syncTimeout is how long a healthy member's new Job cache may take to list before the member
// is treated as unreachable instead of holding every creation back.
const syncTimeout = 30 * time.Second

// eligibleMembers is spec.memberClusters, or every registered member with weight 1 when the
// list is empty.
func (r *Reconciler) eligibleMembers(ctx context.Context, dsj *v1alpha1.DistributedScaledJob) ([]v1alpha1.JobMemberClusterRef, error) {
	if len(dsj.Spec.MemberClusters) > 0 {
		return dsj.Spec.MemberClusters, nil
	}
	var list v1alpha1.MemberClusterList
	if err := r.List(ctx, &list, client.InNamespace(r.Namespace)); err != nil {
		return nil, err
	}
	refs := make([]v1alpha1.JobMemberClusterRef, 0, len(list.Items))
	for _, mc := range list.Items {
		if mc.DeletionTimestamp.IsZero() {
			refs = append(refs, v1alpha1.JobMemberClusterRef{MemberClusterRef: v1alpha1.MemberClusterRef{Name: mc.Name}})
		}
	}
	slices.SortFunc(refs, func(a, b v1alpha1.JobMemberClusterRef) int { return strings.Compare(a.Name, b.Name) })
	return refs, nil
}

// observeMembers reads every eligible member's health and, from its Job cache, the DSJ's Jobs
// and their pods. Cache reads are in memory, so nothing here waits on a member.
//
// A failure to list the registrations is the hub's, not the spec's: it is returned, so the
// object is retried with backoff and its status keeps what it said.
func (r *Reconciler) observeMembers(ctx context.Context, s *scope) error {
	refs, err := r.eligibleMembers(ctx, s.dsj)
	if err != nil {
		return fmt.Errorf("list member clusters: %w", err)
	}
	sel := jobs.Selector(s.dsj.UID)
	conditions := s.dsj.Spec.ScaledJobSpec.ScalingStrategy.PendingPodConditions
	ids := r.memberIDs(ctx)
	for _, ref := range append(refs, departedMembers(s, refs)...) {
		mv := &memberView{name: ref.Name, weight: ref.GetWeight(), priority: ref.GetPriority(),
			namespace: ref.TargetNamespaceOr(s.dsj.Namespace), id: ids[ref.Name]}
		mv.departed = !slices.ContainsFunc(refs, func(r v1alpha1.JobMemberClusterRef) bool { return r.Name == ref.Name })
		mv.prev, mv.hadPrev = s.prev.MemberClusterStatuses[ref.Name]
		mv.template, mv.hash = jobs.Render(s.id, s.dsj.Spec.ScaledJobSpec.JobTargetRef, ref.PodOverrides, mv.namespace)

		m, ok := r.Registry.Get(ref.Name)
		if !ok {
			if mv.departed {
				continue // gone for good: nothing left to read or delete there
			}
			s.members = append(s.members, mv)
			mv.access, mv.reason = jobs.Unregistered, "member cluster is not registered"
			continue
		}
		s.members = append(s.members, mv)
		mv.member, mv.access = m, jobs.Unreachable
		// Started even while the member is down, so the cache lists as soon as it is back.
		cache := r.Jobs.Cache(m)
		h := m.Health()
		switch {
		case !h.Probed:
			mv.reason = "member cluster not probed yet"
			s.waitingFor = append(s.waitingFor, mv.name)
		case !h.Ready:
			mv.reason = "member API not ready (" + h.Reason + "): " + h.Message
			if cache.Synced() {
				// What the cache last saw is newer than status (a status patch may not have
				// landed before the member, or the hub, went away): count with it.
				mv.lastSeen = jobs.Tally(r.observe(s, mv, cache, sel, conditions))
			}
		case !cache.Synced():
			mv.reason = "listing Jobs and pods in the member"
			if s.now.Sub(cache.Started()) < syncTimeout {
				s.waitingFor = append(s.waitingFor, mv.name)
			}
		default:
			mv.access = jobs.Observed
			mv.jobs = r.observe(s, mv, cache, sel, conditions)
		}
	}
	return nil
}

// observe is the DSJ's Jobs in one member's cache, with the creations and deletions the cache
// has not shown yet.
func (r *Reconciler) observe(s *scope, mv *memberView, cache *member.JobCache, sel labels.Selector, conditions []string) []jobs.Job {
	pods := cache.Pods(sel)
	var seen []jobs.Job
	for _, j := range cache.Jobs(sel) {
		seen = append(seen, jobs.Observe(mv.name, j, pods, conditions))
	}
	return r.expect.reconcile(s.dsj.UID, mv.name, seen, s.now)
}

// departedMembers are the members the status still lists that left spec.memberClusters: their
// Jobs are handled by the rollout settings (jobs.Member.Departed) until none is left.
func departedMembers(s *scope, refs []v1alpha1.JobMemberClusterRef) []v1alpha1.JobMemberClusterRef {
	var out []v1alpha1.JobMemberClusterRef
	for _, name := range sortedKeys(s.prev.MemberClusterStatuses) {
		if !slices.ContainsFunc(refs, func(r v1alpha1.JobMemberClusterRef) bool { return r.Name == name }) {
			out = append(out, v1alpha1.JobMemberClusterRef{MemberClusterRef: v1alpha1.MemberClusterRef{Name: name}})
		}
	}
	return out
}

// memberIDs are the registrations' UIDs by member name (status id); empty when they cannot be
// listed (the id is display only).
func (r *Reconciler) memberIDs(ctx context.Context) map[string]string {
	var list v1alpha1.MemberClusterList
	ids := map[string]string{}
	if err := r.List(ctx, &list, client.InNamespace(r.Namespace)); err == nil {
		for _, mc := range list.Items {
			ids[mc.Name] = string(mc.UID)
		}
	}
	return ids
}

// readPeerScopes collects, under priorityFailover, the hard taint scopes that the other
// priorityFailover DSJs of the same namespace (the tenant boundary) and workload class hold, so
// that a member one of them found unable to start the class is avoided by all.
func (r *Reconciler) readPeerScopes(ctx context.Context, s *scope) {
	if strategy(s.dsj) != StrategyPriorityFailover {
		return
	}
	var list v1alpha1.DistributedScaledJobList
	if err := r.List(ctx, &list, client.InNamespace(s.dsj.Namespace)); err != nil {
		return // the DSJ's own scopes still hold
	}
	class := affinity(s.dsj).Class
	s.peerScopes = map[string][]jobs.TaintScope{}
	for i := range list.Items {
		peer := &list.Items[i]
		if peer.UID == s.dsj.UID || strategy(peer) != StrategyPriorityFailover || affinity(peer).Class != class {
			continue
		}
		for name, ms := range peer.Status.MemberClusterStatuses {
			s.peerScopes[name] = append(s.peerScopes[name], scopesOf(ms.HardTaintScopes)...)
		}
	}
}

// scopesOf turns status hardTaintScopes into the evaluation's scopes (one without an end
// holds no more).
func scopesOf(in []v1alpha1.HardTaintScope) []jobs.TaintScope {
	var out []jobs.TaintScope
	for _, h := range in {
		if h.Until == nil {
			continue
		}
		s := jobs.TaintScope{Class: h.Class, Until: h.Until.Time}
		if h.Priority != nil {
			s.Priority = *h.Priority
		}
		if h.Size != nil {
			s.Size = *h.Size
		}
		out = append(out, s)
	}
	return out
}

// planMember is what the pure evaluation needs to know about a member.
func (s *scope) planMember(mv *memberView) jobs.Member {
	pm := jobs.Member{Name: mv.name, Weight: mv.weight, Priority: mv.priority, Departed: mv.departed,
		Namespace: mv.namespace, Hash: mv.hash, Access: mv.access,
		LastKnown: mv.lastKnown(),
		Scopes:    scopesOf(mv.prev.HardTaintScopes)}
	if mv.access == jobs.Unreachable {
		pm.UnreachableSince = s.now
		if mv.prev.State == v1alpha1.MemberStateNotReady && mv.prev.LastStatusChangeTime != nil {
			pm.UnreachableSince = mv.prev.LastStatusChangeTime.Time
		}
	}
	if t := mv.prev.SoftTaintedUntil; t != nil {
		pm.Taint.SoftUntil = t.Time
	}
	if t := mv.prev.HardTaintedUntil; t != nil {
		pm.Taint.HardUntil = t.Time
	}
	return pm
}

// lastKnown is what an unobserved member counts with: its Job cache's last view when it has
// one, else the counts in status (after a restart, before the cache listed).
func (mv *memberView) lastKnown() jobs.Counts {
	if mv.lastSeen != nil {
		return *mv.lastSeen
	}
	return jobs.Counts{Running: mv.prev.RunningJobs, Pending: mv.prev.PendingJobs}
}

func (s *scope) memberView(name string) *memberView {
	for _, mv := range s.members {
		if mv.name == name {
			return mv
		}
	}
	return nil
}
