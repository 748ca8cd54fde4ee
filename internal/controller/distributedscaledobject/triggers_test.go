package distributedscaledobject_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	. "github.com/onsi/gomega"
	"google.golang.org/grpc"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/plugin"
	"github.com/fleetscale/fleetscale/internal/testservers"
)

// triggerDSO is a DSO scaling nginx with one trigger (YAML lines indented 4, under triggers:).
func triggerDSO(name string, pollingInterval int, trigger string) string {
	return fmt.Sprintf(`apiVersion: keda.kedify.io/v1alpha1
kind: DistributedScaledObject
metadata:
  name: %s
spec:
  scaledObjectSpec:
    scaleTargetRef:
      name: nginx
    pollingInterval: %d
    minReplicaCount: 1
    maxReplicaCount: 10
    triggers:
%s`, name, pollingInterval, trigger)
}

// leaks fails when a secret value shows in the DSO (status included) or in any Event of ns.
func leaks(g Gomega, f *fleettest.Fleet, ns, name string, secrets ...string) {
	raw, err := json.Marshal(getDSO(g, f, ns, name))
	g.Expect(err).NotTo(HaveOccurred())
	var events eventsv1.EventList
	g.Expect(f.Hub.List(context.Background(), &events, client.InNamespace(ns))).To(Succeed())
	for _, s := range secrets {
		g.Expect(string(raw)).NotTo(ContainSubstring(s), "the DSO shows a secret")
		for _, e := range events.Items {
			g.Expect(e.Note).NotTo(ContainSubstring(s), "an Event shows a secret")
		}
	}
}

