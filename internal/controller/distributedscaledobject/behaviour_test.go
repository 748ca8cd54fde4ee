package distributedscaledobject_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/fleettest"
)

// dsoManifest is the walkthrough's DSO with extra scaledObjectSpec lines (indented 4).
func dsoManifest(extraSpec string) string {
	return `apiVersion: keda.kedify.io/v1alpha1
kind: DistributedScaledObject
metadata:
  name: nginx
spec:
  scaledObjectSpec:
    scaleTargetRef:
      kind: Deployment
      name: nginx
    pollingInterval: 1
    triggers:
    - type: kubernetes-resource
      metadata:
        resourceKind: ConfigMap
        resourceName: mock-metric
        key: metric-value
        targetValue: "5"
` + extraSpec
}

// fleetWith creates a namespace with nginx at the given replicas in each member.
func fleetWith(t *testing.T, perMember ...int32) (*fleettest.Fleet, string) {
	t.Helper()
	RegisterTestingT(t)
	f := shared.Fleet(t)
	ns := namespace(t, f)
	for i, m := range f.Members {
		createNginx(t, m, ns, perMember[i])
	}
	return f, ns
}

func TestPausedReplicasPinTheTotalAndPausedFreezesIt(t *testing.T) {
	f, ns := fleetWith(t, 1, 1, 1)
	setMetric(t, f, ns, "20")
	apply(t, f.Hub, ns, dsoManifest("    maxReplicaCount: 10\n"))
	Eventually(func() int32 { return sum(replicas(f, ns)) }, timeout, poll).Should(BeEquivalentTo(4))

	patchDSO(t, f, ns, "nginx", `{"metadata":{"annotations":{"autoscaling.keda.sh/paused-replicas":"7"}}}`)
	Eventually(func() int32 { return sum(replicas(f, ns)) }, timeout, poll).Should(BeEquivalentTo(7))
	Eventually(func(g Gomega) {
		g.Expect(condition(getDSO(g, f, ns, "nginx"), v1alpha1.ConditionPaused).Status).To(BeEquivalentTo("True"))
	}, timeout, poll).Should(Succeed())

	// paused: the total stays where it is whatever the metric says.
	patchDSO(t, f, ns, "nginx", `{"metadata":{"annotations":{"autoscaling.keda.sh/paused-replicas":null,"autoscaling.keda.sh/paused":"true"}}}`)
	setMetric(t, f, ns, "45")
	Consistently(func() int32 { return sum(replicas(f, ns)) }, 3*time.Second, poll).Should(BeEquivalentTo(7))

	patchDSO(t, f, ns, "nginx", `{"metadata":{"annotations":{"autoscaling.keda.sh/paused":null}}}`)
	Eventually(func() int32 { return sum(replicas(f, ns)) }, timeout, poll).Should(BeEquivalentTo(9))
	Eventually(func(g Gomega) {
		g.Expect(condition(getDSO(g, f, ns, "nginx"), v1alpha1.ConditionPaused).Status).To(BeEquivalentTo("False"))
	}, timeout, poll).Should(Succeed())
}

func TestScaleToZeroAfterCooldownAndBack(t *testing.T) {
	f, ns := fleetWith(t, 1, 1, 1)
	setMetric(t, f, ns, "20")
	apply(t, f.Hub, ns, dsoManifest("    minReplicaCount: 0\n    cooldownPeriod: 2\n"))
	Eventually(func() int32 { return sum(replicas(f, ns)) }, timeout, poll).Should(BeEquivalentTo(4))

	setMetric(t, f, ns, "0")
	Eventually(func(g Gomega) {
		dso := getDSO(g, f, ns, "nginx")
		g.Expect(condition(dso, v1alpha1.ConditionScaledObjectActive).Status).To(BeEquivalentTo("False"))
	}, timeout, poll).Should(Succeed())
	Eventually(func() []int32 { return replicas(f, ns) }, timeout, poll).Should(Equal([]int32{0, 0, 0}))

	setMetric(t, f, ns, "20")
	Eventually(func() int32 { return sum(replicas(f, ns)) }, timeout, poll).Should(BeEquivalentTo(4))
}

