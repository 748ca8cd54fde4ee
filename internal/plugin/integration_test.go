package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fleetv1 "github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/clusterenv"
)

const (
	eventually = 30 * time.Second
	poll       = 100 * time.Millisecond
)

func hubClient(t *testing.T, env *clusterenv.Env) client.Client {
	t.Helper()
	c, err := NewHubClient(env.Hub.Config)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// storedSecret reads the hub Secret of member and the kubeconfig in it.
func storedSecret(t *testing.T, g Gomega, hc client.Client, ns, member string) (*corev1.Secret, storedKubeconfig) {
	t.Helper()
	s := &corev1.Secret{}
	g.Expect(hc.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: SecretName(member)}, s)).To(Succeed())
	st, err := parseStoredKubeconfig(s.Data[SecretKey])
	g.Expect(err).NotTo(HaveOccurred())
	return s, st
}

// registrationOf is what setup-member names the member-side objects of member's registration
// in hub namespace ns of the cluster behind hubCfg.
func registrationOf(t *testing.T, g Gomega, hubCfg *rest.Config, ns, member string) Registration {
	t.Helper()
	hc, err := NewHubClient(hubCfg)
	g.Expect(err).NotTo(HaveOccurred())
	sys := &corev1.Namespace{}
	g.Expect(hc.Get(context.Background(), client.ObjectKey{Name: metav1.NamespaceSystem}, sys)).To(Succeed())
	return RegistrationFor(string(sys.UID), ns, member)
}

// asStoredToken is a client of the member that authenticates as the hub would: with the
// kubeconfig of the hub Secret, unchanged.
func asStoredToken(t *testing.T, g Gomega, s *corev1.Secret) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.RESTConfigFromKubeConfig(s.Data[SecretKey])
	g.Expect(err).NotTo(HaveOccurred())
	cfg.Timeout = 10 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	g.Expect(err).NotTo(HaveOccurred())
	return cs
}

