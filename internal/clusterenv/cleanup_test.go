package clusterenv_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/fleetscale/fleetscale/internal/clusterenv"
)

// helperDirEnv tells a re-executed test binary to run TestHelperStartEnvAndWait for real.
const helperDirEnv = "CLUSTERENV_TEST_HELPER_DIR"

const helperReady = "CLUSTERENV-HELPER-READY"

// A test binary that dies by SIGKILL, which no cleanup code survives, leaves no process behind:
// the parent-death signal takes every process of the environment with it.
func TestNoProcessLeftWhenTheTestBinaryIsKilled(t *testing.T) {
	clusterenv.SkipIfShort(t) // its helper process starts a hub and a member
	g := NewWithT(t)
	dir := filepath.Join(t.TempDir(), "env")

	child := exec.Command(os.Args[0], "-test.run=^TestHelperStartEnvAndWait$", "-test.v", "-test.timeout=10m")
	child.Env = append(os.Environ(), helperDirEnv+"="+dir)
	child.Stderr = os.Stderr
	// Should this test itself be killed, the helper goes too.
	child.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := child.StdoutPipe()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(child.Start()).To(Succeed())
	t.Cleanup(func() {
		_ = child.Process.Kill()
		_ = child.Wait()
	})

	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var output []string
	g.Eventually(func() bool {
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					g.Expect(output).To(ContainElement(helperReady), "helper exited before it was ready")
					return false
				}
				output = append(output, l)
				if l == helperReady {
					return true
				}
			default:
				return false
			}
		}
	}).WithTimeout(3*time.Minute).WithPolling(100*time.Millisecond).Should(BeTrue(), "helper output:\n%s", strings.Join(output, "\n"))

	// etcd, two apiservers, controller-manager, scheduler, kwok.
	running := clusterenv.ProcessesMentioning(dir)
	g.Expect(len(running)).To(BeNumerically(">=", 6), "processes of %s: %v", dir, running)
	t.Logf("helper (pid %d) runs %d processes; killing it", child.Process.Pid, len(running))

	g.Expect(child.Process.Signal(syscall.SIGKILL)).To(Succeed())
	_ = child.Wait()
	begin := time.Now()
	g.Eventually(func() []int { return clusterenv.ProcessesMentioning(dir) }).
		WithTimeout(60 * time.Second).WithPolling(50 * time.Millisecond).Should(BeEmpty())
	t.Logf("all gone %.2fs after the helper died", time.Since(begin).Seconds())
}

// TestHelperStartEnvAndWait is the helper process of TestNoProcessLeftWhenTheTestBinaryIsKilled.
func TestHelperStartEnvAndWait(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	if dir == "" {
		t.Skip("helper process, run by TestNoProcessLeftWhenTheTestBinaryIsKilled")
	}
	clusterenv.StartForTest(t, clusterenv.Options{
		Dir:     dir,
		Members: 1,
		Member:  clusterenv.ClusterOptions{Full: true},
	})
	fmt.Println(helperReady)
	// Until the parent kills this process.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	<-ctx.Done()
}
