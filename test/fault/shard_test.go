package fault_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/plugin"
)

// shardFlags are one shard's flags (docs/sharding.md): its label selector, its own Lease, and
// whether it is the one shard that writes MemberCluster status.
func shardFlags(shard string, manageMembers bool) []string {
	return append([]string{
		"--watch-label-selector", "fleetscale.dev/shard=" + shard,
		"--leader-election-id", "fleetscale-shard-" + shard,
		fmt.Sprintf("--manage-member-clusters=%t", manageMembers),
	}, leaderElection...)
}

// TestShardsScaleOnlyTheirObjects runs two shards of the real controller on one hub with three
// members: shard a (label fleetscale.dev/shard=a, manages the MemberClusters) and shard b
// (shard=b, writes no MemberCluster). DSO app-a is labelled for a, app-b for b, each with its
// own ConfigMap metric. Both scale; each shard holds its own Lease. With shard a stopped,
// app-b still follows its metric while app-a does not move, and no MemberCluster's
// resourceVersion moves (shard b probes every second but never writes one). With a back and
// b stopped, app-a catches up and app-b does not move; with b back, app-b catches up.
func TestShardsScaleOnlyTheirObjects(t *testing.T) {
	h := newHarness(t)
	for _, app := range []string{"app-a", "app-b"} {
		for _, m := range h.f.Members {
			createDeployment(t, m, h.ns, app, 1)
		}
	}
	setShardMetric(t, h, "a", 30) // total 6 at target 5: 2 per member
	setShardMetric(t, h, "b", 60) // total 12: 4 per member
	applyShardDSO(t, h, "a")
	applyShardDSO(t, h, "b")
	t.Cleanup(func() { deleteShardDSOs(t, h) }) // runs before the harness stops the shards

	shardA := h.startController("shard-a", shardFlags("a", true)...)
	shardB := h.startController("shard-b", shardFlags("b", false)...)
	Eventually(func() []string { return []string{leaseOf(h, "a"), leaseOf(h, "b")} }, timeout, poll).
		Should(HaveEach(Not(BeEmpty())), "each shard holds its own Lease")
	waitMembers(t, h, "app-a", 2)
	waitMembers(t, h, "app-b", 4)

	// Shard a stopped: only app-b follows its metric; the MemberClusters are left alone.
	Expect(shardA.Stop()).To(Succeed())
	before := memberClusterVersions(h)
	setShardMetric(t, h, "a", 90)
	setShardMetric(t, h, "b", 90)
	waitMembers(t, h, "app-b", 6)
	Consistently(func() []int32 { return memberReplicas(h, "app-a") }, 5*time.Second, poll).
		Should(Equal([]int32{2, 2, 2}), "no shard but a scales app-a")
	Expect(memberClusterVersions(h)).To(Equal(before), "shard b wrote a MemberCluster")
	Consistently(func() map[string]string { return memberClusterVersions(h) }, 3*time.Second, poll).
		Should(Equal(before), "shard b writes no MemberCluster")
	ready := 0
	for i := 1; i <= 3; i++ {
		if readyCondition(memberCluster(Default, h.f, i)).Status == metav1.ConditionTrue {
			ready++
		}
	}
	Expect(ready).To(Equal(3), "the MemberClusters keep the Ready status shard a wrote")

	// Shard a back, shard b stopped: app-a catches up, app-b stays.
	h.startController("shard-a-again", shardFlags("a", true)...)
	Expect(shardB.Stop()).To(Succeed())
	waitMembers(t, h, "app-a", 6)
	setShardMetric(t, h, "b", 30)
	Consistently(func() []int32 { return memberReplicas(h, "app-b") }, 5*time.Second, poll).
		Should(Equal([]int32{6, 6, 6}), "no shard but b scales app-b")

	// Shard b back: app-b catches up.
	h.startController("shard-b-again", shardFlags("b", false)...)
	waitMembers(t, h, "app-b", 2)
}

