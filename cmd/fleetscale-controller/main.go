// Command fleetscale-controller is the hub controller: it keeps the member registry, probes
// members, and reconciles DistributedScaledObjects and DistributedScaledJobs.
package main

import (
	"flag"
	"fmt"
	"os"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/fleetscale/fleetscale/internal/manager"
)

func main() {
	var opts manager.Options
	var kubeconfig string
	fs := flag.NewFlagSet("fleetscale-controller", flag.ExitOnError)
	fs.StringVar(&kubeconfig, "kubeconfig", "", "Path to the hub kubeconfig (default: in-cluster, then $KUBECONFIG)")
	opts.BindFlags(fs)
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	_ = fs.Parse(os.Args[1:])
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))

	cfg, err := hubConfig(kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleetscale-controller:", err)
		os.Exit(1)
	}
	if err := manager.Run(ctrl.SetupSignalHandler(), cfg, opts); err != nil {
		fmt.Fprintln(os.Stderr, "fleetscale-controller:", err)
		os.Exit(1)
	}
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
