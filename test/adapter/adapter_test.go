package adapter

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/clusterenv"
	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/manager"
)

const (
	timeout = 120 * time.Second
	poll    = 250 * time.Millisecond
)

var (
	root string
	// adapterAddress is where the controller sends trigger types it does not implement; the
	// adapter binary is started there by the test that needs it.
	adapterAddress string
	shared         *fleettest.Shared
)

// TestMain gives the shared fleet's controller --external-scaler-address on a loopback port
// chosen here; the adapter itself starts once the hub is up (it needs the hub's kubeconfig).
func TestMain(m *testing.M) {
	var err error
	if root, err = clusterenv.RepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, "adapter:", err)
		os.Exit(1)
	}
	port, err := freePort()
	if err != nil {
		fmt.Fprintln(os.Stderr, "adapter:", err)
		os.Exit(1)
	}
	adapterAddress = "127.0.0.1:" + strconv.Itoa(port)
	shared = fleettest.NewShared(fleettest.Options{Members: 2,
		Controller: manager.Options{ExternalScalerAddress: adapterAddress}})
	os.Exit(shared.Main(m))
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// AdapterRules are the only permissions fleetscale-keda-scalers has in the hub (the chart's
// ClusterRole has exactly these; test/helm checks it): it watches DSOs and DSJs to close the
// scalers of triggers that changed or went away.
var AdapterRules = []rbacv1.PolicyRule{{
	APIGroups: []string{"keda.kedify.io"},
	Resources: []string{"distributedscaledobjects", "distributedscaledjobs"},
	Verbs:     []string{"list", "watch"},
}}

