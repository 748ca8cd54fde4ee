// Package manager wires the hub controller: scheme, registry, reconcilers. Tests start it
// in-process with the same code the binary runs.
package manager

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	crmanager "sigs.k8s.io/controller-runtime/pkg/manager"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/autoscaling"
	"github.com/fleetscale/fleetscale/internal/controller/distributedscaledjob"
	"github.com/fleetscale/fleetscale/internal/controller/distributedscaledobject"
	"github.com/fleetscale/fleetscale/internal/controller/membercluster"
	"github.com/fleetscale/fleetscale/internal/member"
	"github.com/fleetscale/fleetscale/internal/metrics"
	"github.com/fleetscale/fleetscale/internal/scalers"
	"github.com/fleetscale/fleetscale/internal/tenancy"
)

// Options are the controller's flags.
type Options struct {
	Namespace              string
	MetricsBindAddress     string
	HealthProbeBindAddress string
	// ProfilingBindAddress serves net/http/pprof (KEDA's operator flag of the same name); off by default.
	ProfilingBindAddress string
	LeaderElect          bool
	MemberProbeInterval  time.Duration
	MemberProbeTimeout   time.Duration
	MemberCallTimeout    time.Duration
	// MemberQPS and MemberBurst bound each member client's request rate.
	MemberQPS             float64
	MemberBurst           int
	HPASyncPeriod         time.Duration
	ExternalScalerAddress string
	// MaxJobsPerEvaluation caps the Jobs one DSJ evaluation creates (0: the default, 100).
	MaxJobsPerEvaluation int
	// MetricsSecure serves /metrics over HTTPS, only to callers the hub's API authenticates
	// (TokenReview) and authorises for GET /metrics (SubjectAccessReview).
	MetricsSecure bool
	// MetricsCertDir holds tls.crt and tls.key for the secure /metrics; empty or without
	// them, a self-signed certificate is made in memory.
	MetricsCertDir string

	// LeaseDuration, RenewDeadline and RetryPeriod tune leader election (0: controller-runtime's
	// 15s, 10s, 2s): how long a killed leader's lease blocks the standby, how long a leader keeps
	// trying to renew before it gives up, and how often candidates retry.
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration
	// mTLS to the KEDA scalers adapter at ExternalScalerAddress.
	ExternalScalerCAFile     string
	ExternalScalerCertFile   string
	ExternalScalerKeyFile    string
	ExternalScalerServerName string
	// TriggerReadBudget bounds how long one evaluation waits for its trigger reads.
	TriggerReadBudget time.Duration
	// GracefulShutdownTimeout bounds how long the controller takes to stop once told to
	// (the manager's runnables, in-flight reconciles); 0: DefaultGracefulShutdownTimeout.
	GracefulShutdownTimeout time.Duration
	// ConcurrentReconciles is the workers of each of the DSO and DSJ controllers (0: the
	// default, DefaultConcurrentReconciles).
	ConcurrentReconciles int

	// Sharding (docs/sharding.md), after KEDA 2.20's controller sharding by label selectors:
	// WatchLabelSelector limits the DistributedScaledObjects and DistributedScaledJobs this
	// controller caches and reconciles to those its labels match (KEDA: WATCH_LABEL_SELECTOR,
	// applied to the cache's list/watch); empty: all. LeaderElectionID names this shard's
	// Lease (KEDA: --leader-election-id), so every shard elects its own leader.
	WatchLabelSelector string
	LeaderElectionID   string
	// SkipMemberClusterWrites (--manage-member-clusters=false): this controller writes no
	// MemberCluster status and refreshes no member token; the zero value manages them, so an
	// Options literal behaves like the flag's default. Otherwise: it writes MemberCluster status and refreshes member
	// tokens. Exactly one shard should; the others only read registrations and probe members
	// for their own health view, so shards never fight over a MemberCluster.
	SkipMemberClusterWrites bool
}

// DefaultGracefulShutdownTimeout is --graceful-shutdown-timeout's default: well inside
// Kubernetes' default 30s termination grace period, so the controller exits on its own.
const DefaultGracefulShutdownTimeout = 20 * time.Second

