package distributedscaledobject_test

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
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/tenancy"
)

// A tenant who may manage DSOs in one hub namespace points one at member kube-system, where
// the member credentials could scale anything. Without a TenantPolicy (and without the
// chart's admission policy, as in `make dev-up`) the controller refuses it: Ready=False,
// NamespaceNotAllowed, a Warning Event, and the Deployment in kube-system is not touched.
// A TenantPolicy allowing the mapping lets it scale at once; withdrawing it stops it at
// once, and deleting the DSO then does not restore anything in kube-system either.
func TestTenantCannotActOutsideItsNamespace(t *testing.T) {
	RegisterTestingT(t)
	f := shared.Fleet(t)
	ns := namespace(t, f)
	ctx := context.Background()
	kubeSystem := f.Member(1)
	victim := "victim-" + ns
	createDeployment(t, kubeSystem, metav1.NamespaceSystem, victim, 1)
	t.Cleanup(func() {
		_ = kubeSystem.Delete(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: victim}})
	})
	setMetric(t, f, ns, "20")
	tenant := f.Tenant(t, ns, "alice")
	apply(t, tenant, ns, fmt.Sprintf(`apiVersion: keda.kedify.io/v1alpha1
kind: DistributedScaledObject
metadata:
  name: escape
spec:
  memberClusters:
  - name: %s
    targetNamespace: kube-system
  scaledObjectSpec:
    scaleTargetRef:
      name: %s
    pollingInterval: 1
    advanced:
      restoreToOriginalReplicaCount: true
    triggers:
    - type: kubernetes-resource
      metadata:
        resourceKind: ConfigMap
        resourceName: mock-metric
        key: metric-value
        targetValue: "5"
`, fleettest.MemberName(1), victim))

	refused := func(g Gomega) {
		dso := getDSO(g, f, ns, "escape")
		ready := condition(dso, v1alpha1.ConditionReady)
		g.Expect(ready.Reason).To(Equal(tenancy.ReasonNamespaceNotAllowed))
		g.Expect(ready.Status).To(BeEquivalentTo("False"))
		g.Expect(ready.ObservedGeneration).To(Equal(dso.Generation))
		g.Expect(ready.Message).To(ContainSubstring(`member cluster k3d-member-1: member namespace "kube-system" is not allowed for objects in hub namespace %q`, ns))
		g.Expect(ready.Message).To(ContainSubstring("TenantPolicy that selects namespace %q", ns))
	}
	Eventually(refused, timeout, poll).Should(Succeed())
	Eventually(func(g Gomega) []string { return eventNotes(g, f, ns, "escape", tenancy.ReasonNamespaceNotAllowed) }, timeout, poll).
		Should(ContainElement(ContainSubstring(`member namespace "kube-system" is not allowed`)))
	Expect(getDSO(Default, f, ns, "escape").Status.MemberClusterStatuses).To(BeEmpty(), "the refused DSO read nothing in the member")
	Expect(deploymentReplicas(kubeSystem, metav1.NamespaceSystem, victim)).To(BeEquivalentTo(1))

	// The hub admin allows team namespace → kube-system: the DSO scales there at once.
	f.TenantPolicy(t, ns, v1alpha1.TenantPolicySpec{Namespaces: []string{ns}, TargetNamespaces: []string{metav1.NamespaceSystem}})
	Eventually(func() int32 { return deploymentReplicas(kubeSystem, metav1.NamespaceSystem, victim) }, timeout, poll).Should(BeEquivalentTo(4))

	// Withdrawn: refused again, and nothing moves whatever the metric says.
	f.DeleteTenantPolicy(t, ns)
	Eventually(refused, timeout, poll).Should(Succeed())
	setMetric(t, f, ns, "40")
	Consistently(func() int32 { return deploymentReplicas(kubeSystem, metav1.NamespaceSystem, victim) }, 2*time.Second, poll).Should(BeEquivalentTo(4))

	// Deleting it releases the finalizer without restoring the Deployment in kube-system.
	Expect(tenant.Delete(ctx, &v1alpha1.DistributedScaledObject{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "escape"}})).To(Succeed())
	Eventually(func() bool {
		err := f.Hub.Get(ctx, client.ObjectKey{Namespace: ns, Name: "escape"}, &v1alpha1.DistributedScaledObject{})
		return apierrors.IsNotFound(err)
	}, timeout, poll).Should(BeTrue())
	Expect(eventNotes(Default, f, ns, "escape", "RestoreSkipped")).To(ContainElement(ContainSubstring("Not restoring Deployment kube-system/" + victim)))
	Expect(deploymentReplicas(kubeSystem, metav1.NamespaceSystem, victim)).To(BeEquivalentTo(4))
}

func createDeployment(t testing.TB, c client.Client, ns, name string, replicas int32) {
	t.Helper()
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
			},
		},
	}
	if err := c.Create(context.Background(), d); err != nil {
		t.Fatal(err)
	}
}

func deploymentReplicas(c client.Client, ns, name string) int32 {
	var d appsv1.Deployment
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &d); err != nil {
		return -1
	}
	return ptr.Deref(d.Spec.Replicas, 1)
}
