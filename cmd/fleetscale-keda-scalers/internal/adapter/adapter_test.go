package adapter

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	. "github.com/onsi/gomega"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	toolscache "k8s.io/client-go/tools/cache"
)

// Generous: the machine running the tests is shared and loaded.
const (
	timeout = 60 * time.Second
	poll    = 100 * time.Millisecond
)

// startAdapter runs the adapter (Run, without a hub watch) on 127.0.0.1 and returns a client
// of it and the server behind it.
func startAdapter(t *testing.T, cfg Config) (externalscaler.ExternalScalerClient, *Server) {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Log.GetSink() == nil {
		cfg.Log = logr.Discard()
	}
	type started struct {
		addr net.Addr
		srv  *Server
	}
	ready := make(chan started, 1)
	cfg.Ready = func(a net.Addr, s *Server) { ready <- started{a, s} }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	var st started
	select {
	case st = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("Run: %v", err)
	case <-time.After(timeout):
		cancel()
		t.Fatal("the adapter did not start")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	conn, err := grpc.NewClient(st.addr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return externalscaler.NewExternalScalerClient(conn), st.srv
}

// redisRef is a `type: redis` list trigger as the hub sends it, with the password resolved
// from a TriggerAuthentication.
func redisRef(r *redisServer, password, list string, extra map[string]string) *externalscaler.ScaledObjectRef {
	md := map[string]string{
		"address":                  r.Addr,
		"listName":                 list,
		"listLength":               "5",
		keyTriggerType:             "redis",
		keyTriggerName:             "orders",
		keyTriggerIndex:            "0",
		keyObjectKind:              KindDSO,
		keyMetricType:              "AverageValue",
		keyAuthPrefix + "password": password,
	}
	for k, v := range extra {
		md[k] = v
	}
	return &externalscaler.ScaledObjectRef{Name: "worker", Namespace: "shop", ScalerMetadata: md}
}

func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx
}

// A redis list trigger through the adapter: the metric spec is KEDA's (target listLength,
// name redis-<list> without the s0- prefix), and GetMetrics and IsActive follow the list.
func TestRedisListFollowsLength(t *testing.T) {
	g := NewWithT(t)
	r := startRedis(t, "r3dis-Pass")
	rc := r.client(t)
	client, _ := startAdapter(t, Config{})
	ctx := callCtx(t)
	ref := redisRef(r, r.Password, "jobs", nil)

	spec, err := client.GetMetricSpec(ctx, ref)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(spec.GetMetricSpecs()).To(HaveLen(1))
	g.Expect(spec.GetMetricSpecs()[0].GetMetricName()).To(Equal("redis-jobs"))
	g.Expect(spec.GetMetricSpecs()[0].GetTargetSizeFloat()).To(Equal(5.0))
	g.Expect(spec.GetMetricSpecs()[0].GetTargetSize()).To(Equal(int64(5)))

	length := func() float64 {
		resp, err := client.GetMetrics(ctx, &externalscaler.GetMetricsRequest{ScaledObjectRef: ref, MetricName: "redis-jobs"})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(resp.GetMetricValues()).To(HaveLen(1))
		g.Expect(resp.GetMetricValues()[0].GetMetricName()).To(Equal("redis-jobs"))
		return resp.GetMetricValues()[0].GetMetricValueFloat()
	}
	active := func() bool {
		resp, err := client.IsActive(ctx, ref)
		g.Expect(err).NotTo(HaveOccurred())
		return resp.GetResult()
	}
	g.Expect(length()).To(Equal(0.0))
	g.Expect(active()).To(BeFalse())
	for i, want := range []int{3, 12, 40} {
		for rc.LLen(ctx, "jobs").Val() < int64(want) {
			g.Expect(rc.RPush(ctx, "jobs", i).Err()).To(Succeed())
		}
		g.Expect(length()).To(Equal(float64(want)))
		g.Expect(active()).To(BeTrue())
	}
	g.Expect(rc.Del(ctx, "jobs").Err()).To(Succeed())
	g.Expect(length()).To(Equal(0.0))
	g.Expect(active()).To(BeFalse())
}

// A wrong password fails building the scaler: Unavailable, naming the type and the trigger,
// and the password is nowhere in the message.
func TestRedisWrongPasswordIsRedacted(t *testing.T) {
	g := NewWithT(t)
	r := startRedis(t, "right-Passw0rd")
	client, srv := startAdapter(t, Config{})
	wrong := "wr0ng-Passw0rd-9f3"
	_, err := client.GetMetricSpec(callCtx(t), redisRef(r, wrong, "jobs", nil))
	g.Expect(status.Code(err)).To(Equal(codes.Unavailable), "%v", err)
	msg := status.Convert(err).Message()
	t.Logf("wrong password: %s", msg)
	g.Expect(msg).To(HavePrefix(`redis trigger "orders": `))
	g.Expect(msg).NotTo(ContainSubstring(wrong))
	g.Expect(msg).NotTo(ContainSubstring(r.Password))
	// Nothing is cached for a scaler that could not be built: the next call tries again.
	g.Expect(srv.Scalers()).To(Equal(0))
}

// An env value (KEDA's ResolvedEnv, e.g. passwordFromEnv) is redacted like an auth param.
func TestRedisPasswordFromEnvIsRedacted(t *testing.T) {
	g := NewWithT(t)
	r := startRedis(t, "right-Passw0rd")
	client, _ := startAdapter(t, Config{})
	ref := redisRef(r, "", "jobs", map[string]string{"passwordFromEnv": "REDIS_PASSWORD", keyEnvPrefix + "REDIS_PASSWORD": "env-wr0ng-Secret"})
	delete(ref.ScalerMetadata, keyAuthPrefix+"password")
	_, err := client.GetMetricSpec(callCtx(t), ref)
	g.Expect(status.Code(err)).To(Equal(codes.Unavailable), "%v", err)
	g.Expect(err.Error()).NotTo(ContainSubstring("env-wr0ng-Secret"))

	ref.ScalerMetadata[keyEnvPrefix+"REDIS_PASSWORD"] = r.Password
	_, err = client.GetMetricSpec(callCtx(t), ref)
	g.Expect(err).NotTo(HaveOccurred())
}

// With Redis stopped, reading fails with an error naming the type and the trigger; once it
// is back (a new server on the same address) reading works again.
func TestRedisStoppedNamesTrigger(t *testing.T) {
	g := NewWithT(t)
	r := startRedis(t, "r3dis-Pass")
	client, _ := startAdapter(t, Config{Options: Options{CallTimeout: 20 * time.Second}})
	ctx := callCtx(t)
	ref := redisRef(r, r.Password, "jobs", map[string]string{keyTriggerName: "", keyTriggerIndex: "2"})
	_, err := client.GetMetricSpec(ctx, ref)
	g.Expect(err).NotTo(HaveOccurred())
	r.Stop()
	_, err = client.GetMetrics(ctx, &externalscaler.GetMetricsRequest{ScaledObjectRef: ref, MetricName: "redis-jobs"})
	g.Expect(status.Code(err)).To(BeElementOf(codes.Unavailable, codes.Unknown), "%v", err)
	t.Logf("redis stopped: %v", err)
	g.Expect(status.Convert(err).Message()).To(HavePrefix(`redis trigger "2": `))
	g.Expect(status.Convert(err).Message()).To(ContainSubstring("connect"))
	g.Expect(err.Error()).NotTo(ContainSubstring(r.Password))
	_, err = client.IsActive(ctx, ref)
	g.Expect(status.Code(err)).To(BeElementOf(codes.Unavailable, codes.Unknown), "%v", err)
}

// A type neither KEDA nor the adapter knows, a type the hub keeps for itself and a request
// without a type are InvalidArgument.
func TestUnknownTypeIsInvalidArgument(t *testing.T) {
	g := NewWithT(t)
	client, _ := startAdapter(t, Config{})
	ctx := callCtx(t)
	ref := &externalscaler.ScaledObjectRef{Name: "w", Namespace: "ns", ScalerMetadata: map[string]string{keyTriggerType: "no-such-type", "secret": "x"}}
	_, err := client.GetMetricSpec(ctx, ref)
	g.Expect(status.Code(err)).To(Equal(codes.InvalidArgument))
	g.Expect(status.Convert(err).Message()).To(Equal(`unknown trigger type "no-such-type"`))

	ref.ScalerMetadata[keyTriggerType] = "cpu"
	_, err = client.GetMetrics(ctx, &externalscaler.GetMetricsRequest{ScaledObjectRef: ref})
	g.Expect(status.Code(err)).To(Equal(codes.InvalidArgument))
	g.Expect(status.Convert(err).Message()).To(HavePrefix(`unknown trigger type "cpu": `))

	delete(ref.ScalerMetadata, keyTriggerType)
	_, err = client.IsActive(ctx, ref)
	g.Expect(status.Code(err)).To(Equal(codes.InvalidArgument))
	g.Expect(status.Convert(err).Message()).To(ContainSubstring(keyTriggerType))

	ref.ScalerMetadata[keyTriggerType] = "redis"
	ref.ScalerMetadata[keyTriggerIndex] = "-1"
	_, err = client.IsActive(ctx, ref)
	g.Expect(status.Code(err)).To(Equal(codes.InvalidArgument))
}

// One scaler per trigger key: the same config reuses it (one connection to Redis however
// many calls), a changed config replaces it and closes the old one, and a hub that sends no
// trigger index gets one scaler per distinct config.
func TestCacheKeepsOneScalerPerTrigger(t *testing.T) {
	g := NewWithT(t)
	r := startRedis(t, "r3dis-Pass")
	rc := r.client(t)
	client, srv := startAdapter(t, Config{})
	ctx := callCtx(t)
	ref := redisRef(r, r.Password, "jobs", nil)
	for range 5 {
		_, err := client.GetMetricSpec(ctx, ref)
		g.Expect(err).NotTo(HaveOccurred())
		_, err = client.GetMetrics(ctx, &externalscaler.GetMetricsRequest{ScaledObjectRef: ref, MetricName: "redis-jobs"})
		g.Expect(err).NotTo(HaveOccurred())
	}
	g.Expect(srv.Scalers()).To(Equal(1))
	first := srv.cache.entries[key{"shop", "worker", KindDSO, "0"}].scaler
	g.Expect(first).NotTo(BeNil())
	g.Expect(r.clients(t, rc)).To(Equal(1))

	// A changed target (and so a changed config hash) for the same trigger: a new scaler.
	changed := redisRef(r, r.Password, "jobs", map[string]string{"listLength": "7"})
	spec, err := client.GetMetricSpec(ctx, changed)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(spec.GetMetricSpecs()[0].GetTargetSizeFloat()).To(Equal(7.0))
	g.Expect(srv.Scalers()).To(Equal(1))
	second := srv.cache.entries[key{"shop", "worker", KindDSO, "0"}].scaler
	g.Expect(second).NotTo(BeIdenticalTo(first))
	// The old scaler is closed: its client refuses, and Redis sees one connection again.
	g.Eventually(func() error {
		_, _, err := first.GetMetricsAndActivity(ctx, "s0-redis-jobs")
		return err
	}, timeout, poll).Should(MatchError(ContainSubstring("closed")))
	g.Eventually(func() int { return r.clients(t, rc) }, timeout, poll).Should(Equal(1))

	// Another trigger index of the same object is another scaler.
	_, err = client.GetMetricSpec(ctx, redisRef(r, r.Password, "jobs", map[string]string{keyTriggerIndex: "1"}))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(srv.Scalers()).To(Equal(2))

	// Without an index (today's hub sends only metadata and the type), the config is the key.
	bare := func(list string) *externalscaler.ScaledObjectRef {
		return &externalscaler.ScaledObjectRef{Name: "legacy", Namespace: "shop", ScalerMetadata: map[string]string{
			keyTriggerType: "redis", "address": r.Addr, "listName": list, "password": r.Password}}
	}
	for range 3 {
		_, err = client.GetMetricSpec(ctx, bare("a"))
		g.Expect(err).NotTo(HaveOccurred())
	}
	_, err = client.GetMetricSpec(ctx, bare("b"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(srv.Scalers()).To(Equal(4))

	// The idle backstop closes what no call uses any more.
	srv.cache.mu.Lock()
	srv.cache.now = func() time.Time { return time.Now().Add(2 * DefaultIdleTimeout) }
	srv.cache.mu.Unlock()
	g.Expect(srv.Sweep()).To(Equal(4))
	g.Eventually(func() int { return r.clients(t, rc) }, timeout, poll).Should(Equal(0))
}

// The cap on cached scalers: a new trigger beyond it is refused with a clear message while
// the cached ones keep working.
func TestCacheCap(t *testing.T) {
	g := NewWithT(t)
	r := startRedis(t, "r3dis-Pass")
	client, _ := startAdapter(t, Config{Options: Options{MaxScalers: 1}})
	ctx := callCtx(t)
	_, err := client.GetMetricSpec(ctx, redisRef(r, r.Password, "jobs", nil))
	g.Expect(err).NotTo(HaveOccurred())
	_, err = client.GetMetricSpec(ctx, redisRef(r, r.Password, "jobs", map[string]string{keyTriggerIndex: "1"}))
	g.Expect(status.Code(err)).To(Equal(codes.Unavailable))
	g.Expect(status.Convert(err).Message()).To(ContainSubstring("--max-scalers"))
	_, err = client.GetMetrics(ctx, &externalscaler.GetMetricsRequest{ScaledObjectRef: redisRef(r, r.Password, "jobs", nil), MetricName: "redis-jobs"})
	g.Expect(err).NotTo(HaveOccurred())
}

// The hub watch's handlers: a deleted object closes its scalers; a spec change closes the
// scalers whose trigger no longer matches and keeps the others.
func TestWatchEventsCloseScalers(t *testing.T) {
	g := NewWithT(t)
	r := startRedis(t, "r3dis-Pass")
	client, srv := startAdapter(t, Config{})
	ctx := callCtx(t)
	for _, idx := range []string{"0", "1"} {
		_, err := client.GetMetricSpec(ctx, redisRef(r, r.Password, "jobs", map[string]string{keyTriggerIndex: idx}))
		g.Expect(err).NotTo(HaveOccurred())
	}
	g.Expect(srv.Scalers()).To(Equal(2))
	md := map[string]any{"address": r.Addr, "listName": "jobs", "listLength": "5"}
	dso := func(triggers ...map[string]any) *unstructured.Unstructured {
		list := make([]any, len(triggers))
		for i, tr := range triggers {
			list[i] = tr
		}
		u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"scaledObjectSpec": map[string]any{"triggers": list}}}}
		u.SetNamespace("shop")
		u.SetName("worker")
		return u
	}
	trig := func(m map[string]any) map[string]any {
		return map[string]any{"type": "redis", "name": "orders", "metadata": m}
	}
	// The same triggers: nothing closes. (A DSJ of the same name is another object.)
	srv.objectChanged(KindDSO, "scaledObjectSpec", dso(trig(md), trig(md)))
	srv.objectDeleted(KindDSJ, dso())
	g.Expect(srv.Scalers()).To(Equal(2))
	// Trigger 1's metadata changes: its scaler closes, trigger 0's stays.
	changed := map[string]any{"address": r.Addr, "listName": "other", "listLength": "5"}
	srv.objectChanged(KindDSO, "scaledObjectSpec", dso(trig(md), trig(changed)))
	g.Expect(srv.Scalers()).To(Equal(1))
	g.Expect(srv.cache.entries).To(HaveKey(key{"shop", "worker", KindDSO, "0"}))
	// The object goes away: every scaler of it closes.
	srv.objectDeleted(KindDSO, dso())
	g.Expect(srv.Scalers()).To(Equal(0))
	g.Eventually(func() int { return r.clients(t, r.client(t)) }, timeout, poll).Should(Equal(0))

	// The periodic check against the watched objects: a call that arrived with a trigger the
	// object no longer has (it was on its way during the change) is closed once it is older
	// than revalidateEvery; a young one, or one still in the object, is left alone.
	store := toolscache.NewStore(toolscache.MetaNamespaceKeyFunc)
	g.Expect(store.Add(dso(trig(md)))).To(Succeed())
	stores := map[string]watchedStore{KindDSO: {store: store, specPath: "scaledObjectSpec"}, KindDSJ: {store: toolscache.NewStore(toolscache.MetaNamespaceKeyFunc), specPath: "scaledJobSpec"}}
	for _, idx := range []string{"0", "1"} {
		_, err := client.GetMetricSpec(ctx, redisRef(r, r.Password, "jobs", map[string]string{keyTriggerIndex: idx}))
		g.Expect(err).NotTo(HaveOccurred())
	}
	srv.revalidate(stores)
	g.Expect(srv.Scalers()).To(Equal(2), "young scalers are left alone")
	srv.cache.mu.Lock()
	srv.cache.now = func() time.Time { return time.Now().Add(2 * revalidateEvery) }
	srv.cache.mu.Unlock()
	srv.revalidate(stores)
	g.Expect(srv.cache.entries).To(HaveLen(1), "trigger 1 is not in the object")
	g.Expect(srv.cache.entries).To(HaveKey(key{"shop", "worker", KindDSO, "0"}))
	g.Expect(store.Delete(dso())).To(Succeed())
	srv.revalidate(stores)
	g.Expect(srv.Scalers()).To(Equal(0), "the object is gone")
}