// DefaultConcurrentReconciles is --concurrent-reconciles' default: one slow object (a member
// call running into its timeout) holds one worker, never the others' reactions.
const DefaultConcurrentReconciles = 10

// DefaultLeaderElectionID is the Lease name of an unsharded controller.
const DefaultLeaderElectionID = "fleetscale-controller.keda.kedify.io"

// WatchLabelSelectorEnv is KEDA's variable for the same setting; it is the default of
// --watch-label-selector, so a KEDA-style deployment works unchanged.
const WatchLabelSelectorEnv = "WATCH_LABEL_SELECTOR"

// BindFlags registers the options on fs with their defaults.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Namespace, "namespace", "keda", "Namespace of MemberCluster registrations and their Secrets")
	fs.StringVar(&o.MetricsBindAddress, "metrics-bind-address", ":8080", "Address of the Prometheus /metrics endpoint (0 disables)")
	fs.StringVar(&o.HealthProbeBindAddress, "health-probe-bind-address", ":8081", "Address of /healthz and /readyz (0 disables)")
	fs.StringVar(&o.ProfilingBindAddress, "profiling-bind-address", "", "Address of net/http/pprof's endpoints (empty or 0: off), KEDA's operator flag of the same name")
	fs.BoolVar(&o.LeaderElect, "leader-elect", false, "Elect a leader so only one replica acts")
	fs.DurationVar(&o.LeaseDuration, "leader-elect-lease-duration", 15*time.Second, "How long a standby waits before it takes over a lease its leader stopped renewing")
	fs.DurationVar(&o.RenewDeadline, "leader-elect-renew-deadline", 10*time.Second, "How long the leader retries renewing its lease before it stops leading (less than the lease duration)")
	fs.DurationVar(&o.RetryPeriod, "leader-elect-retry-period", 2*time.Second, "How often candidates try to acquire or renew the lease")
	fs.DurationVar(&o.MemberProbeInterval, "member-probe-interval", 5*time.Second, "How often each member cluster is probed")
	fs.DurationVar(&o.MemberProbeTimeout, "member-probe-timeout", 3*time.Second, "Bound on one member probe")
	fs.DurationVar(&o.MemberCallTimeout, "member-call-timeout", 5*time.Second, "Bound on any other call into a member")
	fs.Float64Var(&o.MemberQPS, "member-qps", 50, "Sustained requests per second of each member cluster's client (client-go QPS)")
	fs.IntVar(&o.MemberBurst, "member-burst", 100, "Burst of each member cluster's client above --member-qps (client-go Burst)")
	fs.StringVar(&o.ExternalScalerAddress, "external-scaler-address", "", "host:port of a server speaking KEDA's external-scaler gRPC protocol (fleetscale-keda-scalers) that evaluates trigger types the hub does not implement; empty: such triggers are reported as unsupported")
	fs.StringVar(&o.ExternalScalerCAFile, "external-scaler-ca-file", "", "PEM CA that signed the KEDA scalers adapter's serving certificate (mTLS; required for a non-loopback --external-scaler-address)")
	fs.StringVar(&o.ExternalScalerCertFile, "external-scaler-cert-file", "", "PEM client certificate presented to the KEDA scalers adapter (mTLS); re-read at every handshake")
	fs.StringVar(&o.ExternalScalerKeyFile, "external-scaler-key-file", "", "PEM key of --external-scaler-cert-file")
	fs.StringVar(&o.ExternalScalerServerName, "external-scaler-server-name", "", "Name the adapter's certificate must hold (default: the host of --external-scaler-address)")
	fs.DurationVar(&o.TriggerReadBudget, "trigger-read-budget", scalers.DefaultReadBudget, "How long one evaluation waits for its object's trigger reads together; a read still running then finishes off the worker and re-evaluates the object")
	fs.DurationVar(&o.HPASyncPeriod, "hpa-sync-period", autoscaling.HPASyncPeriod, "Re-evaluation period while a rate limit holds the total back (the HPA's sync period)")
	fs.IntVar(&o.ConcurrentReconciles, "concurrent-reconciles", DefaultConcurrentReconciles, "Workers of each of the DistributedScaledObject and DistributedScaledJob controllers (objects evaluated at the same time; one object is never evaluated twice at once)")
	fs.IntVar(&o.MaxJobsPerEvaluation, "max-jobs-per-evaluation", distributedscaledjob.DefaultMaxJobsPerEvaluation, "Most Jobs one evaluation of one DistributedScaledJob creates, failover copies included; the rest follow in the next evaluations, a second apart")
	fs.DurationVar(&o.GracefulShutdownTimeout, "graceful-shutdown-timeout", DefaultGracefulShutdownTimeout, "Longest the controller takes to stop after SIGTERM (in-flight work, servers); past it, it exits anyway")
	fs.BoolVar(&o.MetricsSecure, "metrics-secure", false, "Serve /metrics over HTTPS to callers the hub authenticates and authorises for GET /metrics (needs RBAC to create tokenreviews and subjectaccessreviews); default plain HTTP")
	fs.StringVar(&o.WatchLabelSelector, "watch-label-selector", os.Getenv(WatchLabelSelectorEnv), "Label selector (e.g. 'fleetscale.dev/shard=a', set notation allowed) limiting the DistributedScaledObjects and DistributedScaledJobs this controller reconciles (a shard); empty: all. Default: $"+WatchLabelSelectorEnv)
	fs.StringVar(&o.LeaderElectionID, "leader-election-id", DefaultLeaderElectionID, "Name of the leader election Lease; give every shard its own")
	fs.Var(invertedBool{&o.SkipMemberClusterWrites}, "manage-member-clusters", "Write MemberCluster status and refresh member tokens; set false on every shard but one")
	fs.StringVar(&o.MetricsCertDir, "metrics-cert-dir", "", "Directory with tls.crt and tls.key for --metrics-secure (default: a self-signed certificate made in memory)")
}