// A trigger that cannot be read sets Ready=False with the reason, records a TriggerError
// event, and scales nothing down.
func TestTriggerErrorScalesNothingDown(t *testing.T) {
	f, ns := fleetWith(t, 2, 2, 2)
	apply(t, f.Hub, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mock-metric\ndata:\n  other-key: \"1\"\n")
	apply(t, f.Hub, ns, dsoManifest("    minReplicaCount: 1\n"))
	Eventually(func(g Gomega) {
		ready := condition(getDSO(g, f, ns, "nginx"), v1alpha1.ConditionReady)
		g.Expect(ready.Status).To(BeEquivalentTo("False"))
		g.Expect(ready.Message).To(ContainSubstring(`has no key "metric-value"`))
		g.Expect(eventNotes(g, f, ns, "nginx", "TriggerError")).To(ContainElement(ContainSubstring(`has no key "metric-value"`)))
	}, timeout, poll).Should(Succeed())
	Consistently(func() []int32 { return replicas(f, ns) }, 3*time.Second, poll).Should(Equal([]int32{2, 2, 2}))

	setMetric(t, f, ns, "lots")
	Eventually(func(g Gomega) {
		g.Expect(condition(getDSO(g, f, ns, "nginx"), v1alpha1.ConditionReady).Message).To(ContainSubstring("is not a number"))
	}, timeout, poll).Should(Succeed())
	Consistently(func() []int32 { return replicas(f, ns) }, 2*time.Second, poll).Should(Equal([]int32{2, 2, 2}))

	setMetric(t, f, ns, "40")
	Eventually(func(g Gomega) {
		g.Expect(condition(getDSO(g, f, ns, "nginx"), v1alpha1.ConditionReady).Status).To(BeEquivalentTo("True"))
		g.Expect(sum(replicas(f, ns))).To(BeEquivalentTo(8))
	}, timeout, poll).Should(Succeed())
}

func TestUnsupportedTriggerTypeIsReportedAndNothingScales(t *testing.T) {
	f, ns := fleetWith(t, 1, 1, 1)
	apply(t, f.Hub, ns, `apiVersion: keda.kedify.io/v1alpha1
kind: DistributedScaledObject
metadata:
  name: nginx
spec:
  scaledObjectSpec:
    scaleTargetRef:
      name: nginx
    triggers:
    - type: rabbitmq
      metadata:
        queueName: jobs
`)
	Eventually(func(g Gomega) {
		ready := condition(getDSO(g, f, ns, "nginx"), v1alpha1.ConditionReady)
		g.Expect(ready.Status).To(BeEquivalentTo("False"))
		g.Expect(ready.Reason).To(Equal("InvalidSpec"))
		g.Expect(ready.Message).To(ContainSubstring(`unsupported trigger type "rabbitmq"`))
	}, timeout, poll).Should(Succeed())
	Consistently(func() []int32 { return replicas(f, ns) }, 2*time.Second, poll).Should(Equal([]int32{1, 1, 1}))
}

// After failureThreshold consecutive errors the fallback replicas apply (static behavior).
func TestFallbackReplicasAfterRepeatedErrors(t *testing.T) {
	f, ns := fleetWith(t, 1, 1, 1)
	apply(t, f.Hub, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mock-metric\ndata:\n  other-key: \"1\"\n")
	apply(t, f.Hub, ns, dsoManifest("    fallback:\n      failureThreshold: 2\n      replicas: 6\n"))
	Eventually(func() []int32 { return replicas(f, ns) }, timeout, poll).Should(Equal([]int32{2, 2, 2}))
	Eventually(func(g Gomega) {
		g.Expect(condition(getDSO(g, f, ns, "nginx"), v1alpha1.ConditionFallback).Status).To(BeEquivalentTo("True"))
	}, timeout, poll).Should(Succeed())
}

