package e2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetscale/fleetscale/internal/clusterenv"
	"github.com/fleetscale/fleetscale/internal/demo"
)

var (
	root   string
	shared *clusterenv.Shared
)

// TestMain finds the repository and its binaries, then runs the tests on one environment: a
// hub and three full members (pods run; a Job's pod succeeds after demo.JobPodDuration).
func TestMain(m *testing.M) {
	flag.Parse()
	var err error
	if root, err = clusterenv.RepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	if !testing.Short() {
		k8s, err := clusterenv.FindBinDir()
		if err == nil {
			err = demo.CheckBinaries(root, k8s)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "e2e: %v\ne2e: the end-to-end test runs the real binaries; make test builds them first (or run make build k8s-bins)\n", err)
			os.Exit(1)
		}
	}
	shared = clusterenv.NewShared(clusterenv.Options{
		Members:        demo.Members,
		Member:         clusterenv.ClusterOptions{Full: true},
		CRDDir:         filepath.Join(root, "config", "crd", "bases"),
		JobPodDuration: demo.JobPodDuration,
	})
	os.Exit(shared.Main(m))
}

// TestWalkthrough plays the walkthrough's nine steps, one subtest each, and stops at the
// first whose expected state does not come.
func TestWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a hub and three members; skipped with -short")
	}
	env := shared.Env(t)
	out := &logWriter{t: t}
	r, err := demo.New(demo.Config{Root: root, K8sBin: env.BinDir, Dir: env.Dir, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("stop the controller: %v", err)
		}
	})
	ctx := context.Background()
	for _, s := range r.Steps() {
		ok := t.Run(s.ID+" "+s.Title, func(t *testing.T) {
			out.set(t)
			defer out.set(nil)
			if err := r.RunStep(ctx, s); err != nil {
				t.Fatal(err)
			}
		})
		if !ok {
			if ctl := r.Controller(); ctl != nil {
				t.Logf("end of the controller's log (%s):\n%s", ctl.LogPath, ctl.LogTail(40))
			}
			t.FailNow()
		}
	}
	var lines []string
	for _, res := range r.Results() {
		lines = append(lines, fmt.Sprintf("  %-3s %-42s %s", res.Step.ID, res.Step.Title, res.Duration.Round(time.Second)))
	}
	t.Logf("every step reached its expected state:\n%s", strings.Join(lines, "\n"))
}

// logWriter sends the narration, line by line, to the log of the test that is running.
type logWriter struct {
	mu     sync.Mutex
	t      *testing.T
	parent *testing.T
	buf    bytes.Buffer
}

func (w *logWriter) set(t *testing.T) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.parent == nil {
		w.parent = w.t
	}
	if t == nil {
		t = w.parent
	}
	w.t = t
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line) // no newline yet: keep it for the next write
			return len(p), nil
		}
		w.t.Log(strings.TrimSuffix(line, "\n"))
	}
}