// metricsOptions serves /metrics as the flags say: with --metrics-secure through
// controller-runtime's secure serving, which authenticates and authorises every scrape
// against the hub's API.
func metricsOptions(o Options) metricsserver.Options {
	m := metricsserver.Options{BindAddress: o.MetricsBindAddress}
	if o.MetricsSecure {
		m.SecureServing = true
		m.FilterProvider = filters.WithAuthenticationAndAuthorization
		m.CertDir = o.MetricsCertDir
	}
	return m
}

// Scheme has the hub's and members' types.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	// KEDA's TriggerAuthentication and ClusterTriggerAuthentication, read by triggers.
	if err := kedav1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// triggerOptions builds what every trigger shares. The adapter receives resolved credentials:
// it is dialled in plaintext only on a loopback address, otherwise with mTLS.
func triggerOptions(o Options) (scalers.Options, error) {
	tlsCfg, err := scalers.ExternalScalerTLS(o.ExternalScalerCAFile, o.ExternalScalerCertFile, o.ExternalScalerKeyFile, o.ExternalScalerServerName)
	if err != nil {
		return scalers.Options{}, err
	}
	if o.ExternalScalerAddress != "" && tlsCfg == nil && !scalers.IsLoopback(o.ExternalScalerAddress) {
		return scalers.Options{}, fmt.Errorf("--external-scaler-address %s is not a loopback address: the adapter receives credentials, "+
			"so set --external-scaler-ca-file, --external-scaler-cert-file and --external-scaler-key-file (mTLS) or run it as a sidecar on 127.0.0.1", o.ExternalScalerAddress)
	}
	return scalers.Options{ExternalScalerAddress: o.ExternalScalerAddress, ExternalScalerTLS: tlsCfg,
		Connections: scalers.NewConnections(), ReadBudget: o.TriggerReadBudget}, nil
}

