// Command fleetscale-controller is the hub controller: it keeps the member registry, probes
// members, and reconciles DistributedScaledObjects and DistributedScaledJobs.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/fleetscale/fleetscale/internal/manager"
)

func main() {
	// The signal context comes first: a SIGTERM at any later moment, startup included, ends
	// every wait (a second signal exits at once, as controller-runtime's handler does).
	ctx := ctrl.SetupSignalHandler()
	var opts manager.Options
	var kubeconfig string
	var qps float64
	var burst int
	fs := flag.NewFlagSet("fleetscale-controller", flag.ExitOnError)
	fs.StringVar(&kubeconfig, "kubeconfig", "", "Path to the hub kubeconfig (default: in-cluster, then $KUBECONFIG)")
	// KEDA's operator flags of the same names and defaults. Without them client-go's 5/s (burst
	// 10) applies to a --kubeconfig: with three or four hub writes per first reconcile that
	// paces a cold start of 1,000 DSOs at under 2 a second (docs/benchmarks.md).
	fs.Float64Var(&qps, "kube-api-qps", 20, "Queries per second to the hub's API server (client-side rate limit)")
	fs.IntVar(&burst, "kube-api-burst", 30, "Burst of queries to the hub's API server above --kube-api-qps")
	opts.BindFlags(fs)
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	_ = fs.Parse(os.Args[1:])
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("fleetscale-controller")
	log.Info("Starting fleetscale-controller", "gracefulShutdownTimeout", opts.GracefulShutdownTimeout)
	go deadline(ctx, opts.GracefulShutdownTimeout)

	cfg, err := hubConfig(kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleetscale-controller:", err)
		os.Exit(1)
	}
	cfg.QPS, cfg.Burst = float32(qps), burst
	if err := manager.Run(ctx, cfg, opts); err != nil {
		fmt.Fprintln(os.Stderr, "fleetscale-controller:", err)
		os.Exit(1)
	}
	log.Info("Stopped")
}

// deadline bounds shutdown whatever is still running: once ctx ends, the process exits with
// status 1 when it has not returned within the graceful-shutdown timeout (plus a second for
// the manager to report its own timeout first). A clean shutdown never reaches it.
func deadline(ctx context.Context, grace time.Duration) {
	if grace <= 0 {
		grace = manager.DefaultGracefulShutdownTimeout
	}
	<-ctx.Done()
	time.Sleep(grace + time.Second)
	fmt.Fprintf(os.Stderr, "fleetscale-controller: still running %s after the stop signal; exiting. What was still running:\n", grace+time.Second)
	_ = pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
	os.Exit(1)
}

func hubConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		return ctrl.GetConfig()
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("read kubeconfig %s: %w", kubeconfig, err)
	}
	return cfg, nil
}