func setShardMetric(t *testing.T, h *harness, shard string, value int) {
	t.Helper()
	fleettest.Apply(t, h.f.Hub, h.ns, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: metric-%s\ndata:\n  value: %q\n", shard, fmt.Sprint(value)))
}

// applyShardDSO creates DSO app-<shard>, labelled for its shard, over every member; its
// behavior allows any change in one step, so each metric change is one write per member.
func applyShardDSO(t *testing.T, h *harness, shard string) {
	t.Helper()
	fleettest.Apply(t, h.f.Hub, h.ns, fmt.Sprintf(`apiVersion: keda.kedify.io/v1alpha1
kind: DistributedScaledObject
metadata:
  name: app-%[1]s
  labels:
    fleetscale.dev/shard: %[1]s
spec:
  scaledObjectSpec:
    scaleTargetRef:
      kind: Deployment
      name: app-%[1]s
    pollingInterval: 1
    minReplicaCount: 1
    maxReplicaCount: 100
    advanced:
      horizontalPodAutoscalerConfig:
        behavior:
          scaleUp:
            stabilizationWindowSeconds: 0
            policies:
            - {type: Pods, value: 100, periodSeconds: 1}
          scaleDown:
            stabilizationWindowSeconds: 0
            policies:
            - {type: Pods, value: 100, periodSeconds: 1}
    triggers:
    - type: kubernetes-resource
      metadata:
        resourceKind: ConfigMap
        resourceName: metric-%[1]s
        key: value
        targetValue: "5"
`, shard))
}

// deleteShardDSOs deletes both DSOs while the shards that own them run (their finalizers).
func deleteShardDSOs(t *testing.T, h *harness) {
	ctx := context.Background()
	for _, name := range []string{"app-a", "app-b"} {
		dso := &v1alpha1.DistributedScaledObject{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: name}}
		if err := h.f.Hub.Delete(ctx, dso); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete DSO %s: %v", name, err)
			continue
		}
		if err := wait(time.Minute, func() bool { return apierrors.IsNotFound(h.f.Hub.Get(ctx, client.ObjectKeyFromObject(dso), dso)) }); err != nil {
			t.Errorf("DSO %s still there after a minute; removing its finalizers", name)
			_ = h.f.Hub.Patch(ctx, dso, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))
		}
	}
}

func leaseOf(h *harness, shard string) string { return leaseHolderNamed(h, "fleetscale-shard-"+shard) }

// waitMembers waits until every member's Deployment app holds replicas.
func waitMembers(t *testing.T, h *harness, app string, replicas int32) {
	t.Helper()
	Eventually(func() []int32 { return memberReplicas(h, app) }, timeout, poll).
		Should(Equal([]int32{replicas, replicas, replicas}), "%s in every member", app)
}

func memberReplicas(h *harness, app string) []int32 {
	out := make([]int32, len(h.f.Members))
	for i, m := range h.f.Members {
		var d appsv1.Deployment
		if err := m.Get(context.Background(), client.ObjectKey{Namespace: h.ns, Name: app}, &d); err != nil {
			out[i] = -1
			continue
		}
		out[i] = ptr.Deref(d.Spec.Replicas, 1)
	}
	return out
}

// memberClusterVersions are the MemberClusters' resourceVersions by name.
func memberClusterVersions(h *harness) map[string]string {
	var list v1alpha1.MemberClusterList
	Expect(h.f.Hub.List(context.Background(), &list, client.InNamespace(plugin.DefaultNamespace))).To(Succeed())
	out := map[string]string{}
	for _, mc := range list.Items {
		out[mc.Name] = mc.ResourceVersion
	}
	return out
}

func createDeployment(t *testing.T, c client.Client, ns, name string, replicas int32) {
	t.Helper()
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: "nginx"}}},
			},
		},
	}
	if err := c.Create(context.Background(), d); err != nil {
		t.Fatal(err)
	}
}
