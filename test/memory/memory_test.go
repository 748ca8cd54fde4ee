package memory_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/fleetscale/fleetscale/internal/clusterenv"
	"github.com/fleetscale/fleetscale/internal/demo"
	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/plugin"
)

// Hub + one member (API server only: /scale needs no controller-manager), registered as
// k3d-member-1; the controller runs as a process.
var shared = fleettest.NewShared(fleettest.Options{Members: 1, NoController: true})

var controllerBin string

func TestMain(m *testing.M) {
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr)))
	if !testing.Short() {
		var err error
		if controllerBin, err = clusterenv.RepoBinary("fleetscale-controller"); err != nil {
			fmt.Fprintf(os.Stderr, "memory: %v\nmemory: the test runs the real controller binary\n", err)
			os.Exit(1)
		}
	}
	os.Exit(shared.Main(m))
}

const (
	timeout = 3 * time.Minute
	poll    = 200 * time.Millisecond

	unrelatedSecrets = 2000
	secretSize       = 100 << 10
	maxGrowth        = 20 << 20
)

// vmRSS is the resident set of pid in bytes (VmRSS of /proc/<pid>/status).
func vmRSS(g Gomega, pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	g.Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			g.Expect(err).NotTo(HaveOccurred())
			return kb << 10
		}
	}
	g.Expect(sc.Err()).NotTo(HaveOccurred())
	panic("no VmRSS in /proc/<pid>/status")
}

func deployment(name, ns string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
			},
		},
	}
}

// dso scales Deployment name from the key value of a ConfigMap or Secret named name.
func dso(name, kind string) string {
	return fmt.Sprintf(`apiVersion: keda.kedify.io/v1alpha1
kind: DistributedScaledObject
metadata:
  name: %[1]s
spec:
  scaledObjectSpec:
    scaleTargetRef:
      kind: Deployment
      name: %[1]s
    pollingInterval: 300
    maxReplicaCount: 50
    triggers:
    - type: kubernetes-resource
      metadata:
        resourceKind: %[2]s
        resourceName: %[1]s
        key: value
        targetValue: "1"
`, name, kind)
}

func replicasOf(g Gomega, c client.Client, ns, name string) int32 {
	var d appsv1.Deployment
	g.Expect(c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &d)).To(Succeed())
	return ptr.Deref(d.Spec.Replicas, 1)
}

