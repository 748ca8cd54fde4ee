package plugin

import (
	"context"
	"fmt"
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
)

// CoreAPIGroup is how --scale-api-groups names the core ("") API group.
const CoreAPIGroup = "core"

// MemberRules are everything the hub may do in a member, cluster-wide (ClusterRole) or per
// target namespace (Role), and each is used:
//   - */scale get/update/patch: the DSO reads (existence, replicas, selector) and writes each
//     member's share through the target's scale subresource (any kind that has one, unless
//     scaleAPIGroups names the groups): nothing else is needed to scale a kind;
//   - deployments, statefulsets, replicasets get/list/watch: a metadata-only watch of those
//     target kinds (a target's change is evaluated at once), and the health probe;
//   - pods get/list/watch: pending detection of DSJ Jobs, readiness, kubernetes-workload;
//   - jobs create/get/list/watch/delete: the Jobs of DistributedScaledJobs.
//
// No events, no Secrets, no write outside /scale and Jobs. scaleAPIGroups empty means any group
// ("*"); CoreAPIGroup in it stands for the core group.
func MemberRules(scaleAPIGroups ...string) []rbacv1.PolicyRule {
	groups := []string{"*"}
	if len(scaleAPIGroups) > 0 {
		groups = nil
		for _, g := range scaleAPIGroups {
			if g == CoreAPIGroup {
				g = ""
			}
			groups = append(groups, g)
		}
	}
	return []rbacv1.PolicyRule{
		{APIGroups: groups, Resources: []string{"*/scale"}, Verbs: []string{"get", "update", "patch"}},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments", "statefulsets", "replicasets"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"create", "get", "list", "watch", "delete"}},
	}
}

// normalizeScaleAPIGroups checks --scale-api-groups and returns them sorted without repeats.
func normalizeScaleAPIGroups(groups []string) ([]string, error) {
	var out []string
	for _, g := range groups {
		if g != CoreAPIGroup && len(validation.IsDNS1123Subdomain(g)) > 0 {
			return nil, fmt.Errorf("invalid API group %q in --scale-api-groups: want a group name such as apps or argoproj.io, or %q for the core group", g, CoreAPIGroup)
		}
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	slices.Sort(out)
	return out, nil
}

// TokenRules let the ServiceAccount request a new token for itself, and only for itself: the
// hub renews the stored token with it before it expires.
func TokenRules(serviceAccount string) []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"}, ResourceNames: []string{serviceAccount}, Verbs: []string{"create"}},
	}
}

// memberLabels mark a member-side object as this registration's.
func memberLabels(reg Registration, member string) map[string]string {
	return map[string]string{LabelManagedBy: ManagedByValue, LabelRegistration: reg.ID,
		LabelServiceAccountNamespace: reg.Namespace, LabelMember: member}
}

func serviceAccountSubject(reg Registration) []rbacv1.Subject {
	return []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: reg.ServiceAccount, Namespace: reg.Namespace}}
}

// ensureMemberRBAC grants MemberRules cluster-wide, or in each target namespace, and removes
// grants of an earlier run of the same registration that the current options no longer want.
func (s *setup) ensureMemberRBAC(ctx context.Context) error {
	o, m, reg := s.o, s.member, s.reg
	rules := MemberRules(o.ScaleAPIGroups...)
	if len(o.TargetNamespaces) == 0 {
		if err := s.ensureClusterRole(ctx, rules); err != nil {
			return err
		}
	} else {
		for _, ns := range o.TargetNamespaces {
			if err := s.ensureRole(ctx, ns, reg.ServiceAccount, rules); err != nil {
				return err
			}
		}
		gone, err := removeClusterGrant(ctx, m, s.mc, reg)
		if err != nil {
			return err
		}
		for _, what := range gone {
			s.note("member", what, actionDeleted)
		}
	}
	gone, err := removeRoleGrants(ctx, m, s.mc, reg, reg.ServiceAccount, o.TargetNamespaces)
	if err != nil {
		return err
	}
	for _, what := range gone {
		s.note("member", what, actionDeleted)
	}
	return nil
}

