package plugin

import (
	"context"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fleetv1 "github.com/fleetscale/fleetscale/api/v1alpha1"
)

// Two hubs registering the same member under the same name, and one hub registering it under
// two names, get their own ServiceAccounts and RBAC: deleting one registration (member side
// included) leaves the others' tokens working.
func TestRegistrationsDoNotRevokeEachOther(t *testing.T) {
	env := envFor(t)
	g := NewWithT(t)
	ctx := context.Background()
	member, hub2 := env.Members[0], env.Members[1]
	// The second member's apiserver doubles as a second hub.
	_, err := hub2.InstallCRDs(ctx, "../../config/crd/bases")
	g.Expect(err).NotTo(HaveOccurred())
	const ns = "multi"
	admin := member.Clientset()
	ensureNamespaceForTest(t, admin, "apps-multi")
	createDeployment(t, admin, "apps-multi", "web")

	setup := func(hubName, name string) Registration {
		hubCfg := env.Hub.Config
		if hubName == "hub2" {
			hubCfg = hub2.Config
		}
		res, err := SetupMember(ctx, SetupOptions{Name: name, Namespace: ns, Hub: hubCfg, Member: member.Config})
		g.Expect(err).NotTo(HaveOccurred(), "%s %s", hubName, name)
		reg := registrationOf(t, g, hubCfg, ns, name)
		g.Expect(res.ServiceAccount).To(Equal(reg.String()))
		return reg
	}
	hubClientFor := func(hubName string) client.Client {
		if hubName == "hub2" {
			c, err := NewHubClient(hub2.Config)
			g.Expect(err).NotTo(HaveOccurred())
			return c
		}
		return hubClient(t, env)
	}
	works := func(hubName, name string) error {
		s, _ := storedSecret(t, g, hubClientFor(hubName), ns, name)
		return canScale(ctx, asStoredToken(t, g, s), "apps-multi", "web", 1)
	}

	regA := setup("hub1", "same")
	regB := setup("hub2", "same")
	regC := setup("hub1", "alias")
	g.Expect(map[string]bool{regA.ServiceAccount: true, regB.ServiceAccount: true, regC.ServiceAccount: true}).To(HaveLen(3),
		"each registration has its own ServiceAccount")
	for _, r := range []struct{ hub, name string }{{"hub1", "same"}, {"hub2", "same"}, {"hub1", "alias"}} {
		g.Eventually(func() error { return works(r.hub, r.name) }).WithTimeout(eventually).WithPolling(poll).Should(Succeed(), "%s/%s", r.hub, r.name)
	}
	// A second identical run of each changes nothing.
	for _, r := range []struct{ hub, name string }{{"hub1", "same"}, {"hub2", "same"}} {
		hubCfg := env.Hub.Config
		if r.hub == "hub2" {
			hubCfg = hub2.Config
		}
		res, err := SetupMember(ctx, SetupOptions{Name: r.name, Namespace: ns, Hub: hubCfg, Member: member.Config})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(res.UpToDate()).To(BeTrue(), "%s: %v", r.hub, res.Changes)
	}

	// The second hub leaves, member side included: only its own objects go.
	var out strings.Builder
	res, err := DeleteMember(ctx, DeleteOptions{Name: "same", Namespace: ns, Hub: hub2.Config, Member: member.Config, Yes: true, Out: &out})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Changes).To(ContainElements("member: serviceaccount "+regB.String()+" deleted", "member: clusterrole "+regB.ServiceAccount+" deleted"))
	g.Expect(res.NamespaceLeft).To(HavePrefix("it still holds other objects (serviceaccounts/fleetscale-"))
	expectMemberClean(g, admin, regB)
	g.Expect(works("hub1", "same")).To(Succeed())
	g.Expect(works("hub1", "alias")).To(Succeed())

	// The alias leaves: the first registration keeps working.
	_, err = DeleteMember(ctx, DeleteOptions{Name: "alias", Namespace: ns, Hub: env.Hub.Config, Member: member.Config, Yes: true})
	g.Expect(err).NotTo(HaveOccurred())
	expectMemberClean(g, admin, regC)
	g.Expect(works("hub1", "same")).To(Succeed())

	// The last one takes the namespace with it.
	res, err = DeleteMember(ctx, DeleteOptions{Name: "same", Namespace: ns, Hub: env.Hub.Config, Member: member.Config, Yes: true})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.NamespaceLeft).To(BeEmpty())
	g.Expect(res.Changes).To(ContainElement("member: namespace " + ns + " deleted"))
	expectMemberClean(g, admin, regA)
}

