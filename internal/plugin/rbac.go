package plugin

import (
	"context"
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
)

// MemberRules are everything the hub may do in a member, cluster-wide (ClusterRole) or per
// target namespace (Role): scale any scalable resource, read the workloads it scales and
// their pods, run Jobs for DistributedScaledJobs, and record events.
func MemberRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{"*"}, Resources: []string{"*/scale"}, Verbs: []string{"get", "list", "watch", "update", "patch"}},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments", "statefulsets", "replicasets"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"create", "get", "list", "watch", "delete"}},
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create"}},
		{APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create"}},
	}
}

// TokenRules let the ServiceAccount request a new token for itself, and only for itself: the
// hub renews the stored token with it before it expires.
func TokenRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"}, ResourceNames: []string{ServiceAccountName}, Verbs: []string{"create"}},
	}
}

func memberLabels(saNamespace string) map[string]string {
	return map[string]string{LabelManagedBy: ManagedByValue, LabelServiceAccountNamespace: saNamespace}
}

func serviceAccountSubject(saNamespace string) []rbacv1.Subject {
	return []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: ServiceAccountName, Namespace: saNamespace}}
}

// ensureMemberRBAC grants MemberRules cluster-wide, or in each target namespace, and removes
// grants of an earlier run that the current options no longer want.
func (s *setup) ensureMemberRBAC(ctx context.Context) error {
	o, m := s.o, s.member
	if len(o.TargetNamespaces) == 0 {
		if err := s.ensureClusterRole(ctx); err != nil {
			return err
		}
	} else {
		for _, ns := range o.TargetNamespaces {
			if err := s.ensureRole(ctx, ns, MemberRoleName, MemberRules()); err != nil {
				return err
			}
		}
		gone, err := removeClusterGrant(ctx, m, s.mc, o.Namespace)
		if err != nil {
			return err
		}
		for _, what := range gone {
			s.note("member", what, actionDeleted)
		}
	}
	gone, err := removeRoleGrants(ctx, m, s.mc, o.Namespace, MemberRoleName, o.TargetNamespaces)
	if err != nil {
		return err
	}
	for _, what := range gone {
		s.note("member", what, actionDeleted)
	}
	return nil
}

func (s *setup) ensureClusterRole(ctx context.Context) error {
	m, ns := s.member, s.o.Namespace
	lbl := memberLabels(ns)
	roles := s.mc.RbacV1().ClusterRoles()
	what := object("clusterrole", "", MemberRoleName)
	_, action, err := ensure(ctx, m, what,
		func(ctx context.Context) (*rbacv1.ClusterRole, error) {
			return roles.Get(ctx, MemberRoleName, metav1.GetOptions{})
		},
		func(ctx context.Context) (*rbacv1.ClusterRole, error) {
			return roles.Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: MemberRoleName, Labels: lbl}, Rules: MemberRules()}, metav1.CreateOptions{})
		},
		func(r *rbacv1.ClusterRole) bool {
			changed := mergeLabels(&r.Labels, lbl)
			if !equality.Semantic.DeepEqual(r.Rules, MemberRules()) {
				r.Rules, changed = MemberRules(), true
			}
			return changed
		},
		func(ctx context.Context, r *rbacv1.ClusterRole) (*rbacv1.ClusterRole, error) {
			return roles.Update(ctx, r, metav1.UpdateOptions{})
		})
	if err != nil {
		return err
	}
	s.note("member", what, action)

	bindings := s.mc.RbacV1().ClusterRoleBindings()
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: MemberRoleName}
	desired := func() *rbacv1.ClusterRoleBinding {
		return &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: MemberRoleName, Labels: lbl}, RoleRef: ref, Subjects: serviceAccountSubject(ns)}
	}
	what = object("clusterrolebinding", "", MemberRoleName)
	cur, err := bindings.Get(ctx, MemberRoleName, metav1.GetOptions{})
	if err == nil && cur.RoleRef != ref {
		// roleRef is immutable: replace the binding.
		if err := bindings.Delete(ctx, MemberRoleName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return m.wrap("delete "+what, err)
		}
	} else if err != nil && !apierrors.IsNotFound(err) {
		return m.wrap("get "+what, err)
	}
	_, action, err = ensure(ctx, m, what,
		func(ctx context.Context) (*rbacv1.ClusterRoleBinding, error) {
			return bindings.Get(ctx, MemberRoleName, metav1.GetOptions{})
		},
		func(ctx context.Context) (*rbacv1.ClusterRoleBinding, error) {
			return bindings.Create(ctx, desired(), metav1.CreateOptions{})
		},
		func(b *rbacv1.ClusterRoleBinding) bool {
			changed := mergeLabels(&b.Labels, lbl)
			if !equality.Semantic.DeepEqual(b.Subjects, serviceAccountSubject(ns)) {
				b.Subjects, changed = serviceAccountSubject(ns), true
			}
			return changed
		},
		func(ctx context.Context, b *rbacv1.ClusterRoleBinding) (*rbacv1.ClusterRoleBinding, error) {
			return bindings.Update(ctx, b, metav1.UpdateOptions{})
		})
	if err != nil {
		return err
	}
	s.note("member", what, action)
	return nil
}