// Deleting a DSO leaves member workloads as they are, unless restoreToOriginalReplicaCount
// asks to restore what they had before the DSO took them over.
func TestDeletionRestoresOriginalReplicasOnlyWhenAsked(t *testing.T) {
	for _, restore := range []bool{false, true} {
		t.Run(fmt.Sprintf("restore=%v", restore), func(t *testing.T) {
			f, ns := fleetWith(t, 1, 2, 1)
			setMetric(t, f, ns, "50")
			apply(t, f.Hub, ns, dsoManifest(fmt.Sprintf("    advanced:\n      restoreToOriginalReplicaCount: %v\n", restore)))
			Eventually(func() int32 { return sum(replicas(f, ns)) }, timeout, poll).Should(BeEquivalentTo(10))
			scaled := replicas(f, ns)
			dso := &v1alpha1.DistributedScaledObject{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nginx"}}
			Expect(f.Hub.Delete(context.Background(), dso)).To(Succeed())
			Eventually(func() bool {
				err := f.Hub.Get(context.Background(), client.ObjectKeyFromObject(dso), dso)
				return apierrors.IsNotFound(err)
			}, timeout, poll).Should(BeTrue())
			if restore {
				Eventually(func() []int32 { return replicas(f, ns) }, timeout, poll).Should(Equal([]int32{1, 2, 1}))
			} else {
				Consistently(func() []int32 { return replicas(f, ns) }, 2*time.Second, poll).Should(Equal(scaled))
			}
		})
	}
}

// A hung member (SIGSTOP) neither delays nor blocks the others: a new total reaches members 1
// and 2 while member 3 does not answer, and member 3 stays included during the grace period.
func TestHungMemberDoesNotDelayTheOthers(t *testing.T) {
	f, ns := fleetWith(t, 1, 1, 1)
	setMetric(t, f, ns, "20")
	apply(t, f.Hub, ns, dsoManifest("    maxReplicaCount: 10\n"))
	Eventually(func() int32 { return sum(replicas(f, ns)) }, timeout, poll).Should(BeEquivalentTo(4))
	before := replicas(f, ns)

	Expect(f.Cluster(3).Hang()).To(Succeed())
	defer func() { Expect(f.Cluster(3).Resume()).To(Succeed()) }()
	setMetric(t, f, ns, "50")
	// Members 1 and 2 read without touching member 3's API (which would block).
	got := func() []int32 {
		r := make([]int32, 2)
		for i := range r {
			var d appsv1.Deployment
			if err := f.Member(i+1).Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "nginx"}, &d); err == nil {
				r[i] = *d.Spec.Replicas
			}
		}
		return r
	}
	Eventually(func() int32 { r := got(); return r[0] + r[1] }, 20*time.Second, poll).Should(BeNumerically(">", before[0]+before[1]))
	Eventually(func(g Gomega) {
		m3 := getDSO(g, f, ns, "nginx").Status.MemberClusterStatuses[fleettest.MemberName(3)]
		g.Expect(m3.Excluded).To(BeFalse(), "within the grace period")
		g.Expect(m3.CurrentReplicas).To(Equal(before[2]), "its last known replicas are kept while it does not answer")
	}, timeout, poll).Should(Succeed())
}

// spec.memberClusters[].targetNamespace points a member at another namespace than the DSO's
// (which a hub admin allows with a TenantPolicy).
func TestTargetNamespacePerMember(t *testing.T) {
	RegisterTestingT(t)
	f := shared.Fleet(t)
	ns := namespace(t, f)
	other := namespace(t, f)
	f.TenantPolicy(t, ns, v1alpha1.TenantPolicySpec{Namespaces: []string{ns}, TargetNamespaces: []string{other}})
	createNginx(t, f.Member(1), ns, 1)
	createNginx(t, f.Member(2), other, 1)
	setMetric(t, f, ns, "30")
	apply(t, f.Hub, ns, fmt.Sprintf(`apiVersion: keda.kedify.io/v1alpha1
kind: DistributedScaledObject
metadata:
  name: nginx
spec:
  memberClusters:
  - name: %s
  - name: %s
    targetNamespace: %s
  scaledObjectSpec:
    scaleTargetRef:
      name: nginx
    triggers:
    - type: kubernetes-resource
      metadata:
        resourceKind: ConfigMap
        resourceName: mock-metric
        key: metric-value
        targetValue: "5"
`, fleettest.MemberName(1), fleettest.MemberName(2), other))
	Eventually(func() int32 { return replicas(f, ns)[0] + replicas(f, other)[1] }, timeout, poll).Should(BeEquivalentTo(4))
	Eventually(func() int32 { return replicas(f, ns)[0] + replicas(f, other)[1] }, timeout, poll).Should(BeEquivalentTo(6))
	Expect(replicas(f, ns)[0]).To(BeEquivalentTo(3))
	Expect(replicas(f, other)[1]).To(BeEquivalentTo(3))
}
