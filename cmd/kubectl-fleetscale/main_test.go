package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetscale/fleetscale/internal/clusterenv"
)

// One hub (with fleetscale's CRDs) and one member for the command-line tests that need
// clusters; started by the first such test.
var shared = clusterenv.NewShared(clusterenv.Options{Members: 1, CRDDir: "../../config/crd/bases"})

func TestMain(m *testing.M) { os.Exit(shared.Main(m)) }

func envFor(t *testing.T) *clusterenv.Env {
	t.Helper()
	if testing.Short() {
		t.Skip("starts kube-apiservers; skipped with -short")
	}
	return shared.Env(t)
}

type result struct {
	code        int
	out, errOut string
}

// kfs runs the plugin's command line in-process, as `kubectl fleetscale ARGS...`.
func kfs(t *testing.T, stdin string, interactive bool, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, streams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut, Interactive: interactive})
	return result{code, out.String(), errOut.String()}
}

// expectFailure checks the contract for every failure: exit 1, nothing on stdout unless
// wanted, and exactly one line "error: ..." on stderr containing each of want.
func expectFailure(t *testing.T, r result, want ...string) {
	t.Helper()
	if r.code != 1 {
		t.Errorf("exit code %d, want 1 (stderr %q)", r.code, r.errOut)
	}
	if !strings.HasPrefix(r.errOut, "error: ") || strings.Count(r.errOut, "\n") != 1 || !strings.HasSuffix(r.errOut, "\n") {
		t.Errorf("stderr is not one error line: %q", r.errOut)
	}
	for _, w := range want {
		if !strings.Contains(r.errOut, w) {
			t.Errorf("stderr %q lacks %q", r.errOut, w)
		}
	}
	if strings.Contains(r.errOut, "goroutine ") || strings.Contains(r.out, "Usage:") {
		t.Errorf("stack trace or usage dump: %q %q", r.out, r.errOut)
	}
}

func TestCommandLineErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.kubeconfig")
	garbage := filepath.Join(dir, "garbage.kubeconfig")
	if err := os.WriteFile(garbage, []byte("clusters: [:"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.kubeconfig")
	if err := os.WriteFile(empty, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", missing)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"mc", "setup-member"}, []string{"setup-member takes exactly one argument, the member name", "see 'kubectl fleetscale mc setup-member --help'"}},
		{[]string{"mc", "setup-member", "a", "b"}, []string{"exactly one argument"}},
		{[]string{"mc", "list-members", "--bogus"}, []string{"unknown flag: --bogus", "see 'kubectl fleetscale mc list-members --help'"}},
		{[]string{"nope"}, []string{`unknown command "nope"`}},
		{[]string{"mc", "setup-member", "Member_1", "--member-kubeconfig", missing}, []string{`invalid member name "Member_1"`, "DNS-1123"}},
		{[]string{"mc", "setup-member", "m1"}, []string{"--member-kubeconfig is required"}},
		{[]string{"mc", "setup-member", "m1", "--member-kubeconfig", garbage, "--keda-kubeconfig", missing},
			[]string{"cannot read the hub kubeconfig " + missing + ": no such file or directory"}},
		{[]string{"mc", "list-members", "--kubeconfig", garbage}, []string{"the hub kubeconfig " + garbage + " is not a valid kubeconfig"}},
		{[]string{"mc", "list-members"}, []string{"no hub kubeconfig found in " + missing}},
		{[]string{"mc", "list-members", "--keda-kubeconfig", empty}, []string{"the hub kubeconfig " + empty + " selects no cluster"}},
		{[]string{"mc", "setup-member", "m1", "--keda-kubeconfig", empty, "--member-kubeconfig", missing},
			[]string{"the hub kubeconfig " + empty + " selects no cluster"}},
		{[]string{"mc", "list-members", "-o", "xml"}, []string{`unknown output format "xml"`}},
		{[]string{"mc", "delete-member", "x.y"}, []string{`invalid member name "x.y"`}},
		{[]string{"mc", "setup-member", "m1", "--token-ttl", "soon"}, []string{`invalid argument "soon" for "--token-ttl"`}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			expectFailure(t, kfs(t, "", false, tc.args...), tc.want...)
		})
	}
}

func TestVersionHelpCompletion(t *testing.T) {
	r := kfs(t, "", false, "version")
	if r.code != 0 || !strings.HasPrefix(r.out, "kubectl-fleetscale ") {
		t.Fatalf("version: %+v", r)
	}
	r = kfs(t, "", false, "mc", "--help")
	if r.code != 0 || !strings.Contains(r.out, "kubectl fleetscale mc [command]") || !strings.Contains(r.out, "setup-member") {
		t.Fatalf("help: %+v", r)
	}
	r = kfs(t, "", false, "completion", "bash")
	if r.code != 0 || !strings.Contains(r.out, "bash completion") {
		t.Fatalf("completion: code %d, %d bytes", r.code, len(r.out))
	}
	r = kfs(t, "", false, "__complete", "mc", "list-members", "-o", "")
	if r.code != 0 || !strings.Contains(r.out, "wide\n") {
		t.Fatalf("-o completion: %+v", r)
	}
}