// A `type: redis` DSO through the real adapter binary (bin/fleetscale-keda-scalers, running
// with only AdapterRules in the hub) against a real redis-server: the members follow the
// list length; a changed trigger and a deleted DSO close the adapter's Redis connection;
// with Redis stopped, Ready names the failing redis trigger and nothing is scaled down; a
// type nobody knows is reported with its name.
func TestRedisTriggerThroughTheAdapter(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a hub, two members, redis-server and the adapter; skipped with -short")
	}
	g := NewWithT(t)
	f := shared.Fleet(t)
	redis := startRedis(t, "e2e-r3dis-Pass")
	startAdapterBinary(t, f)
	ns := f.Namespace(t, "adapter-")
	for _, m := range f.Members {
		createNginx(t, m, ns)
	}
	// The password comes from a TriggerAuthentication (secretTargetRef), as in KEDA: the hub
	// resolves it and hands it to the adapter with the trigger.
	auth := func(name, password string) {
		fleettest.Apply(t, f.Hub, ns, fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata:
  name: %[1]s
stringData:
  redis-password: %[2]s
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata:
  name: %[1]s
spec:
  secretTargetRef:
  - parameter: password
    name: %[1]s
    key: redis-password
`, name, password))
	}
	dsoFor := func(name, address, authName string, listLength int) string {
		return fmt.Sprintf(`apiVersion: keda.kedify.io/v1alpha1
kind: DistributedScaledObject
metadata:
  name: %s
spec:
  scaledObjectSpec:
    scaleTargetRef:
      name: nginx
    pollingInterval: 1
    minReplicaCount: 1
    maxReplicaCount: 20
    advanced:
      horizontalPodAutoscalerConfig:
        behavior:
          scaleDown:
            stabilizationWindowSeconds: 0
    triggers:
    - type: redis
      name: jobs
      metadata:
        address: %s
        listName: jobs
        listLength: "%d"
      authenticationRef:
        name: %s
`, name, address, listLength, authName)
	}
	auth("redis-auth", redis.Password)
	dso := func(listLength int) string { return dsoFor("nginx", redis.Addr, "redis-auth", listLength) }
	total := func() int32 { return sum(replicas(f, ns)) }

	redis.do(t, append([]string{"RPUSH", "jobs"}, items(20)...)...)
	fleettest.Apply(t, f.Hub, ns, dso(5))
	g.Eventually(total, timeout, poll).Should(BeEquivalentTo(4), "20 items / listLength 5")
	redis.do(t, append([]string{"RPUSH", "jobs"}, items(20)...)...)
	g.Eventually(total, timeout, poll).Should(BeEquivalentTo(8), "40 items / listLength 5")
	g.Eventually(func() int { return redis.clients(t) }, timeout, poll).Should(Equal(1), "one cached scaler, one connection")

	// A changed trigger: the adapter builds a new scaler and closes the old one.
	fleettest.Apply(t, f.Hub, ns, dso(10))
	g.Eventually(total, timeout, poll).Should(BeEquivalentTo(4), "40 items / listLength 10")
	g.Eventually(func() int { return redis.clients(t) }, timeout, poll).Should(Equal(1), "the old scaler's connection is closed")

	// Redis down: Ready=False names the redis trigger, and the members keep their replicas.
	redis.Stop()
	g.Eventually(func() string {
		c := readyCondition(g, f, ns, "nginx")
		if c.Status != metav1.ConditionFalse {
			return string(c.Status) + ": " + c.Message
		}
		return c.Message
	}, timeout, poll).Should(ContainSubstring("redis trigger"))
	t.Logf("Redis stopped, Ready: %s", readyCondition(g, f, ns, "nginx").Message)
	g.Expect(readyCondition(g, f, ns, "nginx").Message).To(ContainSubstring(`redis "jobs"`), "names the trigger's type and name")
	g.Consistently(total, 5*time.Second, poll).Should(BeEquivalentTo(4), "a failing trigger scales nothing down")
	g.Expect(dsoText(g, f, ns, "nginx")).NotTo(ContainSubstring(redis.Password), "the password never reaches status")

	// A DSO goes away: the adapter closes its scaler (the hub watch), seen as its Redis
	// connection closing. (The stopped server took its connections with it: a second one.)
	redis2 := startRedis(t, "e2e-r3dis-Pass2")
	auth("redis2-auth", redis2.Password)
	fleettest.Apply(t, f.Hub, ns, dsoFor("other", redis2.Addr, "redis2-auth", 5))
	g.Eventually(func() int { return redis2.clients(t) }, timeout, poll).Should(Equal(1))
	g.Expect(f.Hub.Delete(context.Background(), &v1alpha1.DistributedScaledObject{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "other"}})).To(Succeed())
	g.Eventually(func() int { return redis2.clients(t) }, timeout, poll).Should(Equal(0), "the deleted DSO's scaler is closed")

	// A type neither the hub nor the adapter knows: reported with its name.
	fleettest.Apply(t, f.Hub, ns, `apiVersion: keda.kedify.io/v1alpha1
kind: DistributedScaledObject
metadata:
  name: unknown
spec:
  scaledObjectSpec:
    scaleTargetRef:
      name: nginx
    pollingInterval: 1
    triggers:
    - type: no-such-scaler
      metadata:
        foo: bar
`)
	g.Eventually(func() string { return readyCondition(g, f, ns, "unknown").Message }, timeout, poll).
		Should(ContainSubstring(`"no-such-scaler"`))
	t.Logf("unknown type, Ready: %s", readyCondition(g, f, ns, "unknown").Message)
}

// dsoText is the DSO as stored, status included, and the notes of its Events.
func dsoText(g Gomega, f *fleettest.Fleet, ns, name string) string {
	var dso v1alpha1.DistributedScaledObject
	g.Expect(f.Hub.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &dso)).To(Succeed())
	var list eventsv1.EventList
	g.Expect(f.Hub.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
	text := fmt.Sprintf("%+v", dso.Status)
	for _, e := range list.Items {
		text += "\n" + e.Note
	}
	return text
}

func items(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}

func readyCondition(g Gomega, f *fleettest.Fleet, ns, name string) metav1.Condition {
	var dso v1alpha1.DistributedScaledObject
	g.Expect(f.Hub.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &dso)).To(Succeed())
	for _, c := range dso.Status.Conditions {
		if c.Type == v1alpha1.ConditionReady {
			return c
		}
	}
	return metav1.Condition{}
}

func createNginx(t *testing.T, c client.Client, ns string) {
	t.Helper()
	labels := map[string]string{"app": "nginx"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx"}}},
			},
		},
	}
	if err := c.Create(context.Background(), d); err != nil {
		t.Fatal(err)
	}
}

func replicas(f *fleettest.Fleet, ns string) []int32 {
	out := make([]int32, len(f.Members))
	for i, m := range f.Members {
		var d appsv1.Deployment
		if err := m.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "nginx"}, &d); err != nil {
			out[i] = -1
			continue
		}
		out[i] = ptr.Deref(d.Spec.Replicas, 1)
	}
	return out
}

func sum(xs []int32) int32 {
	var s int32
	for _, x := range xs {
		s += max(x, 0)
	}
	return s
}

// startAdapterBinary runs bin/fleetscale-keda-scalers at adapterAddress with a kubeconfig of
// a hub ServiceAccount that has only AdapterRules, and stops it when the test ends.
func startAdapterBinary(t *testing.T, f *fleettest.Fleet) {
	t.Helper()
	bin := filepath.Join(root, "bin", "fleetscale-keda-scalers")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%v: make build builds it (hack/keda-scalers.sh)", err)
	}
	kubeconfig := adapterKubeconfig(t, f)
	var out syncBuffer
	cmd := exec.Command(bin, "--kubeconfig", kubeconfig, "--listen", adapterAddress, "--zap-log-level=debug")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("fleetscale-keda-scalers output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", adapterAddress, time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		select {
		case err := <-exited:
			t.Fatalf("fleetscale-keda-scalers exited: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("fleetscale-keda-scalers did not listen on %s within %s:\n%s", adapterAddress, timeout, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// adapterKubeconfig writes a kubeconfig for a new hub ServiceAccount bound to AdapterRules.
func adapterKubeconfig(t *testing.T, f *fleettest.Fleet) string {
	t.Helper()
	ctx := context.Background()
	const ns, name = "keda", "fleetscale-keda-scalers"
	cs := f.Env.Hub.Clientset()
	_, _ = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	objs := []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: AdapterRules},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}}},
	}
	for _, o := range objs {
		if err := f.Hub.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["hub"] = &clientcmdapi.Cluster{Server: f.Env.Hub.APIURL, CertificateAuthorityData: f.Env.Hub.Config.CAData}
	cfg.AuthInfos["adapter"] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts["hub"] = &clientcmdapi.Context{Cluster: "hub", AuthInfo: "adapter"}
	cfg.CurrentContext = "hub"
	path := filepath.Join(t.TempDir(), "adapter.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// syncBuffer collects a process's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
