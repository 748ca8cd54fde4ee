package main

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fleetscale/fleetscale/internal/plugin"
)

// version is set at build time: -ldflags "-X main.version=v0.1.0".
var version = ""

// hubOptions are the persistent flags that locate the hub, read by every command that talks
// to it.
type hubOptions struct {
	plugin.HubFlags
	Namespace string
}

func (o *hubOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.KedaKubeconfig, "keda-kubeconfig", "", "kubeconfig of the hub (KEDA) cluster; overrides --kubeconfig")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig of the hub cluster when --keda-kubeconfig is not set (default: $KUBECONFIG, else ~/.kube/config)")
	fs.StringVar(&o.KedaContext, "keda-context", "", "context of the hub kubeconfig to use; overrides --context")
	fs.StringVar(&o.Context, "context", "", "context of the hub kubeconfig to use when --keda-context is not set (default: its current context)")
	fs.StringVarP(&o.Namespace, "namespace", "n", plugin.DefaultNamespace, "hub namespace of the registrations, and member namespace of the fleetscale ServiceAccount")
}

func newRootCommand(s streams) *cobra.Command {
	hub := &hubOptions{}
	root := &cobra.Command{
		Use:   "kubectl-fleetscale",
		Short: "Manage fleetscale, the multi-cluster autoscaler",
		Long: `kubectl fleetscale manages the member clusters a fleetscale hub scales workloads in.

The hub cluster is found as kubectl finds its cluster: --keda-kubeconfig, else --kubeconfig,
else $KUBECONFIG, else ~/.kube/config; the context is --keda-context, else --context, else the
current one.`,
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl fleetscale"},
		// Errors are printed by run, one line each; a runtime error is no reason for a usage
		// dump.
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.ErrOut)
	hub.addFlags(root.PersistentFlags())
	root.AddCommand(newMCCommand(hub, s), newStatusCommand(hub, s), newVersionCommand(s))
	return root
}

// runtimeError marks an error of a command's work, as opposed to a command-line mistake
// (unknown flag or command, wrong arguments), which run prints with a pointer to --help.
type runtimeError struct{ error }

func (e runtimeError) Unwrap() error { return e.error }

func isUsageError(err error) bool {
	var r runtimeError
	return !errors.As(err, &r)
}

// runE adapts a command's work to cobra, marking its errors as runtime errors.
func runE(f func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := f(cmd, args); err != nil {
			return runtimeError{err}
		}
		return nil
	}
}

// exactName accepts exactly one positional argument, the member name.
func exactName(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("%s takes exactly one argument, the member name (got %d)", cmd.Name(), len(args))
	}
	return nil
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%s takes no arguments (got %q)", cmd.Name(), args)
	}
	return nil
}

func newVersionCommand(s streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the plugin's version",
		Args:  noArgs,
		RunE: runE(func(*cobra.Command, []string) error {
			_, err := fmt.Fprintf(s.Out, "kubectl-fleetscale %s (%s, %s/%s)\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		}),
	}
}

// buildVersion is the -X version, else the module version, else the VCS revision, else "dev".
func buildVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "dev-" + s.Value[:12]
		}
	}
	return "dev"
}
