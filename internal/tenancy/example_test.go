package tenancy_test

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/tenancy"
)

// A hub admin lets team-a's objects act on member namespace kube-system too; team-b still
// acts only on its own namespace.
func ExamplePolicies_For() {
	policies := tenancy.Compile([]v1alpha1.TenantPolicy{{
		ObjectMeta: metav1.ObjectMeta{Name: "team-a-system"},
		Spec:       v1alpha1.TenantPolicySpec{Namespaces: []string{"team-a"}, TargetNamespaces: []string{"kube-system"}},
	}})
	fmt.Println(policies.For("team-a", nil).TargetNamespace("kube-system"))
	err := policies.For("team-b", nil).TargetNamespace("kube-system")
	fmt.Println(tenancy.ReasonOf(err))
	fmt.Println(err)
	// Output:
	// <nil>
	// NamespaceNotAllowed
	// member namespace "kube-system" is not allowed for objects in hub namespace "team-b": by default they act only on member namespace "team-b"; a hub admin can allow it with a TenantPolicy that selects namespace "team-b" and lists "kube-system" in spec.targetNamespaces
}
