package distributedscaledobject_test

import (
	"context"
	"fmt"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/plugin"
)

// widgetGVK is a custom resource with a scale subresource and no controller: the member's
// API server alone serves its /scale.
var widgetGVK = schema.GroupVersionKind{Group: "scale.fleetscale.dev", Version: "v1", Kind: "Widget"}

const widgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.scale.fleetscale.dev
spec:
  group: scale.fleetscale.dev
  names: {kind: Widget, listKind: WidgetList, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas, labelSelectorPath: .status.selector}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              replicas: {type: integer}
          status:
            type: object
            properties:
              replicas: {type: integer}
              selector: {type: string}
`

// installWidgets installs the Widget CRD in every member (idempotent) and waits until each
// member's discovery serves widgets/scale.
func installWidgets(t *testing.T, f *fleettest.Fleet) {
	t.Helper()
	for i := range f.Members {
		apply(t, f.Members[i], "", widgetCRD)
	}
	for i := range f.Members {
		disc := f.Cluster(i + 1).Clientset().Discovery()
		Eventually(func(g Gomega) {
			res, err := disc.ServerResourcesForGroupVersion(widgetGVK.GroupVersion().String())
			g.Expect(err).NotTo(HaveOccurred())
			var names []string
			for _, r := range res.APIResources {
				names = append(names, r.Name)
			}
			g.Expect(names).To(ContainElement("widgets/scale"))
		}, timeout, poll).Should(Succeed())
	}
}

func createWidget(t *testing.T, c client.Client, ns string, replicas int64) {
	t.Helper()
	w := &unstructured.Unstructured{}
	w.SetGroupVersionKind(widgetGVK)
	w.SetNamespace(ns)
	w.SetName("widget")
	w.Object["spec"] = map[string]any{"replicas": replicas}
	if err := c.Create(context.Background(), w); err != nil {
		t.Fatal(err)
	}
}

// widgetReplicas is spec.replicas of the widget in each member (-1 where it does not exist).
func widgetReplicas(f *fleettest.Fleet, ns string) []int64 {
	out := make([]int64, len(f.Members))
	for i, m := range f.Members {
		w := &unstructured.Unstructured{}
		w.SetGroupVersionKind(widgetGVK)
		if err := m.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "widget"}, w); err != nil {
			out[i] = -1
			continue
		}
		out[i], _, _ = unstructured.NestedInt64(w.Object, "spec", "replicas")
	}
	return out
}

func widgetDSO(members string) string {
	return fmt.Sprintf(`apiVersion: keda.kedify.io/v1alpha1
kind: DistributedScaledObject
metadata:
  name: widget
spec:
%s  scaledObjectSpec:
    scaleTargetRef:
      apiVersion: scale.fleetscale.dev/v1
      kind: Widget
      name: widget
    pollingInterval: 1
    maxReplicaCount: 12
    triggers:
    - type: kubernetes-resource
      metadata:
        resourceKind: ConfigMap
        resourceName: mock-metric
        key: metric-value
        targetValue: "5"
