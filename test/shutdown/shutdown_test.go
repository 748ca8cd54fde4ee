package shutdown_test

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/fleetscale/fleetscale/internal/clusterenv"
)

// One hub (an apiserver with the CRDs), shared by every case: the cases that need it gone
// stop it and start it again.
var shared = clusterenv.NewShared(clusterenv.Options{CRDDir: crdDir()})

var controllerBin string

func crdDir() string {
	root, _ := clusterenv.RepoRoot()
	return filepath.Join(root, "config", "crd", "bases")
}

func TestMain(m *testing.M) {
	if root, err := clusterenv.RepoRoot(); err == nil {
		controllerBin = filepath.Join(root, "bin", "fleetscale-controller")
	}
	os.Exit(shared.Main(m))
}

// graceful is the --graceful-shutdown-timeout the cases give the controller: every exit must
// come within it, counted from the SIGTERM.
const graceful = 10 * time.Second

// controller is one run of bin/fleetscale-controller.
type controller struct {
	cmd    *exec.Cmd
	out    output
	health string
	exited chan struct{}
	err    error
}

func startController(t *testing.T, kubeconfig string) *controller {
	t.Helper()
	if _, err := os.Stat(controllerBin); err != nil {
		t.Fatalf("%v: this test runs the real controller binary; make test builds it (or make build-hub)", err)
	}
	health, metrics := freeAddr(t), freeAddr(t)
	c := &controller{health: health, exited: make(chan struct{})}
	c.cmd = exec.Command(controllerBin,
		"--kubeconfig", kubeconfig,
		"--health-probe-bind-address", health,
		"--metrics-bind-address", metrics,
		"--graceful-shutdown-timeout", graceful.String(),
	)
	c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.out
	// The process dies with the test binary, whatever kills it.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := clusterenv.StartProcess(c.cmd); err != nil {
		t.Fatal(err)
	}
	go func() { c.err = c.cmd.Wait(); close(c.exited) }()
	t.Cleanup(func() {
		select {
		case <-c.exited:
		default:
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
		if t.Failed() {
			t.Logf("controller output:\n%s", c.out.String())
		}
	})
	return c
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// ready is nil once /readyz answers 200.
func (c *controller) ready() error {
	resp, err := http.Get("http://" + c.health + "/readyz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("readyz: %s", resp.Status)
	}
	return nil
}

// terminate sends SIGTERM and asserts the process ends within the graceful-shutdown timeout
// with exit status 0 (a clean stop, not the hard deadline in main).
func (c *controller) terminate(t *testing.T) {
	t.Helper()
	sent := time.Now()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signal: %v (the controller ended before it was told to)", err)
	}
	select {
	case <-c.exited:
	case <-time.After(graceful):
		t.Fatalf("still running %s after SIGTERM (graceful-shutdown timeout %s)", time.Since(sent).Round(time.Millisecond), graceful)
	}
	t.Logf("exited %s after SIGTERM", time.Since(sent).Round(time.Millisecond))
	if c.err != nil {
		t.Fatalf("exit after SIGTERM: %v", c.err)
	}
}

// waitStarted waits until the process has installed its signal handler (its first log line
// comes right after it): a SIGTERM before that kills it by the default action, which would
// prove nothing about its shutdown.
func (c *controller) waitStarted(g Gomega) {
	g.Eventually(c.out.String, time.Minute, 5*time.Millisecond).Should(ContainSubstring("Starting fleetscale-controller"))
}

// at sends nothing until delay after the handler is installed: the moment under test. It
// deliberately waits for time, not for a condition.
func (c *controller) at(g Gomega, delay time.Duration) {
	c.waitStarted(g)
	time.Sleep(delay)
}

func TestSIGTERMWithTheHubUp(t *testing.T) {
	env := shared.Env(t)
	for _, tc := range []struct {
		name  string
		delay time.Duration
	}{
		{"immediately", 0},
		{"during startup", 500 * time.Millisecond},
		{"later in startup", 1500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startController(t, env.Hub.KubeconfigPath)
			c.at(NewWithT(t), tc.delay)
			c.terminate(t)
		})
	}
	t.Run("after ready", func(t *testing.T) {
		g := NewWithT(t)
		c := startController(t, env.Hub.KubeconfigPath)
		g.Eventually(c.ready, 2*time.Minute, 100*time.Millisecond).Should(Succeed())
		c.terminate(t)
	})
}

// The reported case: SIGTERM in the controller's first second, then the hub goes away.
func TestSIGTERMThenTheHubGoesAway(t *testing.T) {
	env := shared.Env(t)
	g := NewWithT(t)
	c := startController(t, env.Hub.KubeconfigPath)
	c.at(g, 500*time.Millisecond)
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	g.Expect(env.Hub.Stop()).To(Succeed())
	t.Cleanup(func() { g.Expect(env.Hub.Start()).To(Succeed()) })
	select {
	case <-c.exited:
	case <-time.After(graceful - time.Since(sent)):
		t.Fatalf("still running %s after SIGTERM, hub stopped (graceful-shutdown timeout %s)", time.Since(sent).Round(time.Millisecond), graceful)
	}
	g.Expect(c.err).NotTo(HaveOccurred())
}

func TestSIGTERMWithTheHubDown(t *testing.T) {
	env := shared.Env(t)
	t.Run("hub gone after ready", func(t *testing.T) {
		g := NewWithT(t)
		c := startController(t, env.Hub.KubeconfigPath)
		g.Eventually(c.ready, 2*time.Minute, 100*time.Millisecond).Should(Succeed())
		g.Expect(env.Hub.Stop()).To(Succeed())
		defer func() { g.Expect(env.Hub.Start()).To(Succeed()) }()
		c.terminate(t)
	})
	g := NewWithT(t)
	g.Expect(env.Hub.Stop()).To(Succeed())
	t.Cleanup(func() { g.Expect(env.Hub.Start()).To(Succeed()) })
	// A controller that cannot reach its hub at startup stops on its own at once, saying why
	// (it is restarted by its Deployment); a SIGTERM that comes first stops it cleanly.
	t.Run("hub never up", func(t *testing.T) {
		g := NewWithT(t)
		c := startController(t, env.Hub.KubeconfigPath)
		c.waitStarted(g)
		select {
		case <-c.exited:
		case <-time.After(graceful):
			t.Fatalf("still running %s with its hub down", graceful)
		}
		g.Expect(c.err).To(HaveOccurred())
		g.Expect(c.out.String()).To(ContainSubstring("connection refused"))
	})
	t.Run("hub never up, SIGTERM at once", func(t *testing.T) {
		c := startController(t, env.Hub.KubeconfigPath)
		c.at(NewWithT(t), 0)
		sent := time.Now()
		_ = c.cmd.Process.Signal(syscall.SIGTERM) // it may have stopped on its own already
		select {
		case <-c.exited:
		case <-time.After(graceful):
			t.Fatalf("still running %s after SIGTERM, hub down", time.Since(sent).Round(time.Millisecond))
		}
		NewWithT(t).Expect(c.out.String()).NotTo(ContainSubstring("after the stop signal"))
	})
}

// output is the controller's combined output, written by the process and read by the test.
type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}
