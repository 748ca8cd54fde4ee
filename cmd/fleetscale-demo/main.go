// Command fleetscale-demo plays the reference multi-cluster walkthrough on a local hub and
// three members (`make demo`): it starts them with fleetscale-dev, runs the controller,
// registers the members with kubectl fleetscale, creates nginx in each, and then plays each
// step with narration, the exact command lines, and a live per-member view, waiting until
// the step's expected state holds. It exits 0 only when every step did. It is a thin layer
// over internal/demo, which the end-to-end test runs too.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/fleetscale/fleetscale/internal/clusterenv"
	"github.com/fleetscale/fleetscale/internal/demo"
)

func main() {
	code := 0
	root := newRootCommand(&code)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "fleetscale-demo:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func newRootCommand(code *int) *cobra.Command {
	var (
		dir   string
		keep  bool
		scale float64
	)
	root := &cobra.Command{
		Use:   "fleetscale-demo",
		Short: "Play the multi-cluster walkthrough on a local hub and three members",
		Long: `fleetscale-demo starts a fresh hub and three member clusters in DIR (fleetscale-dev up),
runs fleetscale-controller against the hub (log DIR/controller.log, PID DIR/controller.pid),
and plays the reference walkthrough step by step, showing each command line as it runs it and
waiting, with a live per-member view, until the step's expected state holds.

It exits 0 when every step reached its expected state, 1 naming the step that did not.
Ctrl-C stops the controller and the clusters. With --keep everything stays up at the end and
the walkthrough's commands for this environment are printed; "fleetscale-demo stop" then
stops it all.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(*cobra.Command, []string) error {
			*code = runDemo(dir, keep, scale)
			return nil
		},
	}
	root.PersistentFlags().StringVar(&dir, "dir", ".dev", "directory of the environment (fleetscale-dev --dir)")
	root.Flags().BoolVar(&keep, "keep", false, "leave the clusters and the controller running at the end")
	root.Flags().Float64Var(&scale, "timeout-scale", 1, "multiply every step's timeout (slow machines)")
	root.AddCommand(&cobra.Command{
		Use:   "stop",
		Short: "Stop the controller and the clusters a --keep run left running",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			r, err := newRunner(dir, false, 1)
			if err != nil {
				return err
			}
			return r.Teardown()
		},
	})
	return root
}

func newRunner(dir string, keep bool, scale float64) (*demo.Runner, error) {
	root, err := clusterenv.RepoRoot()
	if err != nil {
		return nil, err
	}
	k8s, err := clusterenv.FindBinDir()
	if err != nil {
		return nil, err
	}
	if err := demo.CheckBinaries(root, k8s); err != nil {
		return nil, err
	}
	// NO_COLOR asks for plain output: no colours, no redrawing in place.
	terminal, width := term.IsTerminal(int(os.Stdout.Fd())) && os.Getenv("NO_COLOR") == "", 0
	if terminal {
		if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
			width = w
		}
	}
	return demo.New(demo.Config{
		Root: root, K8sBin: k8s, Dir: dir, StartEnv: true, Keep: keep,
		Out: os.Stdout, Terminal: terminal, Width: width, TimeoutScale: scale,
	})
}

func runDemo(dir string, keep bool, scale float64) int {
	r, err := newRunner(dir, keep, scale)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleetscale-demo:", err)
		return 1
	}
	// The first ^C (or SIGTERM) ends the run and tears down; later ones are ignored, so
	// that the teardown itself is not cut short.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	var interrupted atomic.Bool
	go func() {
		for range sigs {
			if interrupted.Swap(true) {
				fmt.Fprintln(os.Stderr, "fleetscale-demo: still stopping everything, please wait")
				continue
			}
			fmt.Fprintln(os.Stderr, "\nfleetscale-demo: interrupted; stopping the controller and the clusters ...")
			cancel()
		}
	}()

	begin := time.Now()
	err = r.Run(ctx)
	total := time.Since(begin)
	r.PrintSummary(total)
	switch {
	case interrupted.Load():
		if err := r.Teardown(); err != nil {
			fmt.Fprintln(os.Stderr, "fleetscale-demo: stopping:", err)
		}
		fmt.Println("Interrupted; everything is stopped.")
		return 130
	case err != nil:
		fmt.Printf("\nFAILED at %v\n", err)
		if ctl := r.Controller(); ctl != nil {
			fmt.Printf("\nEnd of the controller's log (%s):\n%s\n", ctl.LogPath, ctl.LogTail(15))
		}
		if keep {
			fmt.Println("\nLeft running (--keep) to look at; stop it all with: bin/fleetscale-demo stop --dir " + dir)
		} else if err := r.Teardown(); err != nil {
			fmt.Fprintln(os.Stderr, "fleetscale-demo: stopping:", err)
		}
		fmt.Fprintf(os.Stderr, "fleetscale-demo: FAILED at %s\n", firstLine(err.Error()))
		return 1
	}
	fmt.Printf("\nEvery step of the walkthrough (1 to 9) reached its expected state, in %s.\n", total.Round(time.Second))
	if keep {
		r.PrintHandoff()
		return 0
	}
	if err := r.Teardown(); err != nil {
		fmt.Fprintln(os.Stderr, "fleetscale-demo: stopping:", err)
		return 1
	}
	return 0
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}
