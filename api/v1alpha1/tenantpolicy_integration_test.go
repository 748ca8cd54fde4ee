package v1alpha1_test

import (
	"context"
	"fmt"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

func tenantPolicy(t *testing.T, name, spec string) *unstructured.Unstructured {
	t.Helper()
	var obj map[string]any
	doc := fmt.Sprintf("apiVersion: keda.kedify.io/v1alpha1\nkind: TenantPolicy\nmetadata:\n  name: %s\nspec:\n%s", name, spec)
	if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: obj}
}

// A TenantPolicy using every field is accepted as written; broken ones are rejected at apply
// time, naming the field.
func TestTenantPolicyValidation(t *testing.T) {
	g := NewWithT(t)
	c := hubClient(t)
	ctx := context.Background()
	valid := tenantPolicy(t, "valid", `  namespaces: [team-a, team-b]
  namespaceSelector:
    matchLabels: {tier: apps}
    matchExpressions: [{key: env, operator: In, values: [prod]}, {key: legacy, operator: DoesNotExist}]
  targetNamespaces: [kube-system, "shared-*", "*"]
  clusterTriggerAuthentications: [aws-credentials, "*"]
  externalAddresses:
    allow:
    - {host: "*.team-a.svc.cluster.local", ports: [9090]}
    - {host: fd00::1}
    - {cidr: 10.0.0.0/8}
  podSecurity: {level: restricted}
`)
	g.Expect(c.Create(ctx, valid)).To(Succeed())
	var tp v1alpha1.TenantPolicy
	g.Expect(c.Get(ctx, client.ObjectKey{Name: "valid"}, &tp)).To(Succeed())
	g.Expect(tp.Spec.ExternalAddresses.Allow).To(HaveLen(3))
	g.Expect(tp.Namespace).To(BeEmpty(), "cluster-scoped")
	g.Expect(c.Create(ctx, tenantPolicy(t, "nothing-allowed", "  namespaceSelector: {}\n  externalAddresses: {allow: []}\n"))).To(Succeed())

	for _, tc := range []struct {
		name, spec string
		want       []string
	}{
		{"selects nothing", "  targetNamespaces: [x]\n", []string{"select hub namespaces with namespaces, namespaceSelector or both"}},
		{"namespace not a DNS label", "  namespaces: [Team_A]\n", []string{"spec.namespaces[0]", "should match"}},
		{"target pattern with a leading wildcard", "  namespaces: [a]\n  targetNamespaces: [\"*-system\"]\n", []string{"spec.targetNamespaces[0]", "should match"}},
		{"In without values", "  namespaceSelector: {matchExpressions: [{key: a, operator: In}]}\n", []string{"operator In or NotIn needs values"}},
		{"unknown operator", "  namespaceSelector: {matchExpressions: [{key: a, operator: Like, values: [b]}]}\n", []string{"operator In or NotIn needs values"}},
		{"host and cidr", "  namespaces: [a]\n  externalAddresses: {allow: [{host: a.b, cidr: 10.0.0.0/8}]}\n", []string{"set exactly one of host and cidr"}},
		{"neither host nor cidr", "  namespaces: [a]\n  externalAddresses: {allow: [{ports: [80]}]}\n", []string{"set exactly one of host and cidr"}},
		{"bad cidr", "  namespaces: [a]\n  externalAddresses: {allow: [{cidr: 10.0.0.0/33}]}\n", []string{"cidr must be a network in CIDR notation"}},
		{"host with a scheme", "  namespaces: [a]\n  externalAddresses: {allow: [{host: \"dns:///a.b\"}]}\n", []string{"spec.externalAddresses.allow[0].host", "should match"}},
		{"port 0", "  namespaces: [a]\n  externalAddresses: {allow: [{host: a.b, ports: [0]}]}\n", []string{"spec.externalAddresses.allow[0].ports[0]", "greater than or equal to 1"}},
		{"externalAddresses without allow", "  namespaces: [a]\n  externalAddresses: {}\n", []string{"spec.externalAddresses.allow", "Required value"}},
		{"unknown level", "  namespaces: [a]\n  podSecurity: {level: root}\n", []string{"spec.podSecurity.level", "Unsupported value"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			err := c.Create(ctx, tenantPolicy(t, "invalid", tc.spec))
			g.Expect(err).To(HaveOccurred(), "the apiserver accepted an invalid TenantPolicy")
			for _, w := range tc.want {
				g.Expect(err.Error()).To(ContainSubstring(w))
			}
		})
	}
}