// A registration made by an older setup-member (shared ServiceAccount "fleetscale") moves to
// its own ServiceAccount on the next run; the shared one is left, since other registrations
// may use it, and delete-member refuses to delete a ServiceAccount that is not its own.
func TestLegacyRegistrationMovesToItsOwnServiceAccount(t *testing.T) {
	env := envFor(t)
	g := NewWithT(t)
	ctx := context.Background()
	m := env.Members[1]
	admin := m.Clientset()
	hc := hubClient(t, env)
	const ns, name = "legacy", "old-member"
	ensureNamespaceForTest(t, admin, ns)
	ensureNamespaceForTest(t, env.Hub.Clientset(), ns)
	_, err := admin.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: LegacyServiceAccountName,
		Labels: map[string]string{LabelManagedBy: ManagedByValue}}}, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(hc.Create(ctx, &fleetv1.MemberCluster{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: fleetv1.MemberClusterSpec{APIURL: m.APIURL, KubeconfigSecretRef: fleetv1.SecretKeyRef{Name: SecretName(name), Key: SecretKey},
			ServiceAccount: ns + "/" + LegacyServiceAccountName}})).To(Succeed())

	// delete-member of the old registration does not touch the shared ServiceAccount.
	_, err = DeleteMember(ctx, DeleteOptions{Name: name, Namespace: ns, Hub: env.Hub.Config, Member: m.Config, Yes: true})
	g.Expect(err).To(MatchError(ContainSubstring("has a ServiceAccount legacy/fleetscale without label " + LabelRegistration)))
	_, err = admin.CoreV1().ServiceAccounts(ns).Get(ctx, LegacyServiceAccountName, metav1.GetOptions{})
	g.Expect(err).NotTo(HaveOccurred())

	var out strings.Builder
	res, err := SetupMember(ctx, SetupOptions{Name: name, Namespace: ns, Hub: env.Hub.Config, Member: m.Config, Out: &out})
	g.Expect(err).NotTo(HaveOccurred())
	reg := registrationOf(t, g, env.Hub.Config, ns, name)
	g.Expect(res.ServiceAccount).To(Equal(reg.String()))
	g.Expect(out.String()).To(ContainSubstring("The registration used ServiceAccount legacy/fleetscale before; it was left in the member"))
	mc := &fleetv1.MemberCluster{}
	g.Expect(hc.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, mc)).To(Succeed())
	g.Expect(mc.Spec.ServiceAccount).To(Equal(reg.String()))

	_, err = DeleteMember(ctx, DeleteOptions{Name: name, Namespace: ns, Hub: env.Hub.Config, Member: m.Config, Yes: true})
	g.Expect(err).NotTo(HaveOccurred())
	expectMemberClean(g, admin, reg)
	_, err = admin.CoreV1().ServiceAccounts(ns).Get(ctx, LegacyServiceAccountName, metav1.GetOptions{})
	g.Expect(err).NotTo(HaveOccurred(), "the shared ServiceAccount was deleted")
}

// --scale-api-groups narrows the */scale grant; the default grants any group's scale.
// --allow-insecure is needed for a plain-http API URL.
func TestSetupMemberScaleAPIGroupsAndInsecure(t *testing.T) {
	env := envFor(t)
	g := NewWithT(t)
	ctx := context.Background()
	m := env.Members[1]
	hc := hubClient(t, env)
	admin := m.Clientset()
	const ns = "narrow"
	ensureNamespaceForTest(t, admin, "apps-narrow")
	createDeployment(t, admin, "apps-narrow", "web")
	scaleRC := func(s *corev1.Secret) error {
		_, err := asStoredToken(t, g, s).CoreV1().ReplicationControllers("apps-narrow").GetScale(ctx, "none", metav1.GetOptions{})
		return err
	}

	o := SetupOptions{Name: "narrow", Namespace: ns, Hub: env.Hub.Config, Member: m.Config}
	_, err := SetupMember(ctx, o)
	g.Expect(err).NotTo(HaveOccurred())
	s, _ := storedSecret(t, g, hc, ns, "narrow")
	// Authorised (the RC does not exist): any group's scale is granted.
	g.Eventually(func() error { return scaleRC(s) }).WithTimeout(eventually).WithPolling(poll).Should(Satisfy(apierrors.IsNotFound))

	o.ScaleAPIGroups = []string{"apps", "argoproj.io", "apps"}
	res, err := SetupMember(ctx, o)
	g.Expect(err).NotTo(HaveOccurred())
	reg := registrationOf(t, g, env.Hub.Config, ns, "narrow")
	g.Expect(res.Changes).To(Equal([]string{"member: clusterrole " + reg.ServiceAccount + " configured"}))
	role, err := admin.RbacV1().ClusterRoles().Get(ctx, reg.ServiceAccount, metav1.GetOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(role.Rules[0].APIGroups).To(Equal([]string{"apps", "argoproj.io"}))
	g.Eventually(func() error { return scaleRC(s) }).WithTimeout(eventually).WithPolling(poll).Should(Satisfy(apierrors.IsForbidden))
	g.Expect(canScale(ctx, asStoredToken(t, g, s), "apps-narrow", "web", 2)).To(Succeed())
	res, err = SetupMember(ctx, o)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.UpToDate()).To(BeTrue(), "%v", res.Changes)

	o.ScaleAPIGroups = []string{"Not_A_Group"}
	_, err = SetupMember(ctx, o)
	g.Expect(err).To(MatchError(ContainSubstring(`invalid API group "Not_A_Group" in --scale-api-groups`)))

	o.ScaleAPIGroups = nil
	o.MemberAPIURL = strings.Replace(m.APIURL, "https://", "http://", 1)
	o.Yes = true
	_, err = SetupMember(ctx, o)
	g.Expect(err).To(MatchError(ContainSubstring("is plain http: the hub's token would cross the network in clear text")))
	mc := &fleetv1.MemberCluster{}
	g.Expect(hc.Get(ctx, client.ObjectKey{Namespace: ns, Name: "narrow"}, mc)).To(Succeed())
	g.Expect(mc.Spec.APIURL).To(Equal(m.APIURL), "a refused run changed the registration")
	o.AllowInsecure = true
	_, err = SetupMember(ctx, o)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(hc.Get(ctx, client.ObjectKey{Namespace: ns, Name: "narrow"}, mc)).To(Succeed())
	g.Expect(mc.Spec.APIURL).To(HavePrefix("http://"))

	_, err = DeleteMember(ctx, DeleteOptions{Name: "narrow", Namespace: ns, Hub: env.Hub.Config, Member: m.Config, Yes: true})
	g.Expect(err).NotTo(HaveOccurred())
	expectMemberClean(g, admin, reg)
}
