package demo

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Command is one command line of the walkthrough, run as a process exactly as it is shown:
// the environment assignments (KUBECONFIG=...), then the arguments, with Stdin shown as the
// walkthrough's here-document. Args[0] is a bare program name looked up on the runner's PATH
// (the repository's bin/, then kubectl's directory, then $PATH), as after `source .dev/env`.
type Command struct {
	Env   []string
	Args  []string
	Stdin string
	// Timeout bounds the command (default 2m).
	Timeout time.Duration
	// Check inspects the combined output of a command that succeeded; an error fails the step.
	Check func(out string) error
}

// defaultCommandTimeout bounds a command without its own Timeout.
const defaultCommandTimeout = 2 * time.Minute

// String is the command as a user types it.
func (c Command) String() string {
	var parts []string
	parts = append(parts, c.Env...)
	for _, a := range c.Args {
		parts = append(parts, shellQuote(a))
	}
	line := strings.Join(parts, " ")
	if c.Stdin == "" {
		return line
	}
	return "cat <<EOF | " + line + "\n" + strings.TrimRight(c.Stdin, "\n") + "\nEOF"
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,@+%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// lookPath finds a bare program name in dirs, in order.
func lookPath(name string, dirs []string) (string, error) {
	if strings.ContainsRune(name, '/') {
		return name, nil
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in %s", name, strings.Join(dirs, ":"))
}

// exitError says that a command ran and failed; its output has been shown already.
type exitError struct {
	cmd  string
	err  error
	tail string
}

func (e *exitError) Error() string {
	msg := fmt.Sprintf("command failed (%v): %s", e.err, firstLine(e.cmd))
	if e.tail != "" {
		msg += "\n" + e.tail
	}
	return msg
}

func (e *exitError) Unwrap() error { return e.err }

// run runs c with the given PATH directories, writing each output line to out (prefixed) as
// it comes, and returns the combined output. The process gets its own process group, so a
// ^C on the terminal reaches only the demo, which ends the command through ctx: SIGTERM,
// then SIGKILL after a grace period (fleetscale-dev up cleans up on SIGTERM).
func run(ctx context.Context, c Command, path []string, out func(line string)) (string, error) {
	if len(c.Args) == 0 {
		return "", errors.New("empty command")
	}
	bin, err := lookPath(c.Args[0], path)
	if err != nil {
		return "", err
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = defaultCommandTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, c.Args[1:]...)
	cmd.Env = append(withPath(os.Environ(), path), c.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	if c.Stdin != "" {
		cmd.Stdin = strings.NewReader(c.Stdin)
	}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var all bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			all.WriteString(sc.Text())
			all.WriteByte('\n')
			if out != nil {
				out(sc.Text())
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	err = cmd.Run()
	pw.Close()
	wg.Wait()
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("timed out after %s", timeout)
		}
		return all.String(), &exitError{cmd: c.String(), err: err}
	}
	return all.String(), nil
}

// withPath puts dirs first on PATH in env.
func withPath(env []string, dirs []string) []string {
	out := make([]string, 0, len(env)+1)
	old := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			old = v
			continue
		}
		out = append(out, kv)
	}
	p := strings.Join(dirs, string(os.PathListSeparator))
	if old != "" {
		p += string(os.PathListSeparator) + old
	}
	return append(out, "PATH="+p)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// tailLines returns the last n lines of s.
func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
