package member_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/plugin"
)

// handMadeToken gives a ServiceAccount of member i the member grants, by hand (no plugin, no
// labels), and returns a token for it.
func handMadeToken(t *testing.T, g Gomega, f *fleettest.Fleet, i int, ns, name string) string {
	t.Helper()
	ctx := context.Background()
	cs := f.Cluster(i).Clientset()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	_, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: plugin.MemberRules()}, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}}}, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	return tr.Status.Token
}

// handWritten creates, in the controller's namespace and without any label, a kubeconfig
// Secret with the given YAML and a MemberCluster pointing at it.
func handWritten(t *testing.T, g Gomega, f *fleettest.Fleet, name, apiURL, kubeconfig string) {
	t.Helper()
	ctx := context.Background()
	ns := plugin.DefaultNamespace
	g.Expect(f.Hub.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name + "-kubeconfig", Namespace: ns},
		Data: map[string][]byte{"config": []byte(kubeconfig)}})).To(Succeed())
	g.Expect(f.Hub.Create(ctx, &v1alpha1.MemberCluster{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.MemberClusterSpec{APIURL: apiURL, KubeconfigSecretRef: v1alpha1.SecretKeyRef{Name: name + "-kubeconfig", Key: "config"}}})).To(Succeed())
	t.Cleanup(func() {
		_ = f.Hub.Delete(ctx, &v1alpha1.MemberCluster{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}})
		_ = f.Hub.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name + "-kubeconfig", Namespace: ns}})
	})
}

