package fault_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/clusterenv"
	"github.com/fleetscale/fleetscale/internal/demo"
	"github.com/fleetscale/fleetscale/internal/distribution"
	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/plugin"
)

// Hub + 3 full members registered as k3d-member-1..3; no controller in-process: each test runs
// the binary. Job pods run for 10 minutes, so a Job never finishes within a test and every Job
// ever created stays countable.
var shared = fleettest.NewShared(fleettest.Options{
	Members:        3,
	Member:         clusterenv.ClusterOptions{Full: true},
	JobPodDuration: 10 * time.Minute,
	NoController:   true,
})

var controllerBin string

func TestMain(m *testing.M) {
	flag.Parse()
	// The plugin library (setup-member) logs through controller-runtime.
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr)))
	if !testing.Short() {
		var err error
		if controllerBin, err = clusterenv.RepoBinary("fleetscale-controller"); err != nil {
			fmt.Fprintf(os.Stderr, "fault: %v\nfault: the fault matrix runs the real controller binary\n", err)
			os.Exit(1)
		}
	}
	os.Exit(shared.Main(m))
}

const (
	timeout = 2 * time.Minute
	poll    = 200 * time.Millisecond
	// stepInterval is --hpa-sync-period: the least time between two rebalancing steps.
	stepInterval = 2 * time.Second
	// stepWindow is shorter than a step interval: what changes within it was one step.
	stepWindow = stepInterval / 2
	// total is the DSO's total in every test: metric 60 at target 5, 4 per member.
	total = 12
)

// harness is one test's namespace (the same in the hub and every member) and the controller
// processes it started. At the end it deletes the test's DSO and DSJ while a controller still
// runs (the DSJ's finalizer deletes its Jobs), then stops the controllers.
type harness struct {
	t    *testing.T
	f    *fleettest.Fleet
	ns   string
	ctls []*demo.Controller
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the controller against a hub and three members; skipped with -short")
	}
	RegisterTestingT(t)
	f := shared.Fleet(t)
	h := &harness{t: t, f: f, ns: f.Namespace(t, "fault-")}
	t.Cleanup(h.cleanup)
	return h
}

// startController runs bin/fleetscale-controller against the hub with 1s member probes and
// 2s rebalancing steps, plus extra flags, and waits until it is ready. Its log stays in the
// environment's directory when the test fails.
func (h *harness) startController(name string, extra ...string) *demo.Controller {
	h.t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	addr := l.Addr().String()
	Expect(l.Close()).To(Succeed())
	dir := filepath.Join(h.f.Env.Dir, "controllers", regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(h.t.Name(), "_"), name)
	Expect(os.MkdirAll(dir, 0o755)).To(Succeed())
	args := append([]string{controllerBin,
		"--kubeconfig", h.f.Env.Hub.KubeconfigPath,
		"--namespace", plugin.DefaultNamespace,
		"--metrics-bind-address", "0",
		"--health-probe-bind-address", addr,
		"--member-probe-interval", "1s",
		"--member-probe-timeout", "2s",
		"--member-call-timeout", "3s",
		"--hpa-sync-period", stepInterval.String(),
	}, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ctl, err := demo.StartController(ctx, demo.Command{Args: args}, dir, addr)
	Expect(err).NotTo(HaveOccurred())
	h.t.Logf("%s started (pid %d, log %s)", name, ctl.PID, ctl.LogPath)
	h.ctls = append(h.ctls, ctl)
	return ctl
}

func (h *harness) cleanup() {
	ctx := context.Background()
	objs := []client.Object{
		&v1alpha1.DistributedScaledObject{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "nginx"}},
		&v1alpha1.DistributedScaledJob{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "worker"}},
	}
	for _, o := range objs {
		if err := h.f.Hub.Delete(ctx, o); err != nil && !apierrors.IsNotFound(err) {
			h.t.Errorf("delete %T: %v", o, err)
		}
	}
	for _, o := range objs {
		err := wait(time.Minute, func() bool { return apierrors.IsNotFound(h.f.Hub.Get(ctx, client.ObjectKeyFromObject(o), o)) })
		if err != nil {
			// No controller left to run the finalizer: let the object go, the test has failed already.
			h.t.Errorf("%T %s/%s still there after a minute; removing its finalizers", o, h.ns, o.GetName())
			_ = h.f.Hub.Patch(ctx, o, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))
		}
	}
	for i, ctl := range h.ctls {
		if h.t.Failed() {
			h.t.Logf("end of controller %d's log (%s):\n%s", i+1, ctl.LogPath, ctl.LogTail(40))
		}
		if err := ctl.Stop(); err != nil {
			h.t.Error(err)
		}
	}
}

func wait(d time.Duration, cond func() bool) error {
	for deadline := time.Now().Add(d); !cond(); time.Sleep(poll) {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
	}
	return nil
}

// setupDSO creates nginx with 4 replicas in every member, the metric 60 (a total of 12 at
// target 5, so the DSO starts from what runs and nothing scales) and the DSO with this
// rebalancing policy. It returns the DSO's UID.
func (h *harness) setupDSO(gracePeriod string, maxRebalancePercentage int32) types.UID {
	h.t.Helper()
	for _, m := range h.f.Members {
		createNginx(h.t, m, h.ns, total/3)
	}
	h.f.SetMetric(h.t, h.ns, "60")
	fleettest.Apply(h.t, h.f.Hub, h.ns, fmt.Sprintf(`apiVersion: keda.kedify.io/v1alpha1
kind: DistributedScaledObject
metadata:
  name: nginx
spec:
  rebalancingPolicy:
    gracePeriod: %s
    maxRebalancePercentage: %d
  scaledObjectSpec:
    scaleTargetRef:
      kind: Deployment
      name: nginx
    pollingInterval: 1
    triggers:
    - type: kubernetes-resource
      metadata:
        resourceKind: ConfigMap
        resourceName: mock-metric
        key: metric-value
        targetValue: "5"
`, gracePeriod, maxRebalancePercentage))
	return h.dso(Default).UID
}

