// Command fleetscale-dev runs a local hub and member clusters in the background (real
// kube-apiserver, kube-controller-manager, kube-scheduler and kwok processes sharing one
// etcd) and controls them: stop, start, hang and resume a cluster, show its status, tear it
// all down. It is a thin layer over internal/clusterenv, which the tests use directly.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetscale/fleetscale/internal/clusterenv"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "fleetscale-dev:", err)
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	var dir string
	root := &cobra.Command{
		Use:   "fleetscale-dev",
		Short: "Run a local fleetscale hub and member clusters in the background",
		Long: `fleetscale-dev runs a hub and member clusters on 127.0.0.1 in the background and
controls them. "up" writes DIR/hub.kubeconfig, DIR/member-N.kubeconfig, DIR/env (source it
for kubectl and fleetscale's binaries on PATH) and DIR/state.json (PIDs, command lines,
ports) for the other commands.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&dir, "dir", ".dev", "directory of the environment")

	root.AddCommand(newUpCommand(&dir), newDownCommand(&dir), newStatusCommand(&dir))
	for _, a := range []struct {
		use, short string
		run        func(*clusterenv.Cluster) error
	}{
		{"stop", "Stop all processes of a cluster (its data stays in etcd)", (*clusterenv.Cluster).Stop},
		{"start", "Start a stopped cluster again with the same arguments and ports", (*clusterenv.Cluster).Start},
		{"hang", "Freeze a cluster's apiserver (SIGSTOP): requests hang", (*clusterenv.Cluster).Hang},
		{"resume", "Unfreeze a hung apiserver (SIGCONT)", (*clusterenv.Cluster).Resume},
	} {
		root.AddCommand(&cobra.Command{
			Use:   a.use + " CLUSTER",
			Short: a.short,
			Args:  cobra.ExactArgs(1),
			RunE: func(_ *cobra.Command, args []string) error {
				return runClusterAction(dir, args[0], a.use, a.run)
			},
		})
	}
	return root
}

func newUpCommand(dir *string) *cobra.Command {
	var (
		members        int
		crds           string
		jobPodDuration time.Duration
		hubFull        bool
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a hub and full member clusters from empty data, in the background",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("crds") {
				if _, err := os.Stat(crds); err != nil {
					fmt.Printf("(no %s: no CRDs installed)\n", crds)
					crds = ""
				}
			}
			return runUp(*dir, members, crds, jobPodDuration, hubFull)
		},
	}
	cmd.Flags().IntVar(&members, "members", 3, "number of member clusters (member-1..N)")
	cmd.Flags().StringVar(&crds, "crds", "config/crd/bases", "directory of CRD YAML files to install into the hub")
	cmd.Flags().DurationVar(&jobPodDuration, "job-pod-duration", clusterenv.DefaultJobPodDuration, "how long a Job's pod runs before it Succeeds")
	cmd.Flags().BoolVar(&hubFull, "hub-full", false, "also run controller-manager, scheduler and kwok in the hub")
	return cmd
}

func runUp(dir string, members int, crds string, jobPodDuration time.Duration, hubFull bool) error {
	begin := time.Now()
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := teardown(dir); err != nil {
		return err
	}
	// ^C while starting: Start stops what it started and returns.
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	fmt.Printf("Starting hub + %d members in %s ...\n", members, dir)
	env, err := clusterenv.Start(ctx, clusterenv.Options{
		Dir:            dir,
		Members:        members,
		Hub:            clusterenv.ClusterOptions{Full: hubFull},
		Member:         clusterenv.ClusterOptions{Full: true},
		CRDDir:         crds,
		JobPodDuration: jobPodDuration,
		Detach:         true,
		Logf:           func(format string, args ...any) { fmt.Printf("  "+format+"\n", args...) },
	})
	if err != nil {
		return err
	}
	envFile, err := writeEnvFile(env)
	if err != nil {
		return err
	}
	fmt.Println()
	for _, c := range env.Clusters() {
		fmt.Printf("  %-10s %s  kubeconfig %s\n", c.Name, c.APIURL, rel(c.KubeconfigPath))
	}
	fmt.Printf("\nUp in %.1fs. Processes run in the background; state in %s.\n", time.Since(begin).Seconds(),
		rel(filepath.Join(dir, clusterenv.StateFile)))
	fmt.Printf("Try:\n  source %s\n  kubectl --kubeconfig %s get nodes\n  fleetscale-dev status --dir %s\n  fleetscale-dev down --dir %s\n",
		rel(envFile), rel(env.Members[0].KubeconfigPath), rel(dir), rel(dir))
	return nil
}

// writeEnvFile writes DIR/env, which puts the repository's bin/ and the control-plane
// binaries (kubectl, ...) first on PATH and does nothing else.
func writeEnvFile(env *clusterenv.Env) (string, error) {
	var paths []string
	if root, err := clusterenv.RepoRoot(); err == nil {
		paths = append(paths, filepath.Join(root, "bin"))
	} else if exe, err := os.Executable(); err == nil {
		paths = append(paths, filepath.Dir(exe))
	}
	paths = append(paths, env.BinDir)
	quoted := make([]string, len(paths))
	for i, p := range paths {
		quoted[i] = "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
	}
	content := "# Written by fleetscale-dev up. Source it to get fleetscale's binaries and kubectl on PATH.\n" +
		"export PATH=" + strings.Join(quoted, ":") + "${PATH:+:$PATH}\n"
	path := filepath.Join(env.Dir, "env")
	return path, os.WriteFile(path, []byte(content), 0o644)
}

func newDownCommand(dir *string) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop every process of the environment and delete its data",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			begin := time.Now()
			abs, err := filepath.Abs(*dir)
			if err != nil {
				return err
			}
			if _, err := os.Stat(abs); errors.Is(err, os.ErrNotExist) {
				fmt.Printf("Nothing to stop: no %s\n", abs)
				return nil
			}
			if err := teardown(abs); err != nil {
				return err
			}
			fmt.Printf("Down in %.1fs.\n", time.Since(begin).Seconds())
			return nil
		},
	}
}

// teardown stops the environment recorded in dir, if any, and deletes dir, but only a
// directory clusterenv made (or an empty one).
func teardown(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	if len(entries) > 0 && !clusterenv.IsEnvDir(dir) {
		return fmt.Errorf("%s exists and was not made by fleetscale-dev; not touching it", dir)
	}
	if env, err := clusterenv.Load(dir); err == nil {
		fmt.Printf("Stopping the environment in %s ...\n", dir)
		begin := time.Now()
		if err := env.Stop(); err != nil {
			return err
		}
		fmt.Printf("  stopped etcd and %d clusters (%.1fs)\n", len(env.Clusters()), time.Since(begin).Seconds())
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reading the previous environment: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	fmt.Printf("  deleted %s\n", dir)
	return nil
}

func runClusterAction(dir, name, action string, run func(*clusterenv.Cluster) error) error {
	begin := time.Now()
	env, err := clusterenv.Load(dir)
	if err != nil {
		return fmt.Errorf("no environment in %s (run fleetscale-dev up): %w", dir, err)
	}
	c := env.Cluster(name)
	if c == nil {
		var names []string
		for _, c := range env.Clusters() {
			names = append(names, c.Name)
		}
		return fmt.Errorf("no cluster %q in %s (have %s)", name, dir, strings.Join(names, ", "))
	}
	fmt.Printf("%s %s ...\n", verb(action), name)
	if err := run(c); err != nil {
		return err
	}
	for _, p := range c.Processes() {
		fmt.Printf("  %-24s pid %-7d %s\n", p.Name, p.PID, p.Status)
	}
	fmt.Printf("%s %s in %.1fs.\n", pastTense(action), name, time.Since(begin).Seconds())
	return nil
}

func newStatusCommand(dir *string) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show each cluster and the state of its processes",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			env, err := clusterenv.Load(*dir)
			if err != nil {
				return fmt.Errorf("no environment in %s (run fleetscale-dev up): %w", *dir, err)
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			e := env.EtcdProcess()
			fmt.Fprintf(w, "etcd\t%s\t\t\n", env.EtcdURL)
			fmt.Fprintf(w, "  %s\tpid %d\t%s\t\n", e.Name, e.PID, e.Status)
			for _, c := range env.Clusters() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				state := "ready"
				if err := c.Ready(ctx); err != nil {
					state = "not ready: " + firstLine(err.Error())
				}
				cancel()
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", c.Name, c.APIURL, rel(c.KubeconfigPath), state)
				for _, p := range c.Processes() {
					fmt.Fprintf(w, "  %s\tpid %d\t%s\t\n", p.Name, p.PID, p.Status)
				}
			}
			return w.Flush()
		},
	}
}

func verb(action string) string {
	return map[string]string{"stop": "Stopping", "start": "Starting", "hang": "Hanging", "resume": "Resuming"}[action]
}

func pastTense(action string) string {
	return map[string]string{"stop": "Stopped", "start": "Started", "hang": "Hung", "resume": "Resumed"}[action]
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	return s
}

// rel shortens a path to be relative to the working directory when it is below it.
func rel(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if r, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}