func createDeployment(t *testing.T, cs kubernetes.Interface, ns, name string) {
	t.Helper()
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx"}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

func ensureNamespaceForTest(t *testing.T, cs kubernetes.Interface, ns string) {
	t.Helper()
	_, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// canScale reports whether cs may read and write the scale of deployment ns/name.
func canScale(ctx context.Context, cs kubernetes.Interface, ns, name string, replicas int32) error {
	sc, err := cs.AppsV1().Deployments(ns).GetScale(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	sc.Spec.Replicas = replicas
	_, err = cs.AppsV1().Deployments(ns).UpdateScale(ctx, name, sc, metav1.UpdateOptions{})
	return err
}

func TestSetupListDeleteMembers(t *testing.T) {
	env := envFor(t)
	ctx := context.Background()
	hc := hubClient(t, env)
	m1, m2 := env.Members[0], env.Members[1]
	const ns = DefaultNamespace

	var out bytes.Buffer
	setup := func(m *clusterenv.Cluster, o SetupOptions) (*SetupResult, error) {
		out.Reset()
		o.Name, o.Hub, o.Member, o.Out = m.Name, env.Hub.Config, m.Config, &out
		return SetupMember(ctx, o)
	}

	t.Run("setup registers both members", func(t *testing.T) {
		g := NewWithT(t)
		for _, m := range []*clusterenv.Cluster{m1, m2} {
			res, err := setup(m, SetupOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(res.Registered).To(BeTrue())
			g.Expect(res.TokenIssued).To(BeTrue())
			g.Expect(res.APIURL).To(Equal(m.APIURL))
			g.Expect(out.String()).To(ContainSubstring("Member " + m.Name + " registered"))
			g.Expect(out.String()).NotTo(ContainSubstring("eyJ"), "a token was printed")

			reg := registrationOf(t, g, env.Hub.Config, ns, m.Name)
			g.Expect(reg.ServiceAccount).To(MatchRegexp(`^fleetscale-` + m.Name + `-[0-9a-f]{10}$`))
			g.Expect(res.ServiceAccount).To(Equal("keda/" + reg.ServiceAccount))
			mc := &fleetv1.MemberCluster{}
			g.Expect(hc.Get(ctx, client.ObjectKey{Namespace: ns, Name: m.Name}, mc)).To(Succeed())
			g.Expect(mc.Spec).To(Equal(fleetv1.MemberClusterSpec{
				APIURL:              m.APIURL,
				KubeconfigSecretRef: fleetv1.SecretKeyRef{Name: "fleetscale-member-" + m.Name, Key: "kubeconfig"},
				ServiceAccount:      "keda/" + reg.ServiceAccount,
			}))
			sa, err := m.Clientset().CoreV1().ServiceAccounts(ns).Get(ctx, reg.ServiceAccount, metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(sa.Labels).To(HaveKeyWithValue(LabelRegistration, reg.ID))
			role, err := m.Clientset().RbacV1().ClusterRoles().Get(ctx, reg.ServiceAccount, metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(role.Rules).To(Equal(MemberRules()))

			s, st := storedSecret(t, g, hc, ns, m.Name)
			g.Expect(s.Type).To(Equal(corev1.SecretTypeOpaque))
			g.Expect(s.Labels).To(HaveKeyWithValue("app.kubernetes.io/managed-by", "fleetscale"))
			g.Expect(s.Labels).To(HaveKeyWithValue("fleetscale.dev/member", m.Name))
			exp, err := time.Parse(time.RFC3339, s.Annotations["fleetscale.dev/token-expiration"])
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(exp).To(BeTemporally("~", time.Now().Add(DefaultTokenTTL), time.Minute))
			g.Expect(exp).To(BeTemporally("==", res.TokenExpiration))
			g.Expect(st.Access.Server).To(Equal(m.APIURL))
			g.Expect(st.Access.CAData).To(Equal(m.Config.CAData))
			claims, err := decodeTokenClaims(st.Token)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(claims.K8s.Namespace).To(Equal(ns))
			g.Expect(claims.K8s.ServiceAccount.Name).To(Equal(reg.ServiceAccount))
		}
	})

	t.Run("the stored token has exactly the access it needs", func(t *testing.T) {
		g := NewWithT(t)
		admin := m1.Clientset()
		createDeployment(t, admin, "default", "nginx")
		s, _ := storedSecret(t, g, hc, ns, m1.Name)
		tok := asStoredToken(t, g, s)
		// RBAC reaches the authorizer through an informer: allow it a moment.
		g.Eventually(func() error { return canScale(ctx, tok, "default", "nginx", 3) }).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
		d, err := admin.AppsV1().Deployments("default").Get(ctx, "nginx", metav1.GetOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(*d.Spec.Replicas).To(Equal(int32(3)))

		_, err = tok.AppsV1().Deployments("default").List(ctx, metav1.ListOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		_, err = tok.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		_, err = tok.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		// Nothing the hub does not use: no events, no listing of scale subresources.
		_, err = tok.CoreV1().Events("default").Create(ctx, &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{GenerateName: "fleetscale-"},
			InvolvedObject: corev1.ObjectReference{Kind: "Deployment", Namespace: "default", Name: "nginx"},
			Reason:         "Test", Message: "from the hub",
		}, metav1.CreateOptions{})
		g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "create event: %v", err)
		_, err = tok.AppsV1().Deployments("default").Patch(ctx, "nginx", types.MergePatchType, []byte(`{"metadata":{"labels":{"x":"y"}}}`), metav1.PatchOptions{})
		g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "patch deployment: %v", err)
		_, err = tok.BatchV1().Jobs("default").Patch(ctx, "any", types.MergePatchType, []byte(`{}`), metav1.PatchOptions{})
		g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "patch job: %v", err)
		_, err = tok.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "list namespaces: %v", err)

		_, err = tok.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{})
		g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "list secrets: %v", err)
		_, err = tok.CoreV1().Secrets(ns).Get(ctx, "anything", metav1.GetOptions{})
		g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "get secret: %v", err)
		_, err = tok.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "intruder"},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
		}, metav1.CreateOptions{})
		g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "create pod: %v", err)
		_, err = tok.AppsV1().Deployments("default").Update(ctx, d, metav1.UpdateOptions{})
		g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "update deployment: %v", err)
		_, err = tok.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "escalate"}}, metav1.CreateOptions{})
		g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "create clusterrole: %v", err)

		// The hub renews its own token, and no other.
		reg := registrationOf(t, g, env.Hub.Config, ns, m1.Name)
		tr, err := tok.CoreV1().ServiceAccounts(ns).CreateToken(ctx, reg.ServiceAccount,
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(tr.Status.Token).NotTo(BeEmpty())
		_, err = admin.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "other"}}, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		_, err = tok.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "other", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "token for another ServiceAccount: %v", err)
		g.Expect(admin.CoreV1().ServiceAccounts(ns).Delete(ctx, "other", metav1.DeleteOptions{})).To(Succeed())
	})

	t.Run("a second identical run changes nothing", func(t *testing.T) {
		g := NewWithT(t)
		before, _ := storedSecret(t, g, hc, ns, m1.Name)
		res, err := setup(m1, SetupOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(res.UpToDate()).To(BeTrue(), "changes: %v", res.Changes)
		g.Expect(res.TokenIssued).To(BeFalse())
		g.Expect(out.String()).To(Equal("Member " + m1.Name + " is already registered and up to date (API URL " +
			m1.APIURL + ", token expires " + res.TokenExpiration.Format(time.RFC3339) + ").\n"))
		after, _ := storedSecret(t, g, hc, ns, m1.Name)
		g.Expect(after.ResourceVersion).To(Equal(before.ResourceVersion))
		g.Expect(after.Data).To(Equal(before.Data))
	})

	t.Run("a run later than half the token's life issues a new token", func(t *testing.T) {
		g := NewWithT(t)
		_, before := storedSecret(t, g, hc, ns, m1.Name)
		res, err := setup(m1, SetupOptions{Now: func() time.Time { return time.Now().Add(DefaultTokenTTL/2 + time.Minute) }})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(res.TokenIssued).To(BeTrue())
		reg := registrationOf(t, g, env.Hub.Config, ns, m1.Name)
		g.Expect(res.Changes).To(ConsistOf(ContainSubstring("token for serviceaccount keda/"+reg.ServiceAccount+" issued (stored token expires in"),
			"hub: secret keda/fleetscale-member-"+m1.Name+" configured"))
		_, after := storedSecret(t, g, hc, ns, m1.Name)
		g.Expect(after.Token).NotTo(Equal(before.Token))
	})

	t.Run("another API URL needs a confirmation", func(t *testing.T) {
		g := NewWithT(t)
		otherURL := strings.Replace(m1.APIURL, "127.0.0.1", "localhost", 1)
		_, err := setup(m1, SetupOptions{MemberAPIURL: otherURL})
		g.Expect(err).To(MatchError(ContainSubstring("member " + m1.Name + " is already registered with API URL " + m1.APIURL + "; rerun with -y to replace it with " + otherURL)))

		_, err = setup(m1, SetupOptions{MemberAPIURL: otherURL, In: strings.NewReader("n\n")})
		g.Expect(errors.Is(err, ErrAborted)).To(BeTrue(), "%v", err)
		g.Expect(out.String()).To(ContainSubstring("Replace it with " + otherURL + "? [y/N]"))

		res, err := setup(m1, SetupOptions{MemberAPIURL: otherURL, In: strings.NewReader("y\n")})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(res.Replaced).To(BeTrue())
		mc := &fleetv1.MemberCluster{}
		g.Expect(hc.Get(ctx, client.ObjectKey{Namespace: ns, Name: m1.Name}, mc)).To(Succeed())
		g.Expect(mc.Spec.APIURL).To(Equal(otherURL))
		_, st := storedSecret(t, g, hc, ns, m1.Name)
		g.Expect(st.Access.Server).To(Equal(otherURL))

		res, err = setup(m1, SetupOptions{Yes: true})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(res.Replaced).To(BeTrue())
		g.Expect(res.TokenIssued).To(BeTrue())
		g.Expect(out.String()).To(ContainSubstring("Member " + m1.Name + " replaced: API URL is now " + m1.APIURL))
	})

	t.Run("list-members", func(t *testing.T) {
		g := NewWithT(t)
		list, err := ListMembers(ctx, hc, ns)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(list.Items).To(HaveLen(2))
		var buf bytes.Buffer
		g.Expect(PrintMembers(&buf, list, OutputTable, time.Now())).To(Succeed())
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		g.Expect(lines).To(HaveLen(3))
		g.Expect(strings.Fields(lines[0])).To(Equal([]string{"NAME", "STATE", "API", "URL", "VERSION", "LAST", "PROBE", "AGE"}))
		g.Expect(strings.Fields(lines[1])[:6]).To(Equal([]string{m1.Name, "NotReady", m1.APIURL, "<none>", "<none>", strings.Fields(lines[1])[5]}))
		g.Expect(strings.Fields(lines[2])[:2]).To(Equal([]string{m2.Name, "NotReady"}))

		// What the hub's probe will write.
		mc := &list.Items[0]
		probed := metav1.NewTime(time.Now().Add(-5 * time.Second))
		mc.Status = fleetv1.MemberClusterStatus{
			Conditions: []metav1.Condition{{Type: fleetv1.ConditionReady, Status: metav1.ConditionTrue, Reason: fleetv1.MemberReasonReady,
				Message: "probe succeeded", LastTransitionTime: probed}},
			State: fleetv1.MemberStateReady, LastProbeTime: &probed, ProbeLatency: "4ms", KubernetesVersion: "v1.37.2",
		}
		g.Expect(hc.Status().Update(ctx, mc)).To(Succeed())

		list, err = ListMembers(ctx, hc, ns)
		g.Expect(err).NotTo(HaveOccurred())
		buf.Reset()
		g.Expect(PrintMembers(&buf, list, OutputTable, time.Now())).To(Succeed())
		lines = strings.Split(strings.TrimSpace(buf.String()), "\n")
		g.Expect(strings.Fields(lines[1])[:5]).To(Equal([]string{m1.Name, "Ready", m1.APIURL, "v1.37.2", "5s"}))
		buf.Reset()
		g.Expect(PrintMembers(&buf, list, OutputWide, time.Now())).To(Succeed())
		lines = strings.Split(strings.TrimSpace(buf.String()), "\n")
		g.Expect(lines[0]).To(HaveSuffix("REASON   MESSAGE           LATENCY"))
		g.Expect(lines[1]).To(HaveSuffix("Ready    probe succeeded   4ms"))

		buf.Reset()
		g.Expect(PrintMembers(&buf, list, OutputJSON, time.Now())).To(Succeed())
		var got fleetv1.MemberClusterList
		g.Expect(json.Unmarshal(buf.Bytes(), &got)).To(Succeed())
		g.Expect(got.Kind).To(Equal("MemberClusterList"))
		g.Expect(got.Items).To(HaveLen(2))
		g.Expect(got.Items[0].Status.KubernetesVersion).To(Equal("v1.37.2"))
		g.Expect(got.Items[1].Spec.APIURL).To(Equal(m2.APIURL))

		empty, err := ListMembers(ctx, hc, "no-such-namespace")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(empty.Items).To(BeEmpty())
	})

	t.Run("delete-member without the member kubeconfig removes the hub registration only", func(t *testing.T) {
		g := NewWithT(t)
		res, err := DeleteMember(ctx, DeleteOptions{Name: m2.Name, Hub: env.Hub.Config, Out: &out})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(res.Changes).To(Equal([]string{
			"hub: membercluster keda/" + m2.Name + " deleted",
			"hub: secret keda/fleetscale-member-" + m2.Name + " deleted",
		}))
		err = hc.Get(ctx, client.ObjectKey{Namespace: ns, Name: m2.Name}, &fleetv1.MemberCluster{})
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue())
		err = hc.Get(ctx, client.ObjectKey{Namespace: ns, Name: SecretName(m2.Name)}, &corev1.Secret{})
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue())
		_, err = m2.Clientset().CoreV1().ServiceAccounts(ns).Get(ctx, registrationOf(t, g, env.Hub.Config, ns, m2.Name).ServiceAccount, metav1.GetOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(out.String()).To(ContainSubstring("The member keeps ServiceAccount keda/" + registrationOf(t, g, env.Hub.Config, ns, m2.Name).ServiceAccount))

		_, err = DeleteMember(ctx, DeleteOptions{Name: m2.Name, Hub: env.Hub.Config})
		g.Expect(err).To(MatchError("member " + m2.Name + " is not registered in namespace keda of the hub cluster at " +
			env.Hub.APIURL + " (see kubectl fleetscale mc list-members -n keda)"))
	})

	t.Run("registering again reuses the member's ServiceAccount", func(t *testing.T) {
		g := NewWithT(t)
		res, err := setup(m2, SetupOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(res.Registered).To(BeTrue())
		g.Expect(res.TokenIssued).To(BeTrue())
		reg2 := registrationOf(t, g, env.Hub.Config, ns, m2.Name)
		g.Expect(res.Changes).To(ConsistOf(
			ContainSubstring("member: token for serviceaccount keda/"+reg2.ServiceAccount+" issued (no stored token)"),
			"hub: secret keda/fleetscale-member-"+m2.Name+" created",
			"hub: membercluster keda/"+m2.Name+" created",
		))

		// m1's registration with m2's kubeconfig: m2 has a ServiceAccount of that name (made
		// for this test) that is not the one m1's token names, so nothing is touched anywhere.
		reg1 := registrationOf(t, g, env.Hub.Config, ns, m1.Name)
		_, err = m2.Clientset().CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
			Name: reg1.ServiceAccount, Labels: map[string]string{LabelRegistration: reg1.ID}}}, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		_, err = DeleteMember(ctx, DeleteOptions{Name: m1.Name, Hub: env.Hub.Config, Member: m2.Config, Yes: true})
		g.Expect(err).To(MatchError(ContainSubstring("the member cluster at " + m2.APIURL + " has a ServiceAccount keda/" + reg1.ServiceAccount + " that is not the one member " + m1.Name + " was registered with")))
		g.Expect(hc.Get(ctx, client.ObjectKey{Namespace: ns, Name: m1.Name}, &fleetv1.MemberCluster{})).To(Succeed())
		_, err = m2.Clientset().RbacV1().ClusterRoleBindings().Get(ctx, reg2.ServiceAccount, metav1.GetOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(m2.Clientset().CoreV1().ServiceAccounts(ns).Delete(ctx, reg1.ServiceAccount, metav1.DeleteOptions{})).To(Succeed())
	})

	t.Run("delete-member with the member kubeconfig leaves a namespace in use", func(t *testing.T) {
		g := NewWithT(t)
		admin := m2.Clientset()
		_, err := admin.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "user-data"}}, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		// Not a terminal and no -y: like kubectl delete, no question.
		res, err := DeleteMember(ctx, DeleteOptions{Name: m2.Name, Hub: env.Hub.Config, Member: m2.Config, Out: &out})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(res.NamespaceLeft).To(Equal("it still holds other objects (configmaps/user-data)"))
		g.Expect(out.String()).To(ContainSubstring("Left namespace keda in the member: it still holds other objects (configmaps/user-data)."))
		_, err = admin.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		expectMemberClean(g, admin, registrationOf(t, g, env.Hub.Config, ns, m2.Name))
	})

	t.Run("delete-member with the member kubeconfig removes an unused namespace", func(t *testing.T) {
		g := NewWithT(t)
		admin := m1.Clientset()
		s, _ := storedSecret(t, g, hc, ns, m1.Name)
		tok := asStoredToken(t, g, s)

		res, err := DeleteMember(ctx, DeleteOptions{Name: m1.Name, Hub: env.Hub.Config, Member: m1.Config, In: strings.NewReader("n\n"), Out: &out})
		g.Expect(errors.Is(err, ErrAborted)).To(BeTrue(), "%v", err)
		g.Expect(res).To(BeNil())
		g.Expect(hc.Get(ctx, client.ObjectKey{Namespace: ns, Name: m1.Name}, &fleetv1.MemberCluster{})).To(Succeed())

		res, err = DeleteMember(ctx, DeleteOptions{Name: m1.Name, Hub: env.Hub.Config, Member: m1.Config, In: strings.NewReader("y\n"), Out: &out})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(res.NamespaceLeft).To(BeEmpty())
		reg := registrationOf(t, g, env.Hub.Config, ns, m1.Name)
		g.Expect(res.Changes).To(ContainElements(
			"member: clusterrolebinding "+reg.ServiceAccount+" deleted",
			"member: clusterrole "+reg.ServiceAccount+" deleted",
			"member: role keda/"+reg.TokenRole+" deleted",
			"member: serviceaccount keda/"+reg.ServiceAccount+" deleted",
			"member: namespace keda deleted",
			"hub: membercluster keda/"+m1.Name+" deleted",
			"hub: secret keda/fleetscale-member-"+m1.Name+" deleted",
		))
		expectMemberClean(g, admin, reg)
		// Deleting the ServiceAccount revoked the token.
		g.Eventually(func() error {
			_, err := tok.AppsV1().Deployments("default").GetScale(ctx, "nginx", metav1.GetOptions{})
			return err
		}).WithTimeout(eventually).WithPolling(poll).Should(Satisfy(apierrors.IsUnauthorized))
		list, err := ListMembers(ctx, hc, ns)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(list.Items).To(BeEmpty())
	})
}

