package distributedscaledjob_test

import (
	"context"
	"fmt"
	"testing"

	. "github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/jobs"
	"github.com/fleetscale/fleetscale/internal/tenancy"
)

// tenantDSJ is a DSJ named name over members (YAML list items, indented 2) with extra pod spec
// lines (indented 10).
func tenantDSJ(name, members, podSpec string) string {
	return fmt.Sprintf(`apiVersion: keda.kedify.io/v1alpha1
kind: DistributedScaledJob
metadata:
  name: %s
spec:
  memberClusters:
%s
  scaledJobSpec:
    maxReplicaCount: 1
    triggers:
    - type: kubernetes-resource
      metadata:
        resourceKind: ConfigMap
        resourceName: mock-metric
        key: metric-value
        targetValue: "1"
    jobTargetRef:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: main
            image: busybox
%s`, name, members, podSpec)
}

// A tenant who may manage DSJs in one hub namespace tries three ways out: Jobs in member
// kube-system, a privileged hostPID pod template, and a podOverride that unconfines AppArmor
// in one member. Without a TenantPolicy (and without the chart's admission policy, as in
// `make dev-up`) each DSJ is refused as a whole, with its reason and a Warning Event, and no
// Job is created in any member. A TenantPolicy allowing kube-system and privileged pods lets
// the first two run; once it is withdrawn, deleting the DSJ leaves its Jobs in kube-system
// alone.
func TestTenantJobsStayInTheirNamespaceAndPodSecurity(t *testing.T) {
	RegisterTestingT(t)
	f := shared.Fleet(t)
	ns := namespace(t, f)
	ctx := context.Background()
	setMetric(t, f, ns, "1")
	tenant := f.Tenant(t, ns, "bob")
	m1, m2 := fleettest.MemberName(1), fleettest.MemberName(2)
	apply(t, tenant, ns, tenantDSJ("foreign", "  - name: "+m1+"\n    targetNamespace: kube-system", ""))
	apply(t, tenant, ns, tenantDSJ("privileged", "  - name: "+m1, `            securityContext:
              privileged: true
          hostPID: true
`))
	apply(t, tenant, ns, tenantDSJ("override", "  - name: "+m1+"\n  - name: "+m2+`
    podOverrides:
      annotations:
        container.apparmor.security.beta.kubernetes.io/main: unconfined`, ""))

	refusedWith := func(name, reason string, parts ...string) {
		t.Helper()
		Eventually(func(g Gomega) {
			dsj := getDSJ(g, f, ns, name)
			ready := condition(dsj, v1alpha1.ConditionReady)
			g.Expect(ready.Status).To(BeEquivalentTo("False"))
			g.Expect(ready.Reason).To(Equal(reason))
			g.Expect(ready.ObservedGeneration).To(Equal(dsj.Generation))
			for _, p := range parts {
				g.Expect(ready.Message).To(ContainSubstring(p))
			}
			g.Expect(eventNotes(g, f, ns, name, reason)).To(ContainElement(ContainSubstring(parts[0])))
		}, timeout, poll).Should(Succeed(), name)
	}
	refusedWith("foreign", tenancy.ReasonNamespaceNotAllowed, `member namespace "kube-system" is not allowed`, "member cluster "+m1)
	refusedWith("privileged", tenancy.ReasonPodSecurityViolation, `violates Pod Security level "baseline"`, "hostPID=true",
		`container "main" must not set securityContext.privileged=true`, "spec.podSecurity.level: privileged")
	refusedWith("override", tenancy.ReasonPodSecurityViolation, "AppArmor", "member cluster "+m2)

	uids := map[string]types.UID{}
	for _, name := range []string{"foreign", "privileged", "override"} {
		uids[name] = getDSJ(Default, f, ns, name).UID
		Expect(total(count(Default, f, uids[name], func(batchv1.Job) bool { return true }))).To(BeZero(), "Jobs of the refused DSJ %s", name)
	}

	// The hub admin allows kube-system and privileged pods for this namespace.
	f.TenantPolicy(t, ns, v1alpha1.TenantPolicySpec{Namespaces: []string{ns}, TargetNamespaces: []string{metav1.NamespaceSystem},
		PodSecurity: &v1alpha1.PodSecurity{Level: v1alpha1.PodSecurityPrivileged}})
	jobsIn := func(uid types.UID, namespace string) func(Gomega) int {
		return func(g Gomega) int {
			n := 0
			for _, j := range memberJobs(g, f, 1, uid) {
				if j.Namespace == namespace {
					n++
				}
			}
			return n
		}
	}
	Eventually(jobsIn(uids["foreign"], metav1.NamespaceSystem), timeout, poll).Should(BeNumerically(">=", 1))
	Eventually(jobsIn(uids["privileged"], ns), timeout, poll).Should(BeNumerically(">=", 1))
	t.Cleanup(func() {
		_ = f.Member(1).DeleteAllOf(ctx, &batchv1.Job{}, client.InNamespace(metav1.NamespaceSystem),
			client.MatchingLabelsSelector{Selector: jobs.Selector(uids["foreign"])}, client.PropagationPolicy(metav1.DeletePropagationBackground))
	})

	// Withdrawn: refused again; the DSJ's deletion leaves its Jobs in kube-system alone.
	f.DeleteTenantPolicy(t, ns)
	refusedWith("foreign", tenancy.ReasonNamespaceNotAllowed, `member namespace "kube-system" is not allowed`)
	left := jobsIn(uids["foreign"], metav1.NamespaceSystem)(Default)
	Expect(tenant.Delete(ctx, &v1alpha1.DistributedScaledJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "foreign"}})).To(Succeed())
	Eventually(func() bool {
		return apierrors.IsNotFound(f.Hub.Get(ctx, client.ObjectKey{Namespace: ns, Name: "foreign"}, &v1alpha1.DistributedScaledJob{}))
	}, timeout, poll).Should(BeTrue())
	Expect(eventNotes(Default, f, ns, "foreign", "JobsLeft")).To(ContainElement(ContainSubstring(m1 + ":kube-system/")))
	Expect(jobsIn(uids["foreign"], metav1.NamespaceSystem)(Default)).To(Equal(left))
}