func (s *setup) ensureClusterRole(ctx context.Context, rules []rbacv1.PolicyRule) error {
	m, reg := s.member, s.reg
	name := reg.ServiceAccount
	lbl := memberLabels(reg, s.o.Name)
	roles := s.mc.RbacV1().ClusterRoles()
	what := object("clusterrole", "", name)
	_, action, err := ensure(ctx, m, what,
		func(ctx context.Context) (*rbacv1.ClusterRole, error) {
			return roles.Get(ctx, name, metav1.GetOptions{})
		},
		func(ctx context.Context) (*rbacv1.ClusterRole, error) {
			return roles.Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbl}, Rules: rules}, metav1.CreateOptions{})
		},
		func(r *rbacv1.ClusterRole) bool {
			changed := mergeLabels(&r.Labels, lbl)
			if !equality.Semantic.DeepEqual(r.Rules, rules) {
				r.Rules, changed = rules, true
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
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}
	desired := func() *rbacv1.ClusterRoleBinding {
		return &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbl}, RoleRef: ref, Subjects: serviceAccountSubject(reg)}
	}
	what = object("clusterrolebinding", "", name)
	cur, err := bindings.Get(ctx, name, metav1.GetOptions{})
	if err == nil && cur.RoleRef != ref {
		// roleRef is immutable: replace the binding.
		if err := bindings.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return m.wrap("delete "+what, err)
		}
	} else if err != nil && !apierrors.IsNotFound(err) {
		return m.wrap("get "+what, err)
	}
	_, action, err = ensure(ctx, m, what,
		func(ctx context.Context) (*rbacv1.ClusterRoleBinding, error) {
			return bindings.Get(ctx, name, metav1.GetOptions{})
		},
		func(ctx context.Context) (*rbacv1.ClusterRoleBinding, error) {
			return bindings.Create(ctx, desired(), metav1.CreateOptions{})
		},
		func(b *rbacv1.ClusterRoleBinding) bool {
			changed := mergeLabels(&b.Labels, lbl)
			if !equality.Semantic.DeepEqual(b.Subjects, serviceAccountSubject(reg)) {
				b.Subjects, changed = serviceAccountSubject(reg), true
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

// ensureRole grants rules to the registration's ServiceAccount in namespace ns with a Role and
// RoleBinding named name.
func (s *setup) ensureRole(ctx context.Context, ns, name string, rules []rbacv1.PolicyRule) error {
	m, reg := s.member, s.reg
	lbl := memberLabels(reg, s.o.Name)
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
			return bindings.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: lbl}, RoleRef: ref, Subjects: serviceAccountSubject(reg)}, metav1.CreateOptions{})
		},
		func(b *rbacv1.RoleBinding) bool {
			changed := mergeLabels(&b.Labels, lbl)
			if !equality.Semantic.DeepEqual(b.Subjects, serviceAccountSubject(reg)) {
				b.Subjects, changed = serviceAccountSubject(reg), true
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

// removeClusterGrant deletes the registration's ClusterRoleBinding and ClusterRole, when they
// carry its label. It returns what it deleted.
func removeClusterGrant(ctx context.Context, m cluster, cs kubernetes.Interface, reg Registration) ([]string, error) {
	var gone []string
	name := reg.ServiceAccount
	b, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil && ownedBy(b.Labels, reg):
		if err := cs.RbacV1().ClusterRoleBindings().Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return gone, m.wrap("delete clusterrolebinding "+name, err)
		}
		gone = append(gone, object("clusterrolebinding", "", name))
	case err != nil && !apierrors.IsNotFound(err):
		return gone, m.wrap("get clusterrolebinding "+name, err)
	}
	r, err := cs.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil && ownedBy(r.Labels, reg):
		if err := cs.RbacV1().ClusterRoles().Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return gone, m.wrap("delete clusterrole "+name, err)
		}
		gone = append(gone, object("clusterrole", "", name))
	case err != nil && !apierrors.IsNotFound(err):
		return gone, m.wrap("get clusterrole "+name, err)
	}
	return gone, nil
}

// removeRoleGrants deletes the registration's RoleBindings and Roles called name in every
// namespace except keep. It returns what it deleted.
func removeRoleGrants(ctx context.Context, m cluster, cs kubernetes.Interface, reg Registration, name string, keep []string) ([]string, error) {
	sel := labels.SelectorFromSet(map[string]string{LabelManagedBy: ManagedByValue, LabelRegistration: reg.ID}).String()
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

func ownedBy(l map[string]string, reg Registration) bool {
	return l[LabelManagedBy] == ManagedByValue && l[LabelRegistration] == reg.ID
}
