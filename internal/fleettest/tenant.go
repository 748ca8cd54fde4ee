package fleettest

import (
	"context"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/manager"
)

// Tenant returns a hub client acting as user, a tenant who may manage DSOs and DSJs in hub
// namespace ns and nothing else (a Role and RoleBinding there, as a hub admin would grant),
// through impersonation. It returns once the apiserver's authoriser lets the user list DSOs.
func (f *Fleet) Tenant(t testing.TB, ns, user string) client.Client {
	t.Helper()
	ctx := context.Background()
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tenant-" + user},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{v1alpha1.GroupVersion.Group},
			Resources: []string{"distributedscaledobjects", "distributedscaledjobs"},
			Verbs:     []string{"get", "list", "watch", "create", "update", "patch", "delete"},
		}},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tenant-" + user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	for _, o := range []client.Object{role, binding} {
		if err := f.Hub.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	cfg := rest.CopyConfig(f.Env.Hub.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
	c, err := client.New(cfg, client.Options{Scheme: manager.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := c.List(ctx, &v1alpha1.DistributedScaledObjectList{}, client.InNamespace(ns))
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("tenant %s cannot list DSOs in %s: %v", user, ns, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TenantPolicy creates a TenantPolicy (a hub admin's act) and deletes it when the test ends.
func (f *Fleet) TenantPolicy(t testing.TB, name string, spec v1alpha1.TenantPolicySpec) *v1alpha1.TenantPolicy {
	t.Helper()
	tp := &v1alpha1.TenantPolicy{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
	if err := f.Hub.Create(context.Background(), tp); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.DeleteTenantPolicy(t, name) })
	return tp
}

// DeleteTenantPolicy deletes a TenantPolicy; one already gone is fine.
func (f *Fleet) DeleteTenantPolicy(t testing.TB, name string) {
	t.Helper()
	err := f.Hub.Delete(context.Background(), &v1alpha1.TenantPolicy{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Error(err)
	}
}
