package adapter

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// redisServer is a real redis-server on 127.0.0.1 with a password, driven with redis-cli
// (both from Debian's redis-server package).
type redisServer struct {
	Addr, Password string
	port           string
	cmd            *exec.Cmd
	done           chan struct{}
}

func startRedis(t *testing.T, password string) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server not found: apt-get install -y redis-server")
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	r := &redisServer{Addr: fmt.Sprintf("127.0.0.1:%d", port), Password: password, port: fmt.Sprint(port), done: make(chan struct{})}
	r.cmd = exec.Command(bin, "--bind", "127.0.0.1", "--port", r.port, "--requirepass", password,
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = r.cmd.Wait(); close(r.done) }()
	t.Cleanup(r.Stop)
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", r.Addr, time.Second)
		if err == nil {
			_ = c.Close()
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not listen on %s: %v", r.Addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills the server and waits for it.
func (r *redisServer) Stop() {
	if r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
	}
	<-r.done
}

// do runs one command with redis-cli and returns its output.
func (r *redisServer) do(t *testing.T, args ...string) string {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatal("redis-cli not found: apt-get install -y redis-server")
	}
	var out, errOut bytes.Buffer
	cmd := exec.Command(cli, append([]string{"-h", "127.0.0.1", "-p", r.port, "--no-auth-warning", "-a", r.Password}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("redis-cli %s: %v: %s", args[0], err, errOut.String())
	}
	return out.String()
}

// clients is the number of client connections other than redis-cli's own.
func (r *redisServer) clients(t *testing.T) int {
	t.Helper()
	return strings.Count(strings.TrimSpace(r.do(t, "CLIENT", "LIST")), "\n")
}
