// Package fleettest starts what controller tests share: real hub and member control planes
// (internal/clusterenv), members registered through the plugin library exactly as `kubectl
// fleetscale mc setup-member` does, and the controller running in-process with fast probes.
package fleettest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/fleetscale/fleetscale/internal/clusterenv"
	"github.com/fleetscale/fleetscale/internal/manager"
	"github.com/fleetscale/fleetscale/internal/plugin"
)

// MemberName is the registered name of member i (1-based), as in the walkthrough.
func MemberName(i int) string { return fmt.Sprintf("k3d-member-%d", i) }

// Options for Start.
type Options struct {
	Members int
	// Member and PerMember choose what runs in each member (clusterenv); by name member-N.
	Member    clusterenv.ClusterOptions
	PerMember map[string]clusterenv.ClusterOptions
	// JobPodDuration is how long Job pods run in full members.
	JobPodDuration time.Duration
	// Controller overrides the controller options; zero fields keep the fast test defaults.
	Controller manager.Options
	// NoController leaves the controller out: the tests run it themselves (as a process,
	// test/fault), and Controller is ignored.
	NoController bool
}

// Fleet is a running hub, its registered members and the controller.
type Fleet struct {
	Env *clusterenv.Env
	Hub client.Client
	// Members are admin clients of members 1..N, in order.
	Members []client.Client

	stopController context.CancelFunc
	controllerDone chan error
}

// Member returns the admin client of member i (1-based).
func (f *Fleet) Member(i int) client.Client { return f.Members[i-1] }

// Cluster returns the control plane of member i (1-based).
func (f *Fleet) Cluster(i int) *clusterenv.Cluster { return f.Env.Members[i-1] }

// Shared starts one Fleet per test package on first use; use Main from TestMain.
type Shared struct {
	opts  Options
	env   *clusterenv.Shared
	once  sync.Once
	fleet *Fleet
	err   error
}

// NewShared prepares a Fleet shared by a test package.
func NewShared(o Options) *Shared {
	root, _ := clusterenv.RepoRoot()
	return &Shared{opts: o, env: clusterenv.NewShared(clusterenv.Options{
		Members:        o.Members,
		Member:         o.Member,
		PerMember:      o.PerMember,
		JobPodDuration: o.JobPodDuration,
		CRDDir:         filepath.Join(root, "config", "crd", "bases"),
	})}
}

// Fleet returns the shared fleet, starting it on first use.
func (s *Shared) Fleet(tb testing.TB) *Fleet {
	tb.Helper()
	env := s.env.Env(tb)
	s.once.Do(func() { s.fleet, s.err = start(env, s.opts) })
	if s.err != nil {
		tb.Fatalf("fleettest: %v", s.err)
	}
	return s.fleet
}

// Main runs the tests, then stops the controller and the clusters.
func (s *Shared) Main(m *testing.M) int {
	code := s.env.Main(&stopFirst{m: m, s: s})
	return code
}

// stopFirst stops the controller before clusterenv stops the clusters, so it does not log
// a storm of connection errors at the end.
type stopFirst struct {
	m *testing.M
	s *Shared
}

func (r *stopFirst) Run() int {
	code := r.m.Run()
	if f := r.s.fleet; f != nil {
		f.stopController()
		select {
		case <-f.controllerDone:
		case <-time.After(30 * time.Second):
			fmt.Fprintln(os.Stderr, "fleettest: controller did not stop within 30s")
		}
	}
	return code
}

func start(env *clusterenv.Env, o Options) (*Fleet, error) {
	ctx := context.Background()
	hub, err := client.New(env.Hub.Config, client.Options{Scheme: manager.Scheme()})
	if err != nil {
		return nil, err
	}
	f := &Fleet{Env: env, Hub: hub}
	for i, m := range env.Members {
		c, err := client.New(m.Config, client.Options{Scheme: manager.Scheme()})
		if err != nil {
			return nil, err
		}
		f.Members = append(f.Members, c)
		if _, err := plugin.SetupMember(ctx, plugin.SetupOptions{Name: MemberName(i + 1), Hub: env.Hub.Config, Member: m.Config}); err != nil {
			return nil, fmt.Errorf("setup-member %s: %w", MemberName(i+1), err)
		}
	}
	if o.NoController {
		f.stopController = func() {}
		f.controllerDone = make(chan error, 1)
		f.controllerDone <- nil
		return f, nil
	}
	co := o.Controller
	defaults := manager.Options{
		Namespace: plugin.DefaultNamespace, MetricsBindAddress: "0", HealthProbeBindAddress: "0",
		MemberProbeInterval: time.Second, MemberProbeTimeout: time.Second, MemberCallTimeout: 2 * time.Second,
		HPASyncPeriod: time.Second,
	}
	fill(&co, defaults)
	// Controller logs go to stderr: go test shows them only for a failing package or with -v.
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr)))
	cctx, cancel := context.WithCancel(ctx)
	f.stopController, f.controllerDone = cancel, make(chan error, 1)
	go func() { f.controllerDone <- manager.Run(cctx, env.Hub.Config, co) }()
	return f, nil
}

func fill(o *manager.Options, d manager.Options) {
	if o.Namespace == "" {
		o.Namespace = d.Namespace
	}
	if o.MetricsBindAddress == "" {
		o.MetricsBindAddress = d.MetricsBindAddress
	}
	if o.HealthProbeBindAddress == "" {
		o.HealthProbeBindAddress = d.HealthProbeBindAddress
	}
	if o.MemberProbeInterval == 0 {
		o.MemberProbeInterval = d.MemberProbeInterval
	}
	if o.MemberProbeTimeout == 0 {
		o.MemberProbeTimeout = d.MemberProbeTimeout
	}
	if o.MemberCallTimeout == 0 {
		o.MemberCallTimeout = d.MemberCallTimeout
	}
	if o.HPASyncPeriod == 0 {
		o.HPASyncPeriod = d.HPASyncPeriod
	}
}