// expectMemberClean checks that nothing setup-member creates for reg is left in the member.
func expectMemberClean(g Gomega, admin kubernetes.Interface, reg Registration) {
	ctx := context.Background()
	_, err := admin.CoreV1().ServiceAccounts(reg.Namespace).Get(ctx, reg.ServiceAccount, metav1.GetOptions{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "serviceaccount: %v", err)
	_, err = admin.RbacV1().ClusterRoles().Get(ctx, reg.ServiceAccount, metav1.GetOptions{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "clusterrole: %v", err)
	_, err = admin.RbacV1().ClusterRoleBindings().Get(ctx, reg.ServiceAccount, metav1.GetOptions{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "clusterrolebinding: %v", err)
	sel := metav1.ListOptions{LabelSelector: LabelRegistration + "=" + reg.ID}
	roles, err := admin.RbacV1().Roles("").List(ctx, sel)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(roles.Items).To(BeEmpty())
	bindings, err := admin.RbacV1().RoleBindings("").List(ctx, sel)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(bindings.Items).To(BeEmpty())
}

func TestSetupMemberTargetNamespaces(t *testing.T) {
	env := envFor(t)
	g := NewWithT(t)
	ctx := context.Background()
	hc := hubClient(t, env)
	m := env.Members[1]
	admin := m.Clientset()
	const ns = "scoped"
	for _, n := range []string{"apps-a", "apps-b", "apps-c"} {
		ensureNamespaceForTest(t, admin, n)
		createDeployment(t, admin, n, "web")
	}
	o := SetupOptions{Name: "scoped-member", Namespace: ns, Hub: env.Hub.Config, Member: m.Config}

	o.TargetNamespaces = []string{"apps-a", "missing"}
	_, err := SetupMember(ctx, o)
	g.Expect(err).To(MatchError(`target namespace "missing" does not exist in the member cluster at ` + m.APIURL +
		": create it first or drop it from --target-namespaces"))

	o.TargetNamespaces = []string{"apps-b", "apps-a", "apps-a"}
	res, err := SetupMember(ctx, o)
	g.Expect(err).NotTo(HaveOccurred())
	reg := registrationOf(t, g, env.Hub.Config, ns, "scoped-member")
	r, tr := reg.ServiceAccount, reg.TokenRole
	g.Expect(res.Changes).To(ContainElements(
		"member: role apps-a/"+r+" created", "member: rolebinding apps-a/"+r+" created",
		"member: role apps-b/"+r+" created", "member: rolebinding apps-b/"+r+" created",
		"member: role scoped/"+tr+" created", "member: rolebinding scoped/"+tr+" created",
	))
	g.Expect(res.Changes).NotTo(ContainElement(ContainSubstring("clusterrole")))
	mc := &fleetv1.MemberCluster{}
	g.Expect(hc.Get(ctx, client.ObjectKey{Namespace: ns, Name: "scoped-member"}, mc)).To(Succeed())
	g.Expect(mc.Spec.TargetNamespaces).To(Equal([]string{"apps-a", "apps-b"}))
	g.Expect(mc.Spec.ServiceAccount).To(Equal("scoped/" + r))
	role, err := admin.RbacV1().Roles("apps-a").Get(ctx, r, metav1.GetOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(role.Rules).To(Equal(MemberRules()))

	s, _ := storedSecret(t, g, hc, ns, "scoped-member")
	tok := asStoredToken(t, g, s)
	g.Eventually(func() error { return canScale(ctx, tok, "apps-a", "web", 2) }).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	g.Eventually(func() error { return canScale(ctx, tok, "apps-b", "web", 2) }).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
	err = canScale(ctx, tok, "apps-c", "web", 2)
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "scale outside the target namespaces: %v", err)
	_, err = tok.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "cluster-wide list: %v", err)

	// Same set in another order: nothing to do.
	o.TargetNamespaces = []string{"apps-a", "apps-b"}
	res, err = SetupMember(ctx, o)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.UpToDate()).To(BeTrue(), "%v", res.Changes)

	// Narrowing removes the grant that is no longer wanted.
	o.TargetNamespaces = []string{"apps-a"}
	res, err = SetupMember(ctx, o)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Changes).To(ConsistOf(
		"member: rolebinding apps-b/"+r+" deleted",
		"member: role apps-b/"+r+" deleted",
		"hub: membercluster scoped/scoped-member configured",
	))
	g.Eventually(func() bool { return apierrors.IsForbidden(canScale(ctx, tok, "apps-b", "web", 1)) }).
		WithTimeout(eventually).WithPolling(poll).Should(BeTrue())

	dres, err := DeleteMember(ctx, DeleteOptions{Name: "scoped-member", Namespace: ns, Hub: env.Hub.Config, Member: m.Config, Yes: true})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(dres.Changes).To(ContainElements("member: rolebinding apps-a/"+r+" deleted", "member: role scoped/"+tr+" deleted"))
	expectMemberClean(g, admin, reg)
	_, err = admin.CoreV1().Namespaces().Get(ctx, "apps-a", metav1.GetOptions{})
	g.Expect(err).NotTo(HaveOccurred(), "a target namespace was deleted")
}

