package clusterenv_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/fleetscale/fleetscale/internal/clusterenv"
)

const jobPodDuration = 3 * time.Second

// One environment for the package: the hub (apiserver only, with aggregation) and three full
// members, the third without a node. Started by the first test that needs it.
var shared = clusterenv.NewShared(clusterenv.Options{
	Hub:            clusterenv.ClusterOptions{Aggregation: true},
	Members:        3,
	Member:         clusterenv.ClusterOptions{Full: true},
	PerMember:      map[string]clusterenv.ClusterOptions{"member-3": {Full: true, NoNode: true}},
	CRDDir:         "testdata/crds",
	JobPodDuration: jobPodDuration,
})

func TestMain(m *testing.M) {
	os.Exit(shared.Main(m))
}

func TestEachClusterAnswersWithItsOwnData(t *testing.T) {
	g := NewWithT(t)
	env := shared.Env(t)
	ctx := t.Context()

	ports := map[int]string{}
	for _, c := range env.Clusters() {
		g.Expect(ports).NotTo(HaveKey(c.Port), "%s and %s share a port", c.Name, ports[c.Port])
		ports[c.Port] = c.Name
		g.Expect(c.APIURL).To(HavePrefix("https://127.0.0.1:"))

		// The same name in every cluster, each with its own content: etcd prefixes keep
		// them apart.
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "whoami", Namespace: metav1.NamespaceDefault},
			Data:       map[string]string{"cluster": c.Name},
		}
		_, err := c.Clientset().CoreV1().ConfigMaps(cm.Namespace).Create(ctx, cm, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		t.Cleanup(func() {
			_ = c.Clientset().CoreV1().ConfigMaps(cm.Namespace).Delete(context.Background(), cm.Name, metav1.DeleteOptions{})
		})
	}
	for _, c := range env.Clusters() {
		cm, err := c.Clientset().CoreV1().ConfigMaps(metav1.NamespaceDefault).Get(ctx, "whoami", metav1.GetOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(cm.Data).To(HaveKeyWithValue("cluster", c.Name))

		// The kubeconfig file works for client-go and for kubectl.
		cfg, err := clientcmd.BuildConfigFromFlags("", c.KubeconfigPath)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(cfg.Host).To(Equal(c.APIURL))
		version, err := kubernetes.NewForConfigOrDie(cfg).Discovery().ServerVersion()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(version.GitVersion).To(HavePrefix("v1.37."))
		out, err := exec.Command(env.BinDir+"/kubectl", "--kubeconfig", c.KubeconfigPath,
			"get", "configmap", "whoami", "-o", "jsonpath={.data.cluster}").CombinedOutput()
		g.Expect(err).NotTo(HaveOccurred(), string(out))
		g.Expect(string(out)).To(Equal(c.Name))
	}
}