// ensureRole grants rules to the ServiceAccount in namespace ns with a Role and RoleBinding
// named name.
func (s *setup) ensureRole(ctx context.Context, ns, name string, rules []rbacv1.PolicyRule) error {
	m, saNS := s.member, s.o.Namespace
	lbl := memberLabels(saNS)
	roles := s.mc.RbacV1().Roles(ns)
	what := object("role", ns, name)
	_, action, err := ensure(ctx, m, what,
		func(ctx context.Context) (*rbacv1.Role, error) { return roles.Get(ctx, name, metav1.GetOptions{}) },
		func(ctx context.Context) (*rbacv1.Role, error) {
			return roles.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: lbl}, Rules: rules}, metav1.CreateOptions{})
		},
		func(r *rbacv1.Role) bool {
			changed := mergeLabels(&r.Labels, lbl)
			if !equality.Semantic.DeepEqual(r.Rules, rules) {
				r.Rules, changed = rules, true
			}
			return changed
		},
		func(ctx context.Context, r *rbacv1.Role) (*rbacv1.Role, error) {
			return roles.Update(ctx, r, metav1.UpdateOptions{})
		})
	if err != nil {
		return err
	}
	s.note("member", what, action)

	bindings := s.mc.RbacV1().RoleBindings(ns)
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}
	what = object("rolebinding", ns, name)
	cur, err := bindings.Get(ctx, name, metav1.GetOptions{})
	if err == nil && cur.RoleRef != ref {
		if err := bindings.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return m.wrap("delete "+what, err)
		}
	} else if err != nil && !apierrors.IsNotFound(err) {
		return m.wrap("get "+what, err)
	}
	_, action, err = ensure(ctx, m, what,
		func(ctx context.Context) (*rbacv1.RoleBinding, error) {
			return bindings.Get(ctx, name, metav1.GetOptions{})
		},
		func(ctx context.Context) (*rbacv1.RoleBinding, error) {
			return bindings.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: lbl}, RoleRef: ref, Subjects: serviceAccountSubject(saNS)}, metav1.CreateOptions{})
		},
		func(b *rbacv1.RoleBinding) bool {
			changed := mergeLabels(&b.Labels, lbl)
			if !equality.Semantic.DeepEqual(b.Subjects, serviceAccountSubject(saNS)) {
				b.Subjects, changed = serviceAccountSubject(saNS), true
			}
			return changed
		},
		func(ctx context.Context, b *rbacv1.RoleBinding) (*rbacv1.RoleBinding, error) {
			return bindings.Update(ctx, b, metav1.UpdateOptions{})
		})
	if err != nil {
		return err
	}
	s.note("member", what, action)
	return nil
}

// removeClusterGrant deletes the ClusterRoleBinding and ClusterRole fleetscale-member when
// they were made for the ServiceAccount in saNS. It returns what it deleted.
func removeClusterGrant(ctx context.Context, m cluster, cs kubernetes.Interface, saNS string) ([]string, error) {
	var gone []string
	b, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, MemberRoleName, metav1.GetOptions{})
	switch {
	case err == nil && ownedBy(b.Labels, saNS):
		if err := cs.RbacV1().ClusterRoleBindings().Delete(ctx, MemberRoleName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return gone, m.wrap("delete clusterrolebinding "+MemberRoleName, err)
		}
		gone = append(gone, object("clusterrolebinding", "", MemberRoleName))
	case err != nil && !apierrors.IsNotFound(err):
		return gone, m.wrap("get clusterrolebinding "+MemberRoleName, err)
	}
	r, err := cs.RbacV1().ClusterRoles().Get(ctx, MemberRoleName, metav1.GetOptions{})
	switch {
	case err == nil && ownedBy(r.Labels, saNS):
		if err := cs.RbacV1().ClusterRoles().Delete(ctx, MemberRoleName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return gone, m.wrap("delete clusterrole "+MemberRoleName, err)
		}
		gone = append(gone, object("clusterrole", "", MemberRoleName))
	case err != nil && !apierrors.IsNotFound(err):
		return gone, m.wrap("get clusterrole "+MemberRoleName, err)
	}
	return gone, nil
}

// removeRoleGrants deletes the RoleBindings and Roles called name made for the ServiceAccount
// in saNS, in every namespace except keep. It returns what it deleted.
func removeRoleGrants(ctx context.Context, m cluster, cs kubernetes.Interface, saNS, name string, keep []string) ([]string, error) {
	sel := labels.SelectorFromSet(memberLabels(saNS)).String()
	var gone []string
	bindings, err := cs.RbacV1().RoleBindings(metav1.NamespaceAll).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return gone, m.wrap("list rolebindings", err)
	}
	for _, b := range bindings.Items {
		if b.Name != name || slices.Contains(keep, b.Namespace) {
			continue
		}
		if err := cs.RbacV1().RoleBindings(b.Namespace).Delete(ctx, b.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return gone, m.wrap("delete rolebinding "+b.Namespace+"/"+b.Name, err)
		}
		gone = append(gone, object("rolebinding", b.Namespace, b.Name))
	}
	roles, err := cs.RbacV1().Roles(metav1.NamespaceAll).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return gone, m.wrap("list roles", err)
	}
	for _, r := range roles.Items {
		if r.Name != name || slices.Contains(keep, r.Namespace) {
			continue
		}
		if err := cs.RbacV1().Roles(r.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return gone, m.wrap("delete role "+r.Namespace+"/"+r.Name, err)
		}
		gone = append(gone, object("role", r.Namespace, r.Name))
	}
	return gone, nil
}

func ownedBy(l map[string]string, saNS string) bool {
	return l[LabelManagedBy] == ManagedByValue && l[LabelServiceAccountNamespace] == saNS
}
