package clusterenv

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// TB is the part of testing.TB the helpers here use. They take it instead of testing.TB so
// that this package, linked into fleetscale-dev and fleetscale-demo, does not link the
// testing package (and its flags) into them.
type TB interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skip(args ...any)
	Cleanup(func())
	Failed() bool
}

// short is testing.Short() without importing testing: the test binary's -test.short flag.
func short() bool {
	f := flag.Lookup("test.short")
	return f != nil && f.Value.String() == "true"
}

// StartForTest starts an environment for one test (or benchmark) and stops it in
// tb.Cleanup. Its processes die with the test binary, whatever kills it. When the test has
// failed, the end of every process log is logged and the directory (without etcd's data) is
// kept. Options.Detach is ignored. Under -short it skips the test before starting anything.
func StartForTest(tb TB, opts Options) *Env {
	tb.Helper()
	SkipIfShort(tb)
	opts.Detach = false
	if opts.Logf == nil {
		opts.Logf = func(format string, args ...any) { tb.Logf("clusterenv: "+format, args...) }
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultStartTimeout)
	defer cancel()
	env, err := Start(ctx, opts)
	if err != nil {
		tb.Fatalf("clusterenv: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("clusterenv: end of the process logs:\n%s", env.LogTails(30))
			env.keepLogsOnly()
			tb.Logf("clusterenv: logs kept in %s", env.Dir)
		}
		if err := env.Stop(); err != nil {
			tb.Errorf("clusterenv: stop: %v", err)
		}
	})
	return env
}

// SkipIfShort skips a test that would start clusters when the run is -short (make test-unit):
// every helper here that starts clusters calls it first, so a package's pure tests still run.
func SkipIfShort(tb TB) {
	tb.Helper()
	if short() {
		tb.Skip("starts kube-apiservers; skipped with -short")
	}
}

// keepLogsOnly stops the environment and makes a later Stop keep its directory (minus etcd's
// data), for someone to read the logs of a failure.
func (e *Env) keepLogsOnly() {
	_ = e.stop()
	_ = os.RemoveAll(filepath.Join(e.Dir, "etcd"))
	e.ownsDir = false
}

// Shared is one environment for all the tests of a package. It is started by the first test
// that asks for it (so a benchmark-only or helper-process run of the test binary starts
// nothing) and stopped by Main after the last test.
//
//	var shared = clusterenv.NewShared(clusterenv.Options{Members: 3, Member: clusterenv.ClusterOptions{Full: true}})
//
//	func TestMain(m *testing.M) { os.Exit(shared.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		env := shared.Env(t)
//		...
//	}
type Shared struct {
	opts Options
	once sync.Once
	mu   sync.Mutex
	env  *Env
	err  error
}

// NewShared prepares a shared environment; nothing starts until Env is called.
func NewShared(opts Options) *Shared {
	opts.Detach = false
	return &Shared{opts: opts}
}

// Env returns the shared environment, starting it on the first call. A failure to start
// fails every test that asks for it. Under -short it skips the test and starts nothing.
func (s *Shared) Env(tb TB) *Env {
	tb.Helper()
	SkipIfShort(tb)
	s.once.Do(func() {
		opts := s.opts
		if opts.Logf == nil {
			opts.Logf = func(format string, args ...any) {
				fmt.Fprintf(os.Stderr, "clusterenv: "+format+"\n", args...)
			}
		}
		env, err := Start(context.Background(), opts)
		s.mu.Lock()
		s.env, s.err = env, err
		s.mu.Unlock()
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		tb.Fatalf("clusterenv: shared environment did not start: %v", s.err)
	}
	return s.env
}

// Main runs the tests, then stops the shared environment if a test started it. When tests
// failed it prints the end of every process log and keeps the logs. Use it from TestMain:
// os.Exit(shared.Main(m)).
func (s *Shared) Main(m interface{ Run() int }) int {
	code := m.Run()
	s.mu.Lock()
	env := s.env
	s.mu.Unlock()
	if env == nil {
		return code
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "clusterenv: end of the process logs:\n%s", env.LogTails(30))
		env.keepLogsOnly()
		fmt.Fprintf(os.Stderr, "clusterenv: logs kept in %s\n", env.Dir)
	}
	if err := env.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "clusterenv: stop: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}