// A prometheus DSO against a real Prometheus behind basic auth, its credentials from a
// TriggerAuthentication's secretTargetRef: it follows the query; wrong credentials, a bad
// query and Prometheus stopped each give Ready=False naming the trigger, an Event, and no
// scale-down; the password never shows.
func TestPrometheusTriggerWithTriggerAuthentication(t *testing.T) {
	f, ns := fleetWith(t, 1, 1, 1)
	exporter := testservers.NewExporter()
	defer exporter.Close()
	queue := exporter.Gauge("queue_length", "queue")
	queue.WithLabelValues("orders").Set(20)
	const password = "Pr0m-basic-pa55"
	prom, err := testservers.StartPrometheus(t.Context(), testservers.PrometheusOptions{Targets: []string{exporter.Addr}, User: "scaler", Password: password})
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = prom.Stop() }()
	Expect(prom.WaitForSample(t.Context(), `sum(queue_length{queue="orders"})`, "20")).To(Succeed())

	apply(t, f.Hub, ns, fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata:
  name: prom-creds
stringData:
  user: scaler
  password: %s
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata:
  name: prom-auth
spec:
  secretTargetRef:
  - parameter: username
    name: prom-creds
    key: user
  - parameter: password
    name: prom-creds
    key: password
`, password))
	trigger := fmt.Sprintf(`    - type: prometheus
      name: orders
      metadata:
        serverAddress: %s
        query: sum(queue_length{queue="orders"})
        threshold: "5"
        authModes: basic
      authenticationRef:
        name: prom-auth
`, prom.URL)
	apply(t, f.Hub, ns, triggerDSO("nginx", 1, trigger))
	Eventually(func() int32 { return sum(replicas(f, ns)) }, timeout, poll).Should(BeEquivalentTo(4))
	queue.WithLabelValues("orders").Set(50)
	Eventually(func() int32 { return sum(replicas(f, ns)) }, timeout, poll).Should(BeEquivalentTo(10))

	failsWith := func(what string) {
		t.Helper()
		Eventually(func(g Gomega) {
			ready := condition(getDSO(g, f, ns, "nginx"), v1alpha1.ConditionReady)
			g.Expect(ready.Status).To(BeEquivalentTo("False"))
			g.Expect(ready.Message).To(ContainSubstring(`trigger 0 (prometheus "orders")`))
			g.Expect(ready.Message).To(ContainSubstring(what))
			g.Expect(eventNotes(g, f, ns, "nginx", "TriggerError")).To(ContainElement(ContainSubstring(what)))
		}, timeout, poll).Should(Succeed())
		queue.WithLabelValues("orders").Set(0)
		Consistently(func() int32 { return sum(replicas(f, ns)) }, 3*time.Second, poll).Should(BeEquivalentTo(10))
		queue.WithLabelValues("orders").Set(50)
	}
	// A rotated (wrong) password in the Secret is picked up through the TriggerAuthentication.
	apply(t, f.Hub, ns, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: prom-creds\nstringData:\n  password: wrong-Pa55word-42\n")
	failsWith("HTTP 401")
	Eventually(func(g Gomega) { leaks(g, f, ns, "nginx", password, "wrong-Pa55word-42") }, timeout, poll).Should(Succeed())

	apply(t, f.Hub, ns, fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: prom-creds\nstringData:\n  password: %s\n", password))
	Eventually(func(g Gomega) {
		g.Expect(condition(getDSO(g, f, ns, "nginx"), v1alpha1.ConditionReady).Status).To(BeEquivalentTo("True"))
	}, timeout, poll).Should(Succeed())

	apply(t, f.Hub, ns, triggerDSO("nginx", 1, strings.Replace(trigger, `sum(queue_length{queue="orders"})`, `sum(queue_length{`, 1)))
	failsWith("parse error")

	apply(t, f.Hub, ns, triggerDSO("nginx", 1, trigger))
	Expect(prom.Stop()).To(Succeed())
	failsWith("connection refused")
}

// A ClusterTriggerAuthentication (its Secret in the controller's namespace) for a metrics-api
// trigger: a missing Secret is Ready=False naming the object and key and scales nothing; the
// Secret's creation is picked up at once (watch) and the DSO scales; the token never shows.
func TestClusterTriggerAuthenticationAndMissingSecret(t *testing.T) {
	f, ns := fleetWith(t, 2, 2, 2)
	const token = "cta-bearer-t0ken-77"
	var value atomic.Int64
	value.Store(28)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = fmt.Fprintf(w, `{"queue":{"length":%d}}`, value.Load())
	}))
	defer api.Close()
	cta, secretName := ns+"-api", ns+"-api-token"
	apply(t, f.Hub, "", fmt.Sprintf(`apiVersion: keda.sh/v1alpha1
kind: ClusterTriggerAuthentication
metadata:
  name: %s
spec:
  secretTargetRef:
  - parameter: bearerToken
    name: %s
    key: token
`, cta, secretName))
	defer func() {
		_ = f.Hub.Delete(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: plugin.DefaultNamespace, Name: secretName}})
	}()
	// pollingInterval 300: only the watch on the Secret can bring the fix in time.
	apply(t, f.Hub, ns, triggerDSO("nginx", 300, fmt.Sprintf(`    - type: metrics-api
      metadata:
        url: %s/stats
        valueLocation: queue.length
        targetValue: "4"
        authModes: bearer
      authenticationRef:
        name: %s
        kind: ClusterTriggerAuthentication
`, api.URL, cta)))
	// A hub admin's TenantPolicy decides which namespaces may use a ClusterTriggerAuthentication;
	// by default none.
	notAllowed := fmt.Sprintf("ClusterTriggerAuthentication %q is not allowed for objects in hub namespace %q", cta, ns)
	Eventually(func(g Gomega) {
		ready := condition(getDSO(g, f, ns, "nginx"), v1alpha1.ConditionReady)
		g.Expect(ready.Status).To(BeEquivalentTo("False"))
		g.Expect(ready.Message).To(ContainSubstring(notAllowed))
	}, timeout, poll).Should(Succeed())
	f.TenantPolicy(t, ns, v1alpha1.TenantPolicySpec{Namespaces: []string{ns}, ClusterTriggerAuthentications: []string{cta}})
	want := fmt.Sprintf("ClusterTriggerAuthentication %s: secretTargetRef parameter bearerToken: Secret %s/%s not found", cta, plugin.DefaultNamespace, secretName)
	Eventually(func(g Gomega) {
		ready := condition(getDSO(g, f, ns, "nginx"), v1alpha1.ConditionReady)
		g.Expect(ready.Status).To(BeEquivalentTo("False"))
		g.Expect(ready.Message).To(ContainSubstring(want))
		g.Expect(eventNotes(g, f, ns, "nginx", "TriggerError")).To(ContainElement(ContainSubstring(want)))
	}, timeout, poll).Should(Succeed())
	Consistently(func() []int32 { return replicas(f, ns) }, 2*time.Second, poll).Should(Equal([]int32{2, 2, 2}))

	apply(t, f.Hub, plugin.DefaultNamespace, fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\nstringData:\n  token: %s\n", secretName, token))
	Eventually(func() int32 { return sum(replicas(f, ns)) }, 30*time.Second, poll).Should(BeEquivalentTo(7))
	Eventually(func(g Gomega) {
		g.Expect(condition(getDSO(g, f, ns, "nginx"), v1alpha1.ConditionReady).Status).To(BeEquivalentTo("True"))
		leaks(g, f, ns, "nginx", token)
	}, timeout, poll).Should(Succeed())
}

// A value read from a Secret (kubernetes-resource) scales, but status shows <secret>.
func TestSecretValueIsNeverShown(t *testing.T) {
	f, ns := fleetWith(t, 1, 1, 1)
	apply(t, f.Hub, ns, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: budget\nstringData:\n  replicas: \"1337\"\n")
	apply(t, f.Hub, ns, triggerDSO("nginx", 1, `    - type: kubernetes-resource
      metadata:
        resourceKind: Secret
        resourceName: budget
        key: replicas
        targetValue: "200"
`))
	Eventually(func() int32 { return sum(replicas(f, ns)) }, timeout, poll).Should(BeEquivalentTo(7))
	Eventually(func(g Gomega) {
		dso := getDSO(g, f, ns, "nginx")
		g.Expect(dso.Status.Triggers).To(HaveLen(1))
		for _, st := range dso.Status.Triggers {
			g.Expect(st.Value).To(Equal("<secret>"))
		}
		leaks(g, f, ns, "nginx", "1337")
	}, timeout, poll).Should(Succeed())
}

// kubernetes-workload counts the matching pods in every member's target namespace: 2+1+3
// backend pods at value 2 give a total of 3; more pods in one member raise it.
func TestKubernetesWorkloadCountsPodsAcrossMembers(t *testing.T) {
	f, ns := fleetWith(t, 1, 1, 1)
	for i, n := range []int32{2, 1, 3} {
		createBackend(t, f.Member(i+1), ns, n)
	}
	apply(t, f.Hub, ns, triggerDSO("nginx", 1, `    - type: kubernetes-workload
      metadata:
        podSelector: app=backend
        value: "2"
`))
	Eventually(func() int32 { return sum(replicas(f, ns)) }, timeout, poll).Should(BeEquivalentTo(3))
	backend := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "backend"}}
	Expect(f.Member(3).Patch(context.Background(), backend, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"replicas":9}}`)))).To(Succeed())
	// 2+1+9 = 12 pods at value 2: 6.
	Eventually(func() int32 { return sum(replicas(f, ns)) }, timeout, poll).Should(BeEquivalentTo(6))
	Eventually(func(g Gomega) {
		st := getDSO(g, f, ns, "nginx").Status.Triggers["s0-workload-"+ns]
		g.Expect(st.Value).To(Equal("12"))
	}, timeout, poll).Should(Succeed())
}

