package distributedscaledjob

import (
	"context"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/jobs"
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
func (r *Reconciler) observeMembers(ctx context.Context, s *scope) {
	refs, err := r.eligibleMembers(ctx, s.dsj)
	if err != nil {
		s.specError = "listing member clusters: " + err.Error()
		return
	}
	sel := jobs.Selector(s.dsj.UID)
	conditions := s.dsj.Spec.ScaledJobSpec.ScalingStrategy.PendingPodConditions
	for _, ref := range refs {
		mv := &memberView{name: ref.Name, weight: ref.GetWeight(), namespace: ref.TargetNamespaceOr(s.dsj.Namespace)}
		mv.prev, mv.hadPrev = s.prev.MemberClusterStatuses[ref.Name]
		mv.template, mv.hash = jobs.Render(s.id, s.dsj.Spec.ScaledJobSpec.JobTargetRef, ref.PodOverrides, mv.namespace)
		s.members = append(s.members, mv)

		m, ok := r.Registry.Get(ref.Name)
		if !ok {
			mv.access, mv.reason = jobs.Unregistered, "member cluster is not registered"
			continue
		}
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
		case !cache.Synced():
			mv.reason = "listing Jobs and pods in the member"
			if s.now.Sub(cache.Started()) < syncTimeout {
				s.waitingFor = append(s.waitingFor, mv.name)
			}
		default:
			mv.access = jobs.Observed
			pods := cache.Pods(sel)
			var seen []jobs.Job
			for _, j := range cache.Jobs(sel) {
				seen = append(seen, jobs.Observe(mv.name, j, pods, conditions))
			}
			mv.jobs = r.expect.reconcile(s.dsj.UID, mv.name, seen, s.now)
		}
	}
}

// planMember is what the pure evaluation needs to know about a member.
func (s *scope) planMember(mv *memberView) jobs.Member {
	pm := jobs.Member{Name: mv.name, Weight: mv.weight, Namespace: mv.namespace, Hash: mv.hash, Access: mv.access,
		LastKnown: jobs.Counts{Running: mv.prev.RunningJobs, Pending: mv.prev.PendingJobs}}
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

func (s *scope) memberView(name string) *memberView {
	for _, mv := range s.members {
		if mv.name == name {
			return mv
		}
	}
	return nil
}
