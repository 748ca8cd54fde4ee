package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetscale/fleetscale/internal/clusterenv"
)

// process is a program the benchmark runs next to the clusters (KEDA's operator and metrics
// server, fleetscale-controller), logging to a file, stopped by PID in tb.Cleanup and killed
// by the kernel if the benchmark binary dies (clusterenv's parent-death launcher).
type process struct {
	name    string
	logPath string
	pid     int
	done    chan struct{}
}

func startProcess(tb testing.TB, name, logPath string, env []string, argv ...string) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := clusterenv.StartProcess(cmd); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, logPath: logPath, pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(p.stop)
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitedErr says that the process is gone, with the end of its log, or returns nil.
func (p *process) exitedErr() error {
	if !p.exited() {
		return nil
	}
	return fmt.Errorf("%s exited; end of %s:\n%s", p.name, p.logPath, tailFile(p.logPath, 15))
}

func (p *process) stop() {
	if p.exited() {
		return
	}
	_ = syscall.Kill(p.pid, syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(10 * time.Second):
	}
	_ = syscall.Kill(p.pid, syscall.SIGKILL)
	<-p.done
}

// usage is what the kernel says one process has used so far.
type usage struct {
	PeakRSSBytes int64
	CPUSeconds   float64
}

// readUsage reads VmHWM from /proc/PID/status and utime+stime from /proc/PID/stat.
func (p *process) readUsage() (usage, error) {
	var u usage
	status, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/status")
	if err != nil {
		return u, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return u, fmt.Errorf("VmHWM %q: %w", v, err)
			}
			u.PeakRSSBytes = kb * 1024
		}
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/stat")
	if err != nil {
		return u, err
	}
	// Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return u, errors.New("unexpected /proc/PID/stat")
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 13 {
		return u, errors.New("short /proc/PID/stat")
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return u, err
	}
	// USER_HZ is 100 on every Linux architecture Go supports.
	u.CPUSeconds = float64(utime+stime) / 100
	return u, nil
}

func tailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