func createBackend(t *testing.T, c client.Client, ns string, replicas int32) {
	t.Helper()
	labels := map[string]string{"app": "backend"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "backend", Namespace: ns},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To(replicas), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "backend", Image: "backend"}}}}},
	}
	if err := c.Create(context.Background(), d); err != nil {
		t.Fatal(err)
	}
}

// pushScaler is a real external-push scaler: StreamIsActive pushes when the test says so.
type pushScaler struct {
	queueScaler
	push chan bool
}

func (p *pushScaler) StreamIsActive(_ *externalscaler.ScaledObjectRef, s externalscaler.ExternalScaler_StreamIsActiveServer) error {
	for {
		select {
		case active := <-p.push:
			if err := s.Send(&externalscaler.IsActiveResponse{Result: active}); err != nil {
				return err
			}
		case <-s.Context().Done():
			return nil
		}
	}
}

// An external-push trigger: with a polling interval of 5 minutes, only the push can bring a
// new value to the members, and it does at once.
func TestExternalPushReachesTheMembersAtOnce(t *testing.T) {
	f, ns := fleetWith(t, 1, 1, 1)
	p := &pushScaler{push: make(chan bool)}
	p.length.Store(20)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	srv := grpc.NewServer()
	externalscaler.RegisterExternalScalerServer(srv, p)
	go func() { _ = srv.Serve(l) }()
	defer srv.Stop()

	apply(t, f.Hub, ns, triggerDSO("nginx", 300, fmt.Sprintf(`    - type: external-push
      metadata:
        scalerAddress: %s
`, l.Addr())))
	Eventually(func() int32 { return sum(replicas(f, ns)) }, timeout, poll).Should(BeEquivalentTo(4))
	p.length.Store(30)
	start := time.Now()
	// The stream may still be opening: push until the push is taken.
	Eventually(func() bool {
		select {
		case p.push <- true:
			return true
		case <-time.After(100 * time.Millisecond):
			return false
		}
	}, timeout, poll).Should(BeTrue())
	Eventually(func() int32 { return sum(replicas(f, ns)) }, 30*time.Second, 50*time.Millisecond).Should(BeEquivalentTo(6))
	t.Logf("push → members at 6: %s", time.Since(start).Round(time.Millisecond))
}