// setupDSJ creates the DSJ "worker" over every member, its queue (ConfigMap "queue") at
// value: one Job per unit, Job pods that run for the whole test. Failover waits 2 minutes,
// so no Job is ever copied: every Job beyond the queue length would be a duplicate.
func (h *harness) setupDSJ(value int) types.UID {
	h.t.Helper()
	fleettest.Apply(h.t, h.f.Hub, h.ns, fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: queue
data:
  value: "%d"
---
apiVersion: keda.kedify.io/v1alpha1
kind: DistributedScaledJob
metadata:
  name: worker
spec:
  clusterScheduling:
    failoverPolicy:
      gracePeriod: 2m
      duplicationPolicy: keepAll
  scaledJobSpec:
    pollingInterval: 1
    maxReplicaCount: 20
    triggers:
    - type: kubernetes-resource
      metadata:
        resourceKind: ConfigMap
        resourceName: queue
        key: value
        targetValue: "1"
    jobTargetRef:
      backoffLimit: 0
      template:
        spec:
          containers:
          - name: worker
            image: busybox
          restartPolicy: Never
`, value))
	var dsj v1alpha1.DistributedScaledJob
	Expect(h.f.Hub.Get(context.Background(), client.ObjectKey{Namespace: h.ns, Name: "worker"}, &dsj)).To(Succeed())
	return dsj.UID
}

func (h *harness) setQueue(value int) {
	h.t.Helper()
	fleettest.Apply(h.t, h.f.Hub, h.ns, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: queue\ndata:\n  value: %q\n", fmt.Sprint(value)))
}

func (h *harness) dso(g Gomega) *v1alpha1.DistributedScaledObject {
	var dso v1alpha1.DistributedScaledObject
	g.Expect(h.f.Hub.Get(context.Background(), client.ObjectKey{Namespace: h.ns, Name: "nginx"}, &dso)).To(Succeed())
	return &dso
}

// waitShares waits until the DSO's status shows every member Ready and included, with these
// shares written (desired = current), and the total they add up to.
func (h *harness) waitShares(want ...int32) {
	h.t.Helper()
	Eventually(func(g Gomega) {
		st := h.dso(g).Status
		var sum int32
		for i, w := range want {
			ms, ok := st.MemberClusterStatuses[fleettest.MemberName(i+1)]
			g.Expect(ok).To(BeTrue(), "member %d in status", i+1)
			g.Expect(ms.State).To(Equal(string(distribution.StateReady)), "member %d: %s", i+1, ms.Description)
			g.Expect(ms.Excluded).To(BeFalse())
			g.Expect(ms.DesiredReplicas).To(Equal(w), "member %d desired", i+1)
			g.Expect(ms.CurrentReplicas).To(Equal(w), "member %d current", i+1)
			sum += w
		}
		g.Expect(st.TotalDesiredReplicas).To(Equal(sum))
		g.Expect(st.Print.MembersCount).To(Equal(fmt.Sprintf("%d/%d", len(want), len(want))))
	}, timeout, poll).Should(Succeed())
}

// rebalancing is the sequence of shares one rebalancing gives, computed by
// internal/distribution on its own: from the shares in from (members 1..N), with the members
// in states (Ready or Excluded, each in that state for long), one step per stepInterval until
// nothing moves. The first element is from.
func rebalancing(uid types.UID, maxRebalancePercentage int32, from []int32, states []distribution.State) [][]int32 {
	now := time.Now()
	in := distribution.Input{Total: total, Seed: string(uid), Policy: distribution.Policy{
		GracePeriod: time.Second, MaxRebalancePercentage: maxRebalancePercentage, StepInterval: stepInterval,
	}}
	for i := range from {
		in.Members = append(in.Members, distribution.MemberInput{
			Name: fleettest.MemberName(i + 1), Weight: 1, Healthy: states[i] == distribution.StateReady,
			State: states[i], Since: now.Add(-time.Hour), Desired: from[i],
		})
	}
	seq := [][]int32{slices.Clone(from)}
	for range 100 {
		now = now.Add(stepInterval)
		in.Now = now
		res := distribution.Evaluate(in)
		next := make([]int32, len(from))
		for i, m := range res.Members {
			next[i] = m.Desired
			in.Members[i].Desired = m.Desired
		}
		in.LastStep = res.LastStep
		if !slices.Equal(next, seq[len(seq)-1]) {
			seq = append(seq, next)
		}
		if res.Settled {
			return seq
		}
	}
	panic("the rebalancing did not settle in 100 steps")
}

func createNginx(t *testing.T, c client.Client, ns string, replicas int32) {
	t.Helper()
	labels := map[string]string{"app": "nginx"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
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

func memberCluster(g Gomega, f *fleettest.Fleet, i int) *v1alpha1.MemberCluster {
	var mc v1alpha1.MemberCluster
	g.Expect(f.Hub.Get(context.Background(), client.ObjectKey{Namespace: plugin.DefaultNamespace, Name: fleettest.MemberName(i)}, &mc)).To(Succeed())
	return &mc
}

func readyCondition(mc *v1alpha1.MemberCluster) metav1.Condition {
	for _, c := range mc.Status.Conditions {
		if c.Type == v1alpha1.ConditionReady {
			return c
		}
	}
	return metav1.Condition{}
}