// A request's fleetscale.dev/ keys become KEDA's ScalerConfig fields and never reach the
// trigger metadata.
func TestScalerConfigFromRequest(t *testing.T) {
	g := NewWithT(t)
	tr, err := parseRef(&externalscaler.ScaledObjectRef{Name: "etl", Namespace: "data", ScalerMetadata: map[string]string{
		"host":                     "db",
		"query":                    "select 1",
		keyTriggerType:             "postgresql",
		keyTriggerName:             "backlog",
		keyTriggerIndex:            "3",
		keyMetricType:              "Value",
		keyAsMetricSource:          "true",
		keyObjectKind:              KindDSJ,
		keyPodIdentity:             "aws",
		keyAuthPrefix + "password": "pw",
		keyEnvPrefix + "PGUSER":    "me",
		keyPrefix + "future-key":   "ignored",
	}})
	g.Expect(err).NotTo(HaveOccurred())
	cfg := tr.scalerConfig(7 * time.Second)
	g.Expect(cfg.TriggerMetadata).To(Equal(map[string]string{"host": "db", "query": "select 1"}))
	g.Expect(cfg.AuthParams).To(Equal(map[string]string{"password": "pw"}))
	g.Expect(cfg.ResolvedEnv).To(Equal(map[string]string{"PGUSER": "me"}))
	g.Expect(string(cfg.PodIdentity.Provider)).To(Equal("aws"))
	g.Expect(cfg.TriggerType).To(Equal("postgresql"))
	g.Expect(cfg.TriggerName).To(Equal("backlog"))
	g.Expect(cfg.TriggerIndex).To(Equal(3))
	g.Expect(string(cfg.MetricType)).To(Equal("Value"))
	g.Expect(cfg.AsMetricSource).To(BeTrue())
	g.Expect(cfg.ScalableObjectType).To(Equal("ScaledJob"))
	g.Expect(cfg.ScalableObjectName).To(Equal("etl"))
	g.Expect(cfg.ScalableObjectNamespace).To(Equal("data"))
	g.Expect(cfg.GlobalHTTPTimeout).To(Equal(7 * time.Second))
	g.Expect(cfg.TriggerUniqueKey).To(Equal("DistributedScaledJob-data-etl-3"))
	g.Expect(tr.redact("auth failed for pw and me")).To(Equal("auth failed for [redacted] and [redacted]"))

	for k, v := range map[string]string{keyMetricType: "Utilization", keyObjectKind: "ScaledObject", keyAsMetricSource: "yes", keyTriggerIndex: "x"} {
		_, err := parseRef(&externalscaler.ScaledObjectRef{ScalerMetadata: map[string]string{keyTriggerType: "redis", k: v}})
		var invalid *invalidRequestError
		g.Expect(err).To(BeAssignableToTypeOf(invalid), "%s=%s", k, v)
	}
	// The key holds no metadata value, even when the config hash is the key.
	bare, err := parseRef(&externalscaler.ScaledObjectRef{Name: "w", Namespace: "n", ScalerMetadata: map[string]string{keyTriggerType: "redis", "password": "secret"}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(bare.key().String()).NotTo(ContainSubstring("secret"))
	g.Expect(strings.HasPrefix(bare.key().Index, "config:")).To(BeTrue())
}

// A source that accepts connections and never answers costs a call about --call-timeout: the
// call returns Unavailable naming the trigger, and the trigger's next call, queued behind the
// stuck one, waits no longer than its own deadline.
func TestCallTimeoutBoundsASilentSource(t *testing.T) {
	g := NewWithT(t)
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	g.Expect(err).NotTo(HaveOccurred())
	held := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held <- c
		}
	}()
	t.Cleanup(func() {
		_ = silent.Close()
		close(held)
		for c := range held {
			_ = c.Close()
		}
	})
	client, _ := startAdapter(t, Config{Options: Options{CallTimeout: time.Second}})
	ref := &externalscaler.ScaledObjectRef{Name: "w", Namespace: "ns", ScalerMetadata: map[string]string{
		keyTriggerType: "redis", keyTriggerIndex: "0", "address": silent.Addr().String(), "listName": "jobs"}}
	for range 2 {
		start := time.Now()
		_, err = client.GetMetricSpec(callCtx(t), ref)
		g.Expect(status.Code(err)).To(Equal(codes.Unavailable), "%v", err)
		g.Expect(status.Convert(err).Message()).To(HavePrefix(`redis trigger "0": `))
		g.Expect(time.Since(start)).To(BeNumerically("<", 20*time.Second), "bounded by the 1s call timeout, with room for a loaded machine")
	}
}