`, members)
}

// A DSO whose target is a custom resource with a scale subresource scales it in every member
// with exactly the credentials setup-member grants (*/scale; no list or watch of the kind):
// the target is read and written through /scale only. Its /scale declares no selector here,
// so no ready count is known and no member is ever treated as slow.
func TestCustomResourceTargetScalesThroughScaleSubresource(t *testing.T) {
	RegisterTestingT(t)
	f := shared.Fleet(t)
	installWidgets(t, f)
	ns := namespace(t, f)
	for _, m := range f.Members {
		createWidget(t, m, ns, 1)
	}
	setMetric(t, f, ns, "30")
	apply(t, f.Hub, ns, widgetDSO(""))
	Eventually(func() []int64 { return widgetReplicas(f, ns) }, timeout, poll).Should(Equal([]int64{2, 2, 2}))
	Eventually(func(g Gomega) {
		dso := getDSO(g, f, ns, "widget")
		g.Expect(dso.Status.MembersHealthyCount).To(BeEquivalentTo(3))
		for _, ms := range dso.Status.MemberClusterStatuses {
			g.Expect(ms.State).To(Equal("Ready"))
			g.Expect(ms.CurrentReplicas).To(BeEquivalentTo(2))
			g.Expect(ms.ReadyReplicas).To(BeNil(), "a /scale without a selector reports no ready count")
		}
	}, timeout, poll).Should(Succeed())

	setMetric(t, f, ns, "45")
	Eventually(func() []int64 { return widgetReplicas(f, ns) }, timeout, poll).Should(Equal([]int64{3, 3, 3}))
}

// A target read that fails for good marks that member unhealthy in this DSO's status with the
// reason, at once (no wait for a first read that cannot come), and the healthy members still
// scale: in member 2 the target does not exist (404); member 3 is registered a second time
// with --scale-api-groups apps, so its /scale of a Widget is forbidden (403).
func TestUnreadableTargetsShowPerMemberReasons(t *testing.T) {
	RegisterTestingT(t)
	f := shared.Fleet(t)
	ctx := context.Background()
	installWidgets(t, f)
	const restricted = "scale-apps-only"
	_, err := plugin.SetupMember(ctx, plugin.SetupOptions{Name: restricted, Hub: f.Env.Hub.Config, Member: f.Cluster(3).Config, ScaleAPIGroups: []string{"apps"}})
	Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() {
		_, err := plugin.DeleteMember(ctx, plugin.DeleteOptions{Name: restricted, Hub: f.Env.Hub.Config, Member: f.Cluster(3).Config, Yes: true})
		Expect(err).NotTo(HaveOccurred())
	})
	Eventually(func(g Gomega) {
		var mc v1alpha1.MemberCluster
		g.Expect(f.Hub.Get(ctx, client.ObjectKey{Namespace: plugin.DefaultNamespace, Name: restricted}, &mc)).To(Succeed())
		g.Expect(mc.Status.State).To(Equal(v1alpha1.MemberStateReady))
	}, timeout, poll).Should(Succeed())

	ns := namespace(t, f)
	createWidget(t, f.Member(1), ns, 1)
	createWidget(t, f.Member(3), ns, 1)
	setMetric(t, f, ns, "30")
	apply(t, f.Hub, ns, widgetDSO(fmt.Sprintf("  memberClusters:\n  - name: %s\n  - name: %s\n  - name: %s\n",
		fleettest.MemberName(1), fleettest.MemberName(2), restricted)))

	Eventually(func(g Gomega) {
		dso := getDSO(g, f, ns, "widget")
		g.Expect(dso.Status.LastEvaluationTime).NotTo(BeNil(), "evaluated without waiting: %+v", dso.Status.Conditions)
		st := dso.Status.MemberClusterStatuses
		g.Expect(st).To(HaveKey(fleettest.MemberName(2)))
		g.Expect(st).To(HaveKey(restricted))
		g.Expect(st[fleettest.MemberName(2)].State).NotTo(Equal("Ready"))
		g.Expect(st[fleettest.MemberName(2)].Description).To(ContainSubstring("Widget " + ns + "/widget not found"))
		g.Expect(st[restricted].State).NotTo(Equal("Ready"))
		g.Expect(st[restricted].Description).To(And(ContainSubstring("cannot read Widget "+ns+"/widget"), ContainSubstring("forbidden")))
		g.Expect(st[fleettest.MemberName(1)].State).To(Equal("Ready"))
		g.Expect(dso.Status.MembersHealthyCount).To(BeEquivalentTo(1))
	}, timeout, poll).Should(Succeed())
	Eventually(func() int64 { return widgetReplicas(f, ns)[0] }, timeout, poll).Should(BeNumerically(">=", 2),
		"the healthy member scales")
	// Nothing was written where the target could not be read: member 3's widget is the
	// restricted registration's target and keeps its replica.
	Expect(widgetReplicas(f, ns)[2]).To(BeEquivalentTo(1))
}