// hangingScaler answers GetMetricSpec and then never answers GetMetrics.
type hangingScaler struct {
	externalscaler.UnimplementedExternalScalerServer
	calls atomic.Int64
}

func (h *hangingScaler) GetMetricSpec(context.Context, *externalscaler.ScaledObjectRef) (*externalscaler.GetMetricSpecResponse, error) {
	return &externalscaler.GetMetricSpecResponse{MetricSpecs: []*externalscaler.MetricSpec{{MetricName: "hang", TargetSize: 1}}}, nil
}

func (h *hangingScaler) GetMetrics(ctx context.Context, _ *externalscaler.GetMetricsRequest) (*externalscaler.GetMetricsResponse, error) {
	h.calls.Add(1)
	<-ctx.Done()
	return nil, ctx.Err()
}

// DSOs whose external scalers hang (polled every second) do not hold the controller: another
// DSO's ConfigMap change still reaches the members within seconds. Each hung read is bounded
// by the scaler call timeout (5 s); were they read on the worker, the change would wait
// behind ten of them.
func TestHungScalersDoNotDelayOtherDSOs(t *testing.T) {
	f, ns := fleetWith(t, 1, 1, 1)
	h := &hangingScaler{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	srv := grpc.NewServer()
	externalscaler.RegisterExternalScalerServer(srv, h)
	go func() { _ = srv.Serve(l) }()
	defer srv.Stop()

	const hung = 10
	for i := range hung {
		apply(t, f.Hub, ns, triggerDSO(fmt.Sprintf("hung-%d", i), 1, fmt.Sprintf(`    - type: external
      metadata:
        scalerAddress: %s
`, l.Addr())))
	}
	for i := range hung {
		Eventually(func(g Gomega) {
			g.Expect(condition(getDSO(g, f, ns, fmt.Sprintf("hung-%d", i)), v1alpha1.ConditionReady).Message).To(ContainSubstring("trigger read still running"))
		}, timeout, poll).Should(Succeed())
	}
	setMetric(t, f, ns, "20")
	apply(t, f.Hub, ns, dsoManifest("    maxReplicaCount: 10\n"))
	Eventually(func() int32 { return sum(replicas(f, ns)) }, timeout, poll).Should(BeEquivalentTo(4))

	start := time.Now()
	setMetric(t, f, ns, "50")
	// 4 → 8 at once (the HPA's scale-up limit).
	Eventually(func() int32 { return sum(replicas(f, ns)) }, 10*time.Second, 20*time.Millisecond).Should(BeEquivalentTo(8))
	t.Logf("ConfigMap change → members at 8 beside %d hung DSOs: %s (hung reads so far: %d)", hung, time.Since(start).Round(time.Millisecond), h.calls.Load())
}

// A type the hub does not implement goes to the KEDA scalers adapter with its resolved
// TriggerAuthentication: it scales from the list length; a backend that fails is Ready=False
// naming the trigger's type and name, an Event, no scale-down, and the password the adapter
// echoes is redacted; a type the adapter does not know either is InvalidSpec naming it.
func TestAdapterTriggerWithTriggerAuthentication(t *testing.T) {
	f, ns := fleetWith(t, 1, 1, 1)
	list := ns + "-jobs"
	adapter.set(list, 24, false)
	apply(t, f.Hub, ns, fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata:
  name: redis
stringData:
  password: %s
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata:
  name: redis-auth
spec:
  secretTargetRef:
  - parameter: password
    name: redis
    key: password
`, adapter.password))
	trigger := fmt.Sprintf(`    - type: redis
      name: jobs
      metadata:
        address: redis.shop:6379
        listName: %s
        listLength: "6"
      authenticationRef:
        name: redis-auth
`, list)
	apply(t, f.Hub, ns, triggerDSO("nginx", 1, trigger))
	Eventually(func() int32 { return sum(replicas(f, ns)) }, timeout, poll).Should(BeEquivalentTo(4))
	adapter.set(list, 60, false)
	Eventually(func() int32 { return sum(replicas(f, ns)) }, timeout, poll).Should(BeEquivalentTo(10))

	adapter.set(list, 0, true)
	Eventually(func(g Gomega) {
		ready := condition(getDSO(g, f, ns, "nginx"), v1alpha1.ConditionReady)
		g.Expect(ready.Status).To(BeEquivalentTo("False"))
		g.Expect(ready.Message).To(ContainSubstring(`trigger 0 (redis "jobs")`))
		g.Expect(ready.Message).To(ContainSubstring("connection refused"))
		g.Expect(eventNotes(g, f, ns, "nginx", "TriggerError")).To(ContainElement(ContainSubstring("connection refused")))
	}, timeout, poll).Should(Succeed())
	Consistently(func() int32 { return sum(replicas(f, ns)) }, 3*time.Second, poll).Should(BeEquivalentTo(10))

	adapter.set(list, 60, false)
	apply(t, f.Hub, ns, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: redis\nstringData:\n  password: not-the-Pa55word\n")
	Eventually(func(g Gomega) {
		ready := condition(getDSO(g, f, ns, "nginx"), v1alpha1.ConditionReady)
		g.Expect(ready.Message).To(ContainSubstring("WRONGPASS"))
		g.Expect(ready.Message).To(ContainSubstring("[redacted]"))
		leaks(g, f, ns, "nginx", "not-the-Pa55word", adapter.password)
	}, timeout, poll).Should(Succeed())
	Expect(sum(replicas(f, ns))).To(BeEquivalentTo(10))

	apply(t, f.Hub, ns, triggerDSO("nginx", 1, strings.Replace(trigger, "type: redis", "type: kafkaa", 1)))
	Eventually(func(g Gomega) {
		ready := condition(getDSO(g, f, ns, "nginx"), v1alpha1.ConditionReady)
		g.Expect(ready.Reason).To(Equal("InvalidSpec"))
		g.Expect(ready.Message).To(ContainSubstring(`unsupported trigger type "kafkaa": neither the hub nor the KEDA scalers adapter`))
	}, timeout, poll).Should(Succeed())
	Expect(sum(replicas(f, ns))).To(BeEquivalentTo(10))
}