func kubeconfigYAML(server, clusterExtra, userYAML string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
current-context: member
contexts:
- name: member
  context: {cluster: member, user: hub}
clusters:
- name: member
  cluster:
    server: %s
%susers:
- name: hub
  user:
%s`, server, clusterExtra, userYAML)
}

// eventsFor returns the Events about MemberCluster name with reason.
func eventsFor(g Gomega, f *fleettest.Fleet, name, reason string) []eventsv1.Event {
	var list eventsv1.EventList
	g.Expect(f.Hub.List(context.Background(), &list, client.InNamespace(plugin.DefaultNamespace))).To(Succeed())
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Kind == "MemberCluster" && e.Regarding.Name == name && e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

func readyCondition(mc *v1alpha1.MemberCluster) metav1.Condition {
	for _, c := range mc.Status.Conditions {
		if c.Type == v1alpha1.ConditionReady {
			return c
		}
	}
	return metav1.Condition{}
}

// A MemberCluster and a kubeconfig Secret written by hand, without any label and with
// another data key, is a registration like one made by setup-member; one that skips TLS
// verification works too, with a Warning Event.
func TestHandWrittenRegistration(t *testing.T) {
	f := shared.Fleet(t)
	g := NewWithT(t)
	m := f.Cluster(3)
	token := handMadeToken(t, g, f, 3, "by-hand", "hub-by-hand")
	ca := base64.StdEncoding.EncodeToString(m.Config.CAData)
	handWritten(t, g, f, "by-hand", m.APIURL, kubeconfigYAML(m.APIURL, "    certificate-authority-data: "+ca+"\n", "    token: "+token+"\n"))
	handWritten(t, g, f, "by-hand-insecure", m.APIURL, kubeconfigYAML(m.APIURL, "    insecure-skip-tls-verify: true\n", "    token: "+token+"\n"))
	for _, name := range []string{"by-hand", "by-hand-insecure"} {
		g.Eventually(func(g Gomega) {
			mc := memberCluster(g, f, name)
			g.Expect(mc.Status.State).To(Equal(v1alpha1.MemberStateReady), "%+v", mc.Status.Conditions)
			g.Expect(mc.Status.KubernetesVersion).NotTo(BeEmpty())
		}, timeout, 200*time.Millisecond).Should(Succeed())
	}
	g.Eventually(func(g Gomega) {
		evs := eventsFor(g, f, "by-hand-insecure", "InsecureTransport")
		g.Expect(evs).NotTo(BeEmpty())
		g.Expect(evs[0].Type).To(Equal(corev1.EventTypeWarning))
		g.Expect(evs[0].Note).To(ContainSubstring("insecure-skip-tls-verify: the hub does not verify the member's certificate"))
	}, timeout, 200*time.Millisecond).Should(Succeed())
	g.Expect(eventsFor(g, f, "by-hand", "InsecureTransport")).To(BeEmpty())
}

// A kubeconfig Secret with an exec plugin is refused, naming the field, and the command never
// runs: the file it would create never appears.
func TestExecPluginKubeconfigNeverRuns(t *testing.T) {
	f := shared.Fleet(t)
	g := NewWithT(t)
	m := f.Cluster(1)
	marker := filepath.Join(t.TempDir(), "exec-plugin-ran")
	exec := fmt.Sprintf(`    exec:
      apiVersion: client.authentication.k8s.io/v1
      interactiveMode: Never
      command: /bin/sh
      args: ["-c", "touch %s; echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"x\"}}'"]
`, marker)
	handWritten(t, g, f, "exec-plugin", m.APIURL, kubeconfigYAML(m.APIURL, "", exec))
	g.Eventually(func(g Gomega) {
		mc := memberCluster(g, f, "exec-plugin")
		c := readyCondition(mc)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(v1alpha1.MemberReasonInvalid))
		g.Expect(c.Message).To(ContainSubstring(`Secret keda/exec-plugin-kubeconfig: invalid member kubeconfig: users["hub"].exec is not allowed`))
		g.Expect(c.Message).NotTo(ContainSubstring(marker))
		g.Expect(eventsFor(g, f, "exec-plugin", v1alpha1.MemberReasonInvalid)).NotTo(BeEmpty())
	}, timeout, 200*time.Millisecond).Should(Succeed())
	// Several probe intervals (1s) later, still nothing ran.
	g.Consistently(func() bool {
		_, err := os.Stat(marker)
		return os.IsNotExist(err)
	}, 4*time.Second, 200*time.Millisecond).Should(BeTrue(), "the exec plugin ran")

	// Fixing the Secret (a token instead) makes it a working registration.
	token := handMadeToken(t, g, f, 1, "exec-fixed", "hub-exec-fixed")
	ca := base64.StdEncoding.EncodeToString(m.Config.CAData)
	var s corev1.Secret
	g.Expect(f.Hub.Get(context.Background(), client.ObjectKey{Namespace: plugin.DefaultNamespace, Name: "exec-plugin-kubeconfig"}, &s)).To(Succeed())
	s.Data["config"] = []byte(kubeconfigYAML(m.APIURL, "    certificate-authority-data: "+ca+"\n", "    token: "+token+"\n"))
	g.Expect(f.Hub.Update(context.Background(), &s)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(memberCluster(g, f, "exec-plugin").Status.State).To(Equal(v1alpha1.MemberStateReady))
	}, timeout, 200*time.Millisecond).Should(Succeed())
	_, err := os.Stat(marker)
	g.Expect(os.IsNotExist(err)).To(BeTrue(), "the exec plugin ran")
}

// Changing MemberCluster spec.targetNamespaces takes effect without a controller restart: the
// member's clients are rebuilt for the new namespaces (here: one the credentials may not
// read, then the granted one again).
func TestSpecChangeTakesEffectWithoutRestart(t *testing.T) {
	f := shared.Fleet(t)
	g := NewWithT(t)
	ctx := context.Background()
	cs := f.Cluster(2).Clientset()
	for _, ns := range []string{"granted-ns", "other-ns"} {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
	}
	const name = "scoped"
	_, err := plugin.SetupMember(ctx, plugin.SetupOptions{Name: name, Hub: f.Env.Hub.Config, Member: f.Cluster(2).Config, TargetNamespaces: []string{"granted-ns"}})
	g.Expect(err).NotTo(HaveOccurred())
	defer func() {
		_, err := plugin.DeleteMember(ctx, plugin.DeleteOptions{Name: name, Hub: f.Env.Hub.Config, Member: f.Cluster(2).Config, Yes: true})
		g.Expect(err).NotTo(HaveOccurred())
	}()
	g.Eventually(func(g Gomega) { g.Expect(memberCluster(g, f, name).Status.State).To(Equal(v1alpha1.MemberStateReady)) }, timeout).Should(Succeed())

	setTargets := func(ns ...string) {
		mc := memberCluster(g, f, name)
		mc.Spec.TargetNamespaces = ns
		g.Expect(f.Hub.Update(ctx, mc)).To(Succeed())
	}
	setTargets("other-ns")
	g.Eventually(func(g Gomega) {
		c := readyCondition(memberCluster(g, f, name))
		g.Expect(c.Reason).To(Equal(v1alpha1.MemberReasonForbidden))
		g.Expect(c.Message).To(ContainSubstring(`in the namespace "other-ns"`))
	}, timeout, 200*time.Millisecond).Should(Succeed())
	setTargets("granted-ns")
	g.Eventually(func(g Gomega) { g.Expect(memberCluster(g, f, name).Status.State).To(Equal(v1alpha1.MemberStateReady)) }, timeout).Should(Succeed())
}
