package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/fleetscale/fleetscale/internal/plugin"
	"github.com/fleetscale/fleetscale/internal/statusview"
)

func newStatusCommand(hub *hubOptions, s streams) *cobra.Command {
	var (
		namespace string
		watch     bool
		interval  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "status [dso|dsj] NAME [-w] [-n NAMESPACE]",
		Short: "Show a DistributedScaledObject or DistributedScaledJob member by member",
		Long: `status shows one DistributedScaledObject (dso) or DistributedScaledJob (dsj) of the hub
member by member: each member's replicas (or Jobs) as a bar, its state (Ready, Unhealthy,
Excluded, Recovering) and whether its share has moved to the others, with the totals, the
conditions and the last trigger values above.

Without a kind it looks for a DistributedScaledObject NAME first, then a DistributedScaledJob.
-n is the object's namespace in the hub (default: the hub kubeconfig context's namespace, else
"default"), not the registrations' namespace that the mc commands use. -w re-renders whenever
the status changes, until Ctrl-C. Colours and block characters are used only on a terminal.`,
		Example: `  kubectl fleetscale status dso nginx --keda-kubeconfig .dev/hub.kubeconfig
  kubectl fleetscale status dsj dsj-example -w`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return fmt.Errorf("%s takes NAME or KIND NAME (KIND is dso or dsj; got %d arguments)", cmd.Name(), len(args))
			}
			if len(args) == 2 {
				_, err := plugin.ParseStatusKind(args[0])
				return err
			}
			return nil
		},
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			kind, name := plugin.KindAny, args[len(args)-1]
			if len(args) == 2 {
				kind, _ = plugin.ParseStatusKind(args[0])
			}
			hubCfg, err := plugin.LoadHubConfig(hub.HubFlags)
			if err != nil {
				return err
			}
			if namespace == "" {
				namespace = plugin.HubNamespace(hub.HubFlags)
			}
			terminal, width := outputTerminal(s)
			return plugin.Status(cmd.Context(), plugin.StatusOptions{
				Hub: hubCfg, Namespace: namespace, Kind: kind, Name: name,
				Watch: watch, Interval: interval, Terminal: terminal, Out: s.Out,
				Render: statusview.Options{Width: width, Color: terminal && os.Getenv("NO_COLOR") == "", Unicode: terminal},
			})
		}),
	}
	f := cmd.Flags()
	// Shadows the root's -n (the registrations' namespace): here it is the object's namespace.
	f.StringVarP(&namespace, "namespace", "n", "", "namespace of the object in the hub (default: the kubeconfig context's, else default)")
	f.BoolVarP(&watch, "watch", "w", false, "re-render whenever the status changes, until Ctrl-C")
	f.DurationVar(&interval, "interval", time.Second, "how often -w reads the object")
	_ = cmd.RegisterFlagCompletionFunc("namespace", cobra.NoFileCompletions)
	cmd.ValidArgsFunction = func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return []cobra.Completion{"dso", "dsj"}, cobra.ShellCompDirectiveNoFileComp
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return cmd
}

// outputTerminal says whether stdout is a terminal, and its width (80 when it is not or the
// size is unknown).
func outputTerminal(s streams) (bool, int) {
	f, ok := s.Out.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false, statusview.DefaultWidth
	}
	if w, _, err := term.GetSize(int(f.Fd())); err == nil && w >= 40 {
		return true, w
	}
	return true, statusview.DefaultWidth
}
