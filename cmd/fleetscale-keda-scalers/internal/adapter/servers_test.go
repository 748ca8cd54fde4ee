package adapter

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
)

// The tests run real servers from Debian's packages (.ci/run installs them): redis-server and
// PostgreSQL. A missing binary fails the test, saying which package to install.

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func lookBinary(t testing.TB, name, pkg string, dirs ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range dirs {
		if matches, _ := filepath.Glob(filepath.Join(d, name)); len(matches) > 0 {
			return matches[len(matches)-1]
		}
	}
	t.Fatalf("%s not found: apt-get install -y %s", name, pkg)
	return ""
}

// waitTCP waits until addr accepts connections.
func waitTCP(t testing.TB, addr string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not accept connections within %s: %v", addr, within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// redisServer is a real redis-server on 127.0.0.1 with a password.
type redisServer struct {
	Addr, Password string
	cmd            *exec.Cmd
	done           chan struct{}
}

func startRedis(t testing.TB, password string) *redisServer {
	t.Helper()
	bin := lookBinary(t, "redis-server", "redis-server")
	r := &redisServer{Addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), Password: password, done: make(chan struct{})}
	_, port, _ := net.SplitHostPort(r.Addr)
	var out bytes.Buffer
	r.cmd = exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--requirepass", password,
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	r.cmd.Stdout, r.cmd.Stderr = &out, &out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = r.cmd.Wait(); close(r.done) }()
	t.Cleanup(r.Stop)
	waitTCP(t, r.Addr, 30*time.Second)
	return r
}

// Stop kills the server and waits for it to exit.
func (r *redisServer) Stop() {
	if r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
	}
	<-r.done
}

func (r *redisServer) client(t testing.TB) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: r.Addr, Password: r.Password})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// clients is the number of connections other than the test's own.
func (r *redisServer) clients(t testing.TB, c *goredis.Client) int {
	t.Helper()
	list, err := c.ClientList(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count([]byte(list), []byte("\n")) - 1
}

// postgresServer is a real PostgreSQL cluster made by initdb in a temporary directory, on
// 127.0.0.1 with password authentication.
type postgresServer struct {
	Port             int
	User, Password   string
	dir, pgctl       string
	cred             *syscall.Credential
	started, stopped bool
}

func startPostgres(t testing.TB) *postgresServer {
	t.Helper()
	dirs := []string{"/usr/lib/postgresql/*/bin"}
	initdb := lookBinary(t, "initdb", "postgresql", dirs...)
	p := &postgresServer{Port: freePort(t), User: "keda", Password: "pg-s3cret-Passw0rd", pgctl: lookBinary(t, "pg_ctl", "postgresql", dirs...)}
	base, err := os.MkdirTemp("", "adapter-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	p.dir = filepath.Join(base, "data")
	// PostgreSQL refuses to run as root: as root, run it as the postgres user of the package.
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs the postgres user of Debian's postgresql package: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(base, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	pwfile := filepath.Join(base, "pw")
	if err := os.WriteFile(pwfile, []byte(p.Password+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.run(t, initdb, "-D", p.dir, "-U", p.User, "--pwfile", pwfile, "--auth", "scram-sha-256", "--no-sync")
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off", p.Port, base)
	p.run(t, p.pgctl, "start", "-w", "-t", "120", "-D", p.dir, "-l", filepath.Join(base, "log"), "-o", opts)
	p.started = true
	t.Cleanup(func() { p.Stop(t) })
	return p
}

func (p *postgresServer) run(t testing.TB, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", bin, args, err, out)
	}
}

// Stop stops the server (fast shutdown) and waits for it.
func (p *postgresServer) Stop(t testing.TB) {
	if !p.started || p.stopped {
		return
	}
	p.stopped = true
	p.run(t, p.pgctl, "stop", "-w", "-m", "immediate", "-D", p.dir)
}

func (p *postgresServer) conn(t testing.TB) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/postgres?sslmode=disable", p.User, p.Password, p.Port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}
