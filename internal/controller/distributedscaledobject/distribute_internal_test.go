package distributedscaledobject

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/distribution"
)

// Status keeps whole seconds: a member that turned unhealthy at 10:00:00.9 reads back as
// unhealthy since 10:00:00. Its grace period must still last at least the full 5s, and a
// rebalancing step stored the same way must be at least one step interval after the last.
func TestStoredSecondsNeverShortenGraceOrStepInterval(t *testing.T) {
	went := time.Date(2026, 1, 1, 10, 0, 0, 900_000_000, time.UTC)
	stored := &metav1.Time{Time: went.Truncate(time.Second)}
	eval := func(now time.Time, state distribution.State, desired [2]int32, lastStep *metav1.Time) *scope {
		dso := &v1alpha1.DistributedScaledObject{
			Spec: v1alpha1.DistributedScaledObjectSpec{
				RebalancingPolicy: &v1alpha1.RebalancingPolicy{GracePeriod: "5s", MaxRebalancePercentage: ptr.To[int32](25)},
				ScaledObjectSpec:  v1alpha1.ScaledObjectSpec{ScaleTargetRef: &v1alpha1.ScaleTarget{Name: "nginx"}},
			},
			Status: v1alpha1.DistributedScaledObjectStatus{
				LastRebalanceTime: lastStep,
				MemberClusterStatuses: map[string]v1alpha1.ScaledMemberStatus{
					"a": {State: string(state), DesiredReplicas: desired[0], LastStatusChangeTime: stored},
					"b": {State: string(distribution.StateReady), DesiredReplicas: desired[1], LastStatusChangeTime: stored},
				},
			},
		}
		s := newScope(dso, now)
		s.total = 8
		s.members = []*memberView{
			{name: "a", weight: 1},
			{name: "b", weight: 1, apiReady: true, observed: true, targetExists: true, current: desired[1]},
		}
		(&Reconciler{SyncPeriod: 2 * time.Second}).distribute(s)
		return s
	}

	if s := eval(went.Add(4900*time.Millisecond), distribution.StateUnhealthy, [2]int32{4, 4}, nil); s.members[0].result.Excluded {
		t.Errorf("excluded 4.9s after it turned unhealthy, grace 5s: %+v", s.members[0].result)
	}
	s := eval(went.Add(5300*time.Millisecond), distribution.StateUnhealthy, [2]int32{4, 4}, nil)
	if !s.members[0].result.Excluded || s.members[1].result.Desired != 6 {
		t.Fatalf("not excluded, or no step of 2, 5.3s after it turned unhealthy: %+v", s.members)
	}
	step := s.dso.Status.LastRebalanceTime
	if step == nil {
		t.Fatal("no rebalancing step recorded")
	}
	// The step at 10:00:06.2 reads back as 10:00:06, taken as 10:00:06.999…: the next step
	// comes 2s after that, up to 1s later than needed but never earlier.
	storedStep := &metav1.Time{Time: step.Truncate(time.Second)}
	if s := eval(step.Add(1900*time.Millisecond), distribution.StateExcluded, [2]int32{2, 6}, storedStep); s.members[1].result.Desired != 6 {
		t.Errorf("second step 1.9s after the first, interval 2s: %+v", s.members[1].result)
	} else if !s.dso.Status.LastRebalanceTime.Equal(storedStep) {
		t.Errorf("lastRebalanceTime rewritten without a step: %v", s.dso.Status.LastRebalanceTime)
	}
	if s := eval(step.Add(2900*time.Millisecond), distribution.StateExcluded, [2]int32{2, 6}, storedStep); s.members[1].result.Desired != 8 {
		t.Errorf("no second step 2.9s after the first: %+v", s.members[1].result)
	}
}