// Run starts the controller and blocks until ctx ends.
func Run(ctx context.Context, cfg *rest.Config, o Options) error {
	scheme := Scheme()
	shard, err := shardCache(o.WatchLabelSelector)
	if err != nil {
		return err
	}
	shard.DefaultTransform = leanCache
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme,
		Cache:  shard,
		// Status holds state that decisions rest on (shares, HPA history, original replicas):
		// a reconcile must never read an older status than the one it just wrote.
		//
		// Secrets and ConfigMaps are never cached: every read of one (a trigger's value, a
		// TriggerAuthentication's credential, a kubeconfig) goes to the API server, and the
		// watches that map their changes to DSOs, DSJs and MemberClusters hold metadata only
		// (builder.OnlyMetadata), so the hub's unrelated Secrets and ConfigMaps cost no memory.
		Client: client.Options{Cache: &client.CacheOptions{EnableReadYourWritesConsistency: ptr.To(true),
			DisableFor: []client.Object{&corev1.Secret{}, &corev1.ConfigMap{}}}},
		NewClient:               newClient,
		Metrics:                 metricsOptions(o),
		HealthProbeBindAddress:  o.HealthProbeBindAddress,
		PprofBindAddress:        o.ProfilingBindAddress,
		LeaderElection:          o.LeaderElect,
		LeaderElectionID:        leaderElectionID(o),
		LeaderElectionNamespace: o.Namespace,
		// A replica that stops (rolling update) hands the lease over at once instead of
		// leaving the fleet unscaled for the lease duration. Safe: Run returns right after.
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 positive(o.LeaseDuration),
		RenewDeadline:                 positive(o.RenewDeadline),
		RetryPeriod:                   positive(o.RetryPeriod),
		GracefulShutdownTimeout:       ptr.To(gracefulShutdownTimeout(o)),
	})
	if err != nil {
		return fmt.Errorf("new manager: %w", err)
	}
	recorder := metrics.New(crmetrics.Registry)
	triggers, err := triggerOptions(o)
	if err != nil {
		return err
	}
	defer func() { _ = triggers.Connections.Close() }()
	registry := member.NewRegistry(mgr.GetClient(), member.Options{
		Metrics:       recorder,
		ProbeInterval: o.MemberProbeInterval,
		ProbeTimeout:  o.MemberProbeTimeout,
		CallTimeout:   o.MemberCallTimeout,
		QPS:           float32(o.MemberQPS),
		Burst:         o.MemberBurst,
		Scheme:        scheme,
		ReadOnly:      o.SkipMemberClusterWrites,
	})
	// The hub admin's TenantPolicies, read from the manager's cache: they bound the target
	// namespaces and pod templates (reconcilers) and what triggers may use or dial (scalers).
	policies := &tenancy.Checker{Reader: mgr.GetClient()}
	triggers.Policy = policies
	// The versions of the hub's ConfigMaps and Secrets, from the metadata-only informers the
	// trigger watches start: a trigger's object still at the version last read is not read again.
	triggers.HubVersions = mgr.GetCache()
	if err := mgr.Add(registry); err != nil {
		return fmt.Errorf("add registry: %w", err)
	}
	if err := (&membercluster.Reconciler{Client: mgr.GetClient(), Registry: registry, Namespace: o.Namespace,
		Recorder: mgr.GetEventRecorder("fleetscale-controller"), ReadOnly: o.SkipMemberClusterWrites}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("membercluster controller: %w", err)
	}
	if err := (&distributedscaledobject.Reconciler{
		Client: mgr.GetClient(), Registry: registry, Recorder: mgr.GetEventRecorder("fleetscale-controller"),
		Namespace: o.Namespace, SyncPeriod: o.HPASyncPeriod, Metrics: recorder, Scalers: triggers, Tenancy: policies,
		MaxConcurrentReconciles: o.concurrentReconciles(),
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("distributedscaledobject controller: %w", err)
	}
	if err := (&distributedscaledjob.Reconciler{
		Client: mgr.GetClient(), Registry: registry, Recorder: mgr.GetEventRecorder("fleetscale-controller"),
		Namespace: o.Namespace, Metrics: recorder, Scalers: triggers, Tenancy: policies,
		MaxJobsPerEvaluation: o.MaxJobsPerEvaluation, MaxConcurrentReconciles: o.concurrentReconciles(),
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("distributedscaledjob controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("healthz: %w", err)
	}
	// synced closes once the manager's caches have synced: controller-runtime starts its
	// other runnables (the controllers among them) only after that.
	synced := make(chan struct{})
	if err := mgr.Add(syncMarker(synced)); err != nil {
		return fmt.Errorf("add sync marker: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", func(*http.Request) error {
		select {
		case <-synced:
			return nil
		default:
			return errors.New("hub caches not synced yet")
		}
	}); err != nil {
		return fmt.Errorf("readyz: %w", err)
	}
	if ctx.Err() != nil {
		return nil // stopped during setup: start no server and no watch
	}
	return start(ctx, mgr, synced)
}

// start runs the manager until ctx ends. controller-runtime's Start waits for the first
// cache sync without looking at ctx (the wait ends only when the hub answers), so a
// controller stopped before its caches synced, whose hub is gone, would never return.
// Nothing has reconciled by then (controllers start after the sync), so there is nothing
// to wait for: start returns at once. After the sync, the manager's own stop procedure,
// bounded by GracefulShutdownTimeout, is awaited.
func start(ctx context.Context, mgr crmanager.Manager, synced <-chan struct{}) error {
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	select {
	case err := <-done:
		return managerErr(err)
	case <-ctx.Done():
	}
	select {
	case err := <-done:
		return managerErr(err)
	case <-synced:
		return managerErr(<-done)
	default:
		return nil
	}
}

// syncMarker closes itself when started: in the manager's group of runnables that do not
// need leader election, started right after the caches synced (on standbys too, so they
// report ready).
type syncMarker chan struct{}

func (m syncMarker) Start(context.Context) error { close(m); return nil }
func (m syncMarker) NeedLeaderElection() bool    { return false }

func managerErr(err error) error {
	if err != nil {
		return fmt.Errorf("manager: %w", err)
	}
	return nil
}

// gracefulShutdownTimeout is the flag's value, or its default when not set (tests).
func gracefulShutdownTimeout(o Options) time.Duration {
	if o.GracefulShutdownTimeout <= 0 {
		return DefaultGracefulShutdownTimeout
	}
	return o.GracefulShutdownTimeout
}

// leanCache drops what no reader of the hub cache uses: managed fields of every object, and
// from metadata-only objects (Secrets, ConfigMaps) kubectl's last-applied-configuration
// annotation, which holds a whole copy of the object (a Secret's data included).
func leanCache(in any) (any, error) {
	if _, err := cache.TransformStripManagedFields()(in); err != nil {
		return nil, err
	}
	if pom, ok := in.(*metav1.PartialObjectMetadata); ok && pom.Annotations != nil {
		delete(pom.Annotations, corev1.LastAppliedConfigAnnotation)
	}
	return in, nil
}

// positive is d, or nil (controller-runtime's default) when d is not set.
func positive(d time.Duration) *time.Duration {
	if d <= 0 {
		return nil
	}
	return &d
}

func (o Options) concurrentReconciles() int {
	if o.ConcurrentReconciles > 0 {
		return o.ConcurrentReconciles
	}
	return DefaultConcurrentReconciles
}

// shardCache limits the cache's DSOs and DSJs to the shard's selector at the list/watch level
// (as KEDA does for its ScaledObjects and ScaledJobs): objects of other shards never enter
// it, so no event, Get or List of this controller sees them. Everything else stays shared.
func shardCache(selector string) (cache.Options, error) {
	if selector == "" {
		return cache.Options{}, nil
	}
	sel, err := labels.Parse(selector)
	if err != nil {
		return cache.Options{}, fmt.Errorf("--watch-label-selector %q: %w", selector, err)
	}
	return cache.Options{ByObject: map[client.Object]cache.ByObject{
		&v1alpha1.DistributedScaledObject{}: {Label: sel},
		&v1alpha1.DistributedScaledJob{}:    {Label: sel},
	}}, nil
}

func leaderElectionID(o Options) string {
	if o.LeaderElectionID == "" {
		return DefaultLeaderElectionID
	}
	return o.LeaderElectionID
}

// invertedBool is a boolean flag stored negated (default true: the field's zero value).
type invertedBool struct{ skip *bool }

func (b invertedBool) String() string {
	if b.skip == nil {
		return "true"
	}
	return strconv.FormatBool(!*b.skip)
}

func (b invertedBool) Set(v string) error {
	on, err := strconv.ParseBool(v)
	if err != nil {
		return err
	}
	*b.skip = !on
	return nil
}

func (b invertedBool) IsBoolFlag() bool { return true }
