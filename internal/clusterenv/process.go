package clusterenv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ProcessStatus is what a look at /proc says about one of the environment's processes.
type ProcessStatus string

const (
	// ProcessRunning means the process exists and is not stopped by a signal.
	ProcessRunning ProcessStatus = "running"
	// ProcessStopped means the process exists but is stopped (SIGSTOP, see Cluster.Hang).
	ProcessStopped ProcessStatus = "stopped"
	// ProcessExited means the process is gone (or its PID now belongs to another program).
	ProcessExited ProcessStatus = "exited"
)

// ProcessInfo describes one process of the environment.
type ProcessInfo struct {
	Name   string
	PID    int
	Status ProcessStatus
	Log    string
}

// process is one control-plane program. It is either owned (started by this Go process, cmd
// set, reaped by a goroutine) or attached (loaded from a state file by a later invocation of
// fleetscale-dev, known only by PID and command line).
type process struct {
	name    string
	args    []string // argv; args[0] is the absolute path of the binary
	env     []string // added to the parent's environment
	logPath string
	detach  bool // setsid and no parent-death signal (fleetscale-dev up)

	mu   sync.Mutex
	pid  int
	done chan struct{} // closed when an owned process has been reaped; nil when attached
}

func (p *process) state() ProcessState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return ProcessState{Name: p.name, PID: p.pid, Args: p.args, Env: p.env, Log: p.logPath}
}

func (p *process) info() ProcessInfo {
	p.mu.Lock()
	pid := p.pid
	p.mu.Unlock()
	return ProcessInfo{Name: p.name, PID: pid, Status: p.status(), Log: p.logPath}
}

// start launches the process unless it is already alive. Output is appended to its log file,
// so a restart keeps the history of earlier runs.
func (p *process) start() error {
	if p.status() != ProcessExited {
		return nil
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "==== clusterenv: %s starting at %s\n", p.name, time.Now().Format(time.RFC3339Nano))

	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	if p.detach {
		// A new session: the processes outlive fleetscale-dev and ignore the terminal's ^C.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	} else {
		// Own process group (a ^C to the test's group does not hit them half-way) and
		// SIGKILL when the test binary dies, whatever the reason (timeout panic, SIGKILL).
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	}
	if err := StartProcess(cmd); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.pid = cmd.Process.Pid
	p.done = done
	p.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	return nil
}

// status looks the process up. An attached process counts as alive only while /proc shows
// the recorded command line under its PID, so a recycled PID is never mistaken for it.
func (p *process) status() ProcessStatus {
	p.mu.Lock()
	pid, done := p.pid, p.done
	p.mu.Unlock()
	if pid <= 0 {
		return ProcessExited
	}
	if done != nil {
		select {
		case <-done:
			return ProcessExited
		default:
		}
	} else if !sameCmdline(pid, p.args) {
		return ProcessExited
	}
	switch procState(pid) {
	case "", "Z", "X":
		return ProcessExited
	case "T", "t":
		return ProcessStopped
	default:
		return ProcessRunning
	}
}

func (p *process) signal(sig syscall.Signal) error {
	if p.status() == ProcessExited {
		return fmt.Errorf("%s is not running", p.name)
	}
	p.mu.Lock()
	pid := p.pid
	p.mu.Unlock()
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %s (pid %d): %w", p.name, pid, err)
	}
	return nil
}

// signalAndWait signals the process and waits (briefly) until /proc shows the wanted status;
// SIGSTOP and SIGCONT take effect asynchronously.
func (p *process) signalAndWait(sig syscall.Signal, want ProcessStatus) error {
	if err := p.signal(sig); err != nil {
		return err
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := p.status()
		if got == want {
			return nil
		}
		if got == ProcessExited || time.Now().After(deadline) {
			return fmt.Errorf("%s (pid %d) is %s after %s", p.name, p.info().PID, got, sig)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stop sends SIGTERM (and SIGCONT, in case the process is hung by SIGSTOP), waits up to
// grace, then SIGKILLs and waits until the process is gone.
func (p *process) stop(grace time.Duration) error {
	if p.status() == ProcessExited {
		return nil
	}
	if grace > 0 {
		_ = p.signal(syscall.SIGTERM)
		_ = p.signal(syscall.SIGCONT)
		if p.waitExit(grace) {
			return nil
		}
	}
	_ = p.signal(syscall.SIGKILL)
	if p.waitExit(30 * time.Second) {
		return nil
	}
	return fmt.Errorf("%s (pid %d) still alive after SIGKILL", p.name, p.info().PID)
}

func (p *process) waitExit(timeout time.Duration) bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done != nil {
		select {
		case <-done:
			return true
		case <-time.After(timeout):
			return false
		}
	}
	deadline := time.Now().Add(timeout)
	for {
		if p.status() == ProcessExited {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// procState returns the state letter of /proc/PID/stat ("R", "S", "T", "Z", ...) or "".
func procState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	// The command name is in parentheses and may contain spaces; the state follows it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return ""
	}
	return string(b[i+2])
}

func procCmdline(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

func sameCmdline(pid int, args []string) bool {
	got := procCmdline(pid)
	if len(got) != len(args) {
		return false
	}
	for i := range got {
		if got[i] != args[i] {
			return false
		}
	}
	return true
}

// ProcessesMentioning returns the PIDs of live processes whose command line contains s.
// Tests use it with an environment's directory to prove nothing is left behind.
func ProcessesMentioning(s string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if st := procState(pid); st == "" || st == "Z" || st == "X" {
			continue
		}
		if strings.Contains(strings.Join(procCmdline(pid), " "), s) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Pdeathsig is delivered when the *thread* that forked the child exits, not the process
// (golang/go#27505). Forking from one goroutine locked to its OS thread for the life of the
// process makes the signal mean "the test binary died".
var launcher struct {
	once sync.Once
	reqs chan launchRequest
}

type launchRequest struct {
	cmd *exec.Cmd
	err chan error
}

// StartProcess starts cmd; when it asks for a parent-death signal, from the one locked thread
// above, so the signal means "this process died". Other tools that start helper processes
// (the demo's controller) use it too.
func StartProcess(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil || cmd.SysProcAttr.Pdeathsig == 0 {
		return cmd.Start()
	}
	launcher.once.Do(func() {
		launcher.reqs = make(chan launchRequest)
		go func() {
			runtime.LockOSThread() // never unlocked: this thread lives as long as the process
			for r := range launcher.reqs {
				r.err <- r.cmd.Start()
			}
		}()
	})
	r := launchRequest{cmd: cmd, err: make(chan error, 1)}
	launcher.reqs <- r
	return <-r.err
}