func TestDeploymentBecomesAvailableInAFullMember(t *testing.T) {
	g := NewWithT(t)
	c := shared.Env(t).Cluster("member-1")
	begin := time.Now()
	name := createDeployment(t, c, 2)
	g.Eventually(func(g Gomega) {
		d, err := c.Clientset().AppsV1().Deployments(metav1.NamespaceDefault).Get(t.Context(), name, metav1.GetOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(d.Status.AvailableReplicas).To(BeEquivalentTo(2))
	}).WithTimeout(60 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
	t.Logf("2 replicas Available after %.1fs", time.Since(begin).Seconds())

	pods, err := c.Clientset().CoreV1().Pods(metav1.NamespaceDefault).List(t.Context(), metav1.ListOptions{LabelSelector: "app=" + name})
	g.Expect(err).NotTo(HaveOccurred())
	for _, p := range pods.Items {
		g.Expect(p.Spec.NodeName).To(Equal(clusterenv.FakeNodeName))
		g.Expect(p.Status.Phase).To(Equal(corev1.PodRunning))
	}
}

func TestJobCompletesAfterJobPodDuration(t *testing.T) {
	g := NewWithT(t)
	env := shared.Env(t)
	g.Expect(env.JobPodDuration()).To(Equal(jobPodDuration))
	c := env.Cluster("member-2")
	name := createJob(t, c)

	var job *batchv1.Job
	g.Eventually(func(g Gomega) {
		var err error
		job, err = c.Clientset().BatchV1().Jobs(metav1.NamespaceDefault).Get(t.Context(), name, metav1.GetOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(job.Status.Conditions).To(ContainElement(And(
			HaveField("Type", batchv1.JobComplete), HaveField("Status", corev1.ConditionTrue))))
	}).WithTimeout(90 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
	g.Expect(job.Status.Succeeded).To(BeEquivalentTo(1))

	// The pod ran for the configured time (kwok's timestamps have whole seconds).
	pods, err := c.Clientset().CoreV1().Pods(metav1.NamespaceDefault).List(t.Context(), metav1.ListOptions{LabelSelector: "job-name=" + name})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(pods.Items).To(HaveLen(1))
	pod := pods.Items[0]
	g.Expect(pod.Status.Phase).To(Equal(corev1.PodSucceeded))
	g.Expect(pod.Status.ContainerStatuses).To(HaveLen(1))
	term := pod.Status.ContainerStatuses[0].State.Terminated
	g.Expect(term).NotTo(BeNil())
	ran := term.FinishedAt.Sub(term.StartedAt.Time)
	t.Logf("job pod ran %s; job took %s", ran, job.Status.CompletionTime.Sub(job.Status.StartTime.Time))
	g.Expect(ran).To(BeNumerically(">=", jobPodDuration-time.Second))
	g.Expect(ran).To(BeNumerically("<", jobPodDuration+10*time.Second))
}

func TestMemberWithoutNodeKeepsPodsPending(t *testing.T) {
	g := NewWithT(t)
	c := shared.Env(t).Cluster("member-3")
	g.Expect(c.Options.NoNode).To(BeTrue())
	nodes, err := c.Clientset().CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(nodes.Items).To(BeEmpty())

	name := createJob(t, c)
	pending := func(g Gomega) {
		pods, err := c.Clientset().CoreV1().Pods(metav1.NamespaceDefault).List(t.Context(), metav1.ListOptions{LabelSelector: "job-name=" + name})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(pods.Items).To(HaveLen(1))
		g.Expect(pods.Items[0].Status.Phase).To(Equal(corev1.PodPending))
		g.Expect(pods.Items[0].Spec.NodeName).To(BeEmpty())
	}
	g.Eventually(pending).WithTimeout(60 * time.Second).Should(Succeed())
	g.Consistently(pending).WithTimeout(jobPodDuration + 2*time.Second).WithPolling(500 * time.Millisecond).Should(Succeed())
}

func TestStopAndStartKeepData(t *testing.T) {
	g := NewWithT(t)
	c := shared.Env(t).Cluster("member-2")
	ctx := t.Context()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "survivor", Namespace: metav1.NamespaceDefault}}
	_, err := c.Clientset().CoreV1().ConfigMaps(cm.Namespace).Create(ctx, cm, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	before := c.Processes()

	begin := time.Now()
	g.Expect(c.Stop()).To(Succeed())
	t.Logf("stopped in %.1fs", time.Since(begin).Seconds())
	for _, p := range c.Processes() {
		g.Expect(p.Status).To(Equal(clusterenv.ProcessExited), p.Name)
	}
	_, err = quickClient(c).CoreV1().ConfigMaps(cm.Namespace).Get(ctx, cm.Name, metav1.GetOptions{})
	g.Expect(err).To(HaveOccurred())
	g.Expect(c.WaitReady(ctx)).NotTo(Succeed(), "WaitReady fails at once on a stopped cluster")

	begin = time.Now()
	g.Expect(c.Start()).To(Succeed())
	t.Logf("started again in %.1fs", time.Since(begin).Seconds())
	after := c.Processes()
	g.Expect(after).To(HaveLen(len(before)))
	for i, p := range after {
		g.Expect(p.Status).To(Equal(clusterenv.ProcessRunning), p.Name)
		g.Expect(p.PID).NotTo(Equal(before[i].PID), p.Name)
	}
	_, err = c.Clientset().CoreV1().ConfigMaps(cm.Namespace).Get(ctx, cm.Name, metav1.GetOptions{})
	g.Expect(err).NotTo(HaveOccurred())

	// The restarted controller-manager, scheduler and kwok work at once (kwok does not wait
	// for its predecessor's node lease to expire, 40s).
	name := createDeployment(t, c, 1)
	g.Eventually(func(g Gomega) {
		d, err := c.Clientset().AppsV1().Deployments(metav1.NamespaceDefault).Get(ctx, name, metav1.GetOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(d.Status.AvailableReplicas).To(BeEquivalentTo(1))
	}).WithTimeout(20 * time.Second).Should(Succeed())
}

func TestHangMakesRequestsTimeOutWhileOthersAnswer(t *testing.T) {
	g := NewWithT(t)
	env := shared.Env(t)
	hung := env.Cluster("member-1")
	ctx := t.Context()

	g.Expect(hung.Hang()).To(Succeed())
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			_ = hung.Resume()
		}
	})
	g.Expect(hung.Processes()[0].Status).To(Equal(clusterenv.ProcessStopped))

	begin := time.Now()
	_, err := quickClient(hung).CoreV1().Namespaces().Get(ctx, metav1.NamespaceDefault, metav1.GetOptions{})
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(Or(ContainSubstring("Timeout"), ContainSubstring("deadline exceeded")))
	g.Expect(time.Since(begin)).To(BeNumerically(">=", 2*time.Second), "the request hung rather than failing at once")

	for _, c := range env.Clusters() {
		if c == hung {
			continue
		}
		_, err := quickClient(c).CoreV1().Namespaces().Get(ctx, metav1.NamespaceDefault, metav1.GetOptions{})
		g.Expect(err).NotTo(HaveOccurred(), c.Name)
	}

	g.Expect(hung.Resume()).To(Succeed())
	resumed = true
	g.Expect(hung.WaitReady(ctx)).To(Succeed())
	_, err = quickClient(hung).CoreV1().Namespaces().Get(ctx, metav1.NamespaceDefault, metav1.GetOptions{})
	g.Expect(err).NotTo(HaveOccurred())
}

func TestCRDsFromDirAreEstablishedInTheHub(t *testing.T) {
	g := NewWithT(t)
	env := shared.Env(t)
	ctx := t.Context()
	want := []string{"widgets.clusterenv.fleetscale.test", "gadgets.clusterenv.fleetscale.test", "sprockets.clusterenv.fleetscale.test"}

	hub := apiextensionsclient.NewForConfigOrDie(env.Hub.Config).ApiextensionsV1().CustomResourceDefinitions()
	for _, name := range want {
		crd, err := hub.Get(ctx, name, metav1.GetOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(crd.Status.Conditions).To(ContainElement(And(
			HaveField("Type", BeEquivalentTo("Established")), HaveField("Status", BeEquivalentTo("True")))))
	}
	// Served at once: a Widget can be created.
	widget := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "clusterenv.fleetscale.test/v1",
		"kind":       "Widget",
		"metadata":   map[string]any{"name": "w1", "namespace": "default"},
		"spec":       map[string]any{"size": int64(3)},
	}}
	gvr := schema.GroupVersionResource{Group: "clusterenv.fleetscale.test", Version: "v1", Resource: "widgets"}
	_, err := dynamic.NewForConfigOrDie(env.Hub.Config).Resource(gvr).Namespace("default").Create(ctx, widget, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())

	// Members do not have them.
	_, err = apiextensionsclient.NewForConfigOrDie(env.Member(0).Config).ApiextensionsV1().CustomResourceDefinitions().Get(ctx, want[0], metav1.GetOptions{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%v", err)
}

// quickClient gives up on a request after two seconds.
func quickClient(c *clusterenv.Cluster) kubernetes.Interface {
	cfg := rest.CopyConfig(c.Config)
	cfg.Timeout = 2 * time.Second
	return kubernetes.NewForConfigOrDie(cfg)
}

func createDeployment(t *testing.T, c *clusterenv.Cluster, replicas int32) string {
	t.Helper()
	name := strings.ToLower(strings.ReplaceAll(t.Name(), "_", "-"))
	name = name[:min(len(name), 50)]
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: metav1.NamespaceDefault},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx"}}},
			},
		},
	}
	_, err := c.Clientset().AppsV1().Deployments(d.Namespace).Create(t.Context(), d, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Clientset().AppsV1().Deployments(d.Namespace).Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

func createJob(t *testing.T, c *clusterenv.Cluster) string {
	t.Helper()
	name := strings.ToLower(strings.ReplaceAll(t.Name(), "_", "-"))
	name = name[:min(len(name), 50)]
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: metav1.NamespaceDefault},
		Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "work", Image: "busybox"}},
				},
			},
		},
	}
	_, err := c.Clientset().BatchV1().Jobs(job.Namespace).Create(t.Context(), job, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Clientset().BatchV1().Jobs(job.Namespace).Delete(context.Background(), name,
			metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)})
	})
	return name
}
