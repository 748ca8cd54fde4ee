package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// FuzzCommandLine: any command line ends with exit 0, or exit 1 and exactly one "error: ..."
// line on stderr, never a panic, a stack trace or a usage dump. No cluster is reachable: the
// home directory and KUBECONFIG point at an empty directory, and arguments with a path
// separator are skipped so no real kubeconfig can be named.
func FuzzCommandLine(f *testing.F) {
	for _, seed := range []string{
		"mc setup-member k3d-member-1 --member-kubeconfig none --scale-api-groups apps,core --allow-insecure",
		"mc setup-member Bad_Name --member-kubeconfig x",
		"mc setup-member m --member-kubeconfig x --member-api-url http://m --token-ttl 1s",
		"mc delete-member m -y --member-context ctx",
		"mc list-members -o yaml -n keda",
		"status dso nginx -w",
		"mc setup-member m --target-namespaces a,,b --scale-api-groups=",
		"--keda-context x mc list-members --unknown-flag",
	} {
		f.Add(strings.ReplaceAll(seed, " ", "\x00"))
	}
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Split(line, "\x00")
		for _, a := range args {
			if strings.ContainsAny(a, `/\`) || strings.HasPrefix(a, "__complete") {
				return
			}
		}
		empty := t.TempDir()
		t.Setenv("HOME", empty)
		t.Setenv("KUBECONFIG", filepath.Join(empty, "none"))
		r := kfs(t, "", false, args...)
		if r.code == 0 {
			return
		}
		if r.code != 1 || !strings.HasPrefix(r.errOut, "error: ") || strings.Count(r.errOut, "\n") != 1 {
			t.Fatalf("args %q: exit %d, stderr %q", args, r.code, r.errOut)
		}
		if strings.Contains(r.errOut, "goroutine ") || strings.Contains(r.out, "Usage:") {
			t.Fatalf("args %q: stack trace or usage dump: %q %q", args, r.out, r.errOut)
		}
	})
}