// 2,000 unrelated 100 KiB Secrets (about 200 MiB) in the hub move the controller's RSS by
// less than 20 MiB: the hub caches hold Secret and ConfigMap metadata only. Settled means the
// controller's Secret watch has delivered every one of them: a Secret a DSO reads is changed
// after the last of them, and a watch delivers in order, so once that DSO reacts the 2,000
// events are behind it. The ConfigMap path still works: a change to the metric ConfigMap
// scales the member's Deployment (its polling interval is 5 minutes: only the watch can do it).
func TestUnrelatedSecretsDoNotGrowTheController(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the controller against a hub and a member; skipped with -short")
	}
	g := NewWithT(t)
	f := shared.Fleet(t)
	ctx := context.Background()
	ns := f.Namespace(t, "memory-")
	for _, name := range []string{"by-configmap", "by-secret"} {
		g.Expect(f.Member(1).Create(ctx, deployment(name, ns))).To(Succeed())
	}
	g.Expect(f.Hub.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "by-configmap", Namespace: ns},
		Data: map[string]string{"value": "2"}})).To(Succeed())
	g.Expect(f.Hub.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "by-secret", Namespace: ns},
		Data: map[string][]byte{"value": []byte("2")}})).To(Succeed())
	fleettest.Apply(t, f.Hub, ns, dso("by-configmap", "ConfigMap"))
	fleettest.Apply(t, f.Hub, ns, dso("by-secret", "Secret"))

	ctl, metricsAddr := startController(t, f)
	for _, name := range []string{"by-configmap", "by-secret"} {
		g.Eventually(func(g Gomega) int32 { return replicasOf(g, f.Member(1), ns, name) }, timeout, poll).Should(BeEquivalentTo(2))
	}
	// Baseline: the controller has started, synced its caches and evaluated both DSOs; a few
	// seconds of steady state let its start-up garbage be collected.
	g.Consistently(func(g Gomega) int32 { return replicasOf(g, f.Member(1), ns, "by-configmap") }, 10*time.Second, time.Second).Should(BeEquivalentTo(2))
	before := vmRSS(g, ctl.PID)
	heapBefore := goHeap(g, metricsAddr)

	unrelated := f.Namespace(t, "unrelated-")
	start := time.Now()
	createSecrets(t, f.Hub, unrelated)
	t.Logf("created %d Secrets of %d KiB in %v", unrelatedSecrets, secretSize>>10, time.Since(start).Round(time.Millisecond))

	g.Expect(f.Hub.Patch(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "by-secret", Namespace: ns}},
		client.RawPatch("application/merge-patch+json", []byte(`{"stringData":{"value":"3"}}`)))).To(Succeed())
	g.Eventually(func(g Gomega) int32 { return replicasOf(g, f.Member(1), ns, "by-secret") }, timeout, poll).Should(BeEquivalentTo(3),
		"the Secret watch delivered the change after the 2,000 Secrets")
	g.Consistently(func(g Gomega) int32 { return replicasOf(g, f.Member(1), ns, "by-secret") }, 10*time.Second, time.Second).Should(BeEquivalentTo(3))
	after := vmRSS(g, ctl.PID)
	t.Logf("controller Go heap in use %.1f MiB before, %.1f MiB after", mib(heapBefore), mib(goHeap(g, metricsAddr)))
	t.Logf("controller VmRSS %.1f MiB before, %.1f MiB after %d unrelated Secrets (%.1f MiB of data): %+.1f MiB",
		mib(before), mib(after), unrelatedSecrets, mib(unrelatedSecrets*secretSize), mib(after-before))
	g.Expect(after-before).To(BeNumerically("<", maxGrowth), "VmRSS grew by %.1f MiB", mib(after-before))

	changed := time.Now()
	g.Expect(f.Hub.Patch(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "by-configmap", Namespace: ns}},
		client.RawPatch("application/merge-patch+json", []byte(`{"data":{"value":"4"}}`)))).To(Succeed())
	g.Eventually(func(g Gomega) int32 { return replicasOf(g, f.Member(1), ns, "by-configmap") }, timeout, 20*time.Millisecond).Should(BeEquivalentTo(4),
		"a ConfigMap change reaches the member")
	t.Logf("ConfigMap change reached the member's Deployment within %v (polled every 20ms)", time.Since(changed).Round(time.Millisecond))
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// createSecrets creates the unrelated Secrets, a few at a time, each with its own random
// (incompressible) data.
func createSecrets(t *testing.T, c client.Client, ns string) {
	t.Helper()
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := make([]byte, secretSize)
			for i := w; i < unrelatedSecrets; i += workers {
				_, _ = rand.Read(data)
				s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("unrelated-%04d", i), Namespace: ns},
					Data: map[string][]byte{"blob": data}}
				if err := c.Create(context.Background(), s); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// startController runs bin/fleetscale-controller against the hub and waits until it is ready;
// it is stopped at the end of the test.
func startController(t *testing.T, f *fleettest.Fleet) (*demo.Controller, string) {
	t.Helper()
	addr, metricsAddr := freeAddr(t), freeAddr(t)
	dir := filepath.Join(f.Env.Dir, "controllers", t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ctl, err := demo.StartController(ctx, demo.Command{Args: []string{controllerBin,
		"--kubeconfig", f.Env.Hub.KubeconfigPath,
		"--namespace", plugin.DefaultNamespace,
		"--metrics-bind-address", metricsAddr,
		"--health-probe-bind-address", addr,
	}}, dir, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("controller started (pid %d, log %s)", ctl.PID, ctl.LogPath)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("end of the controller's log:\n%s", ctl.LogTail(40))
		}
		if err := ctl.Stop(); err != nil {
			t.Error(err)
		}
	})
	return ctl, metricsAddr
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// goHeap is the controller's go_memstats_heap_inuse_bytes (its /metrics), to tell the Go
// heap from memory the runtime has not returned to the system yet.
func goHeap(g Gomega, addr string) int64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	g.Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 1<<20), 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "go_memstats_heap_inuse_bytes "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			g.Expect(err).NotTo(HaveOccurred())
			return int64(v)
		}
	}
	g.Expect(sc.Err()).NotTo(HaveOccurred())
	panic("no go_memstats_heap_inuse_bytes in /metrics")
}
