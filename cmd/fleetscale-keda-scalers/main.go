// Command fleetscale-keda-scalers serves KEDA's scalers (pkg/scalers of KEDA v2.21.0) over
// KEDA's external-scaler gRPC protocol, for the fleetscale hub's trigger types it does not
// implement itself (fleetscale-controller --external-scaler-address):
//
//	fleetscale-keda-scalers --kubeconfig HUB --listen 127.0.0.1:9090
//
// It watches the hub's DistributedScaledObjects and DistributedScaledJobs to close the scaler
// of a trigger that changed or went away. See docs/adapter.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/go-logr/logr"
	"k8s.io/client-go/tools/clientcmd"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/fleetscale/fleetscale/cmd/fleetscale-keda-scalers/internal/adapter"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "fleetscale-keda-scalers:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	// Our own flag set: packages KEDA imports register flags on flag.CommandLine.
	fs := flag.NewFlagSet("fleetscale-keda-scalers", flag.ContinueOnError)
	var (
		cfg        adapter.Config
		kubeconfig string
		kedaLogs   bool
		listTypes  bool
	)
	fs.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the hub cluster (empty: in-cluster config, else $KUBECONFIG)")
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:9090", "gRPC address (KEDA's external-scaler protocol); plaintext only on loopback, any other address needs the --tls-* flags")
	fs.StringVar(&cfg.TLSCertFile, "tls-cert-file", "", "server certificate (PEM) for mTLS")
	fs.StringVar(&cfg.TLSKeyFile, "tls-key-file", "", "server key (PEM) for mTLS")
	fs.StringVar(&cfg.TLSClientCAFile, "tls-client-ca-file", "", "CA (PEM) that signs the client certificates; a client certificate is required")
	fs.StringVar(&cfg.HealthAddress, "health-probe-bind-address", "", "address of /healthz and /readyz (plain HTTP); empty: off")
	fs.DurationVar(&cfg.HTTPTimeout, "http-timeout", adapter.DefaultHTTPTimeout, "KEDA's global HTTP timeout (KEDA_HTTP_DEFAULT_TIMEOUT) for HTTP-based scalers")
	fs.DurationVar(&cfg.CallTimeout, "call-timeout", adapter.DefaultCallTimeout, "bound of one gRPC call, building the scaler included")
	fs.IntVar(&cfg.MaxScalers, "max-scalers", adapter.DefaultMaxScalers, "most scalers cached at once; a new trigger beyond it fails until others close")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", adapter.DefaultIdleTimeout, "close a scaler no call used for this long")
	fs.DurationVar(&cfg.WatchSyncTimeout, "watch-sync-timeout", 0, "bound of the first list of the hub's DistributedScaledObjects/Jobs (default 2m)")
	fs.BoolVar(&kedaLogs, "keda-scaler-logs", false, "pass KEDA's scaler logs through (they may quote trigger metadata, e.g. hosts and queries); off: discarded")
	fs.BoolVar(&listTypes, "list-types", false, "print the trigger types served, one a line, and exit")
	zo := zap.Options{}
	zo.BindFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: fleetscale-keda-scalers --kubeconfig HUB --listen 127.0.0.1:PORT [flags]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if listTypes {
		fmt.Println(strings.Join(adapter.Types(), "\n"))
		return nil
	}
	log := zap.New(zap.UseFlagOptions(&zo))
	cfg.Log = log.WithName("keda-scalers")
	// KEDA's scalers log through controller-runtime's global logger.
	if kedaLogs {
		logf.SetLogger(log.WithName("keda"))
	} else {
		logf.SetLogger(logr.Discard())
	}

	if err := cfg.Validate(); err != nil {
		return err
	}
	loading := clientcmd.NewDefaultClientConfigLoadingRules()
	loading.ExplicitPath = kubeconfig
	hub, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(loading, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return fmt.Errorf("hub kubeconfig: %w", err)
	}
	hub.UserAgent = "fleetscale-keda-scalers"
	cfg.Hub = hub

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return adapter.Run(ctx, cfg)
}
