package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fleetscale/fleetscale/internal/clusterenv"
)

// Files the demo keeps in the environment directory next to fleetscale-dev's.
const (
	// ControllerLogFile receives the controller's output.
	ControllerLogFile = "controller.log"
	// ControllerPIDFile holds the PID of the controller the demo started, so that
	// `fleetscale-demo stop` (and `make dev-down`) can stop it after a --keep run.
	ControllerPIDFile = "controller.pid"
)

// controllerBinary is the controller's program name.
const controllerBinary = "fleetscale-controller"

// Controller is the fleetscale-controller process the demo runs against the hub.
type Controller struct {
	Cmd     Command
	PID     int
	LogPath string
	pidPath string
	health  string
	done    chan struct{}
	waitErr error
}

// startController starts the controller in the background, logging to dir/controller.log
// and recording its PID in dir/controller.pid, and waits until its /readyz answers. With
// detach it gets its own session and outlives the demo (--keep); otherwise it is killed
// when the demo dies, whatever kills it.
func startController(ctx context.Context, c Command, path []string, dir string, healthAddr string, detach bool) (*Controller, error) {
	bin, err := lookPath(c.Args[0], path)
	if err != nil {
		return nil, fmt.Errorf("%w (run make build)", err)
	}
	logPath := filepath.Join(dir, ControllerLogFile)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "==== fleetscale-demo: %s starting at %s\n", controllerBinary, time.Now().Format(time.RFC3339))
	cmd := exec.Command(bin, c.Args[1:]...)
	cmd.Env = append(withPath(os.Environ(), path), c.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if detach {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	} else {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	}
	if err := clusterenv.StartProcess(cmd); err != nil {
		return nil, fmt.Errorf("start %s: %w", controllerBinary, err)
	}
	ctl := &Controller{Cmd: c, PID: cmd.Process.Pid, LogPath: logPath, pidPath: filepath.Join(dir, ControllerPIDFile),
		health: "http://" + healthAddr, done: make(chan struct{})}
	go func() {
		ctl.waitErr = cmd.Wait()
		close(ctl.done)
	}()
	if err := os.WriteFile(ctl.pidPath, []byte(strconv.Itoa(ctl.PID)+"\n"), 0o644); err != nil {
		_ = ctl.Stop()
		return nil, err
	}
	if err := ctl.waitReady(ctx, 60*time.Second); err != nil {
		_ = ctl.Stop()
		return nil, err
	}
	return ctl, nil
}

// StartController starts c (Args[0] the controller binary's path) as the demo does, logging
// to dir/controller.log, and waits until its /readyz at healthAddr answers. It dies with the
// calling process. The fault tests run their controllers with it.
func StartController(ctx context.Context, c Command, dir, healthAddr string) (*Controller, error) {
	return startController(ctx, c, nil, dir, healthAddr, false)
}

// Kill ends the controller with SIGKILL, as a crash or an OOM kill would (no lease released,
// no deferred status write), waits until it is gone and removes its PID file.
func (c *Controller) Kill() error {
	defer os.Remove(c.pidPath)
	if exited, _ := c.Exited(); exited {
		return nil
	}
	_ = syscall.Kill(c.PID, syscall.SIGKILL)
	select {
	case <-c.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s (pid %d) still running after SIGKILL", controllerBinary, c.PID)
	}
}

// Exited reports whether the process has ended, and how.
func (c *Controller) Exited() (bool, error) {
	select {
	case <-c.done:
		return true, c.waitErr
	default:
		return false, nil
	}
}

func (c *Controller) waitReady(ctx context.Context, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		if exited, err := c.Exited(); exited {
			return fmt.Errorf("%s exited (%v); end of %s:\n%s", controllerBinary, err, c.LogPath, c.LogTail(20))
		}
		resp, err := client.Get(c.health + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready at %s/readyz within %s; end of %s:\n%s", controllerBinary, c.health, timeout, c.LogPath, c.LogTail(20))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// LogTail returns the last n lines of the controller's log.
func (c *Controller) LogTail(n int) string {
	data, err := os.ReadFile(c.LogPath)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	return tailLines(string(data), n)
}

// Stop ends the controller (SIGTERM, SIGKILL after 10s) and removes its PID file.
func (c *Controller) Stop() error {
	defer os.Remove(c.pidPath)
	if exited, _ := c.Exited(); exited {
		return nil
	}
	_ = syscall.Kill(c.PID, syscall.SIGTERM)
	select {
	case <-c.done:
		return nil
	case <-time.After(10 * time.Second):
	}
	_ = syscall.Kill(c.PID, syscall.SIGKILL)
	select {
	case <-c.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s (pid %d) still running after SIGKILL", controllerBinary, c.PID)
	}
}

// StopRecordedController stops the controller whose PID dir/controller.pid records, if that
// process is still a fleetscale-controller of this directory's hub; it reports whether it
// stopped one. Used before a new run and by `fleetscale-demo stop`.
func StopRecordedController(dir string) (int, error) {
	pidPath := filepath.Join(dir, ControllerPIDFile)
	data, err := os.ReadFile(pidPath)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		_ = os.Remove(pidPath)
		return 0, nil
	}
	if !isControllerOf(pid, dir) {
		_ = os.Remove(pidPath)
		return 0, nil
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for deadline := time.Now().Add(10 * time.Second); alive(pid) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	if alive(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		for deadline := time.Now().Add(10 * time.Second); alive(pid) && time.Now().Before(deadline); {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if alive(pid) {
		return pid, fmt.Errorf("%s (pid %d) still running after SIGKILL", controllerBinary, pid)
	}
	_ = os.Remove(pidPath)
	return pid, nil
}

// isControllerOf says whether pid runs fleetscale-controller with --kubeconfig naming
// dir/hub.kubeconfig (relative to the process's working directory or absolute): a recycled
// PID or another environment's controller is never touched.
func isControllerOf(pid int, dir string) bool {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	args := strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")
	if len(args) == 0 || filepath.Base(args[0]) != controllerBinary {
		return false
	}
	cwd, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd")
	want, err := filepath.Abs(filepath.Join(dir, HubKubeconfig))
	if err != nil {
		return false
	}
	for i, a := range args {
		v, ok := strings.CutPrefix(a, "--kubeconfig=")
		if !ok && a == "--kubeconfig" && i+1 < len(args) {
			v, ok = args[i+1], true
		}
		if !ok {
			continue
		}
		if !filepath.IsAbs(v) {
			v = filepath.Join(cwd, v)
		}
		if filepath.Clean(v) == want {
			return true
		}
	}
	return false
}

func alive(pid int) bool {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(raw), ')')
	if i < 0 || i+2 >= len(raw) {
		return false
	}
	st := raw[i+2]
	return st != 'Z' && st != 'X'
}

// freeAddr returns a free 127.0.0.1 address for the controller's health endpoint.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