func TestErrorsFromRealClusters(t *testing.T) {
	env := envFor(t)
	ctx := context.Background()
	m := env.Members[0]

	t.Run("unknown member", func(t *testing.T) {
		_, err := DeleteMember(ctx, DeleteOptions{Name: "nobody", Hub: env.Hub.Config})
		NewWithT(t).Expect(err).To(MatchError(ContainSubstring("member nobody is not registered in namespace keda")))
	})

	t.Run("a hub without fleetscale's CRDs", func(t *testing.T) {
		g := NewWithT(t)
		_, err := SetupMember(ctx, SetupOptions{Name: "x", Namespace: "no-crds", Hub: m.Config, Member: m.Config})
		g.Expect(err).To(MatchError("the hub cluster at " + m.APIURL + " does not serve memberclusters.keda.kedify.io: install fleetscale's CRDs (config/crd/bases) first"))
		c, err := NewHubClient(m.Config)
		g.Expect(err).NotTo(HaveOccurred())
		_, err = ListMembers(ctx, c, "no-crds")
		g.Expect(DescribeError("hub", m.Config, "list memberclusters", err)).To(MatchError(ContainSubstring("does not serve memberclusters.keda.kedify.io")))
		_, err = DeleteMember(ctx, DeleteOptions{Name: "x", Hub: m.Config})
		g.Expect(err).To(MatchError(ContainSubstring("does not serve memberclusters.keda.kedify.io")))
	})

	t.Run("missing permission names the verb and resource", func(t *testing.T) {
		g := NewWithT(t)
		// A hub identity that may read MemberClusters and nothing else.
		hubAdmin := env.Hub.Clientset()
		const ns = "limited"
		ensureNamespaceForTest(t, hubAdmin, ns)
		_, err := hubAdmin.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader"}}, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		_, err = hubAdmin.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "reader"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{"keda.kedify.io"}, Resources: []string{"memberclusters"}, Verbs: []string{"get", "list"}}}}, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		_, err = hubAdmin.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "reader"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "reader"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "reader", Namespace: ns}}}, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		tr, err := hubAdmin.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "reader", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		limited := rest.AnonymousClientConfig(env.Hub.Config)
		limited.BearerToken = tr.Status.Token

		g.Eventually(func() error {
			c, err := NewHubClient(limited)
			if err != nil {
				return err
			}
			_, err = ListMembers(ctx, c, ns)
			return err
		}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
		_, err = SetupMember(ctx, SetupOptions{Name: "x", Namespace: ns, Hub: limited, Member: m.Config})
		g.Expect(err).To(HaveOccurred())
		g.Expect(err.Error()).To(HavePrefix("permission denied in the hub cluster at " + env.Hub.APIURL + ": "))
		g.Expect(err.Error()).To(ContainSubstring(`cannot get resource "secrets"`))

		c, err := NewHubClient(limited)
		g.Expect(err).NotTo(HaveOccurred())
		_, err = ListMembers(ctx, c, "keda")
		g.Expect(DescribeError("hub", limited, "list memberclusters", err)).To(MatchError(ContainSubstring(`cannot list resource "memberclusters" in API group "keda.kedify.io" in the namespace "keda"`)))
	})

	t.Run("rejected credentials", func(t *testing.T) {
		bad := rest.AnonymousClientConfig(env.Hub.Config)
		bad.BearerToken = "not-a-token"
		_, err := DeleteMember(ctx, DeleteOptions{Name: "x", Hub: bad})
		NewWithT(t).Expect(err).To(MatchError(ContainSubstring("the hub cluster at " + env.Hub.APIURL + " rejected the credentials (401 Unauthorized)")))
	})
}
