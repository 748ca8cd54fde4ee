package demo

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func testLayout(t *testing.T, startEnv bool) Layout {
	t.Helper()
	return Layout{Dir: ".dev", CRDs: "config/crd/bases",
		StartEnv: startEnv, HealthAddr: "127.0.0.1:9999"}
}

func TestWalkthroughSteps(t *testing.T) {
	steps, err := Walkthrough(testLayout(t, true))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range steps {
		ids = append(ids, s.ID)
		if s.Title == "" || s.Walkthrough == "" || s.Here == "" {
			t.Errorf("step %s lacks narration: %+v", s.ID, s)
		}
		for _, w := range s.Waits {
			if w.Expect == "" || w.Timeout <= 0 || w.Check == nil {
				t.Errorf("step %s has an incomplete wait: %+v", s.ID, w)
			}
		}
	}
	if diff := cmp.Diff([]string{"1", "2", "3", "4", "5", "6", "7a", "7a", "7b", "7c", "8", "9"}, ids); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}

	// What the walkthrough applies goes in verbatim: the only change is the narrated patch.
	var applied []string
	var commands []string
	for _, s := range steps {
		for _, a := range s.Actions {
			commands = append(commands, a.Cmd.String())
			if a.Cmd.Stdin != "" {
				applied = append(applied, a.Cmd.Stdin)
			}
		}
	}
	for i, name := range []string{"walkthrough-step5.yaml", "walkthrough-step6-configmap.yaml", "walkthrough-step8.yaml", "walkthrough-step9.yaml"} {
		want, err := Manifest(name)
		if err != nil {
			t.Fatal(err)
		}
		want = want[strings.Index(want, "\n")+1:] // the comment saying it is verbatim
		if i >= len(applied) || applied[i] != want {
			t.Errorf("manifest %d is not %s verbatim", i, name)
		}
	}
	all := strings.Join(commands, "\n")
	for _, want := range []string{
		"fleetscale-dev up --dir .dev --crds config/crd/bases --job-pod-duration 10s",
		"fleetscale-controller --kubeconfig .dev/hub.kubeconfig --metrics-bind-address 0 --health-probe-bind-address 127.0.0.1:9999",
		"KUBECONFIG=.dev/member-2.kubeconfig kubectl create deployment nginx --image=nginx",
		"kubectl fleetscale mc setup-member k3d-member-3 --keda-kubeconfig .dev/hub.kubeconfig --member-kubeconfig .dev/member-3.kubeconfig",
		"cat <<EOF | KUBECONFIG=.dev/hub.kubeconfig kubectl apply -f -\napiVersion: v1\nkind: ConfigMap",
		`KUBECONFIG=.dev/hub.kubeconfig kubectl patch dso nginx --type merge -p '{"spec":{"rebalancingPolicy":{"gracePeriod":"10s"}}}'`,
		"KUBECONFIG=.dev/member-2.kubeconfig kubectl delete deployment nginx",
		"fleetscale-dev stop member-3 --dir .dev",
		"KUBECONFIG=.dev/hub.kubeconfig kubectl fleetscale mc delete-member k3d-member-3",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no command %q among:\n%s", want, all)
		}
	}

	steps, err = Walkthrough(testLayout(t, false))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range steps[0].Actions {
		if a.Cmd.Args[0] == "fleetscale-dev" {
			t.Errorf("an environment that is up is started again: %s", a.Cmd)
		}
	}
}

func TestCommandString(t *testing.T) {
	for _, tc := range []struct {
		c    Command
		want string
	}{
		{Command{Args: []string{"kubectl", "get", "dso"}}, "kubectl get dso"},
		{Command{Env: []string{"KUBECONFIG=a b"}, Args: []string{"kubectl", "get", "dso"}}, "KUBECONFIG=a b kubectl get dso"},
		{Command{Args: []string{"kubectl", "patch", "-p", `{"a":"it's"}`, ""}}, `kubectl patch -p '{"a":"it'\''s"}' ''`},
		{Command{Env: []string{"KUBECONFIG=h"}, Args: []string{"kubectl", "apply", "-f", "-"}, Stdin: "kind: X\n"},
			"cat <<EOF | KUBECONFIG=h kubectl apply -f -\nkind: X\nEOF"},
	} {
		if got := tc.c.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

func TestWrap(t *testing.T) {
	got := wrap("Here: "+strings.Repeat("word ", 30), 30, "  ")
	for _, l := range got {
		if len(l) > 30 {
			t.Errorf("line longer than 30: %q", l)
		}
	}
	if !strings.HasPrefix(got[1], "  word") {
		t.Errorf("continuation not indented: %q", got)
	}
}

func TestWithPath(t *testing.T) {
	got := withPath([]string{"A=1", "PATH=/usr/bin"}, []string{"/repo/bin", "/k8s"})
	if diff := cmp.Diff([]string{"A=1", "PATH=/repo/bin:/k8s:/usr/bin"}, got); diff != "" {
		t.Error(diff)
	}
}

func TestOutputChecks(t *testing.T) {
	out := "NAME STATE\nk3d-member-1 Ready\nk3d-member-3 NotReady\n"
	if err := lineHas("k3d-member-3", "NotReady")(out); err != nil {
		t.Error(err)
	}
	if err := lineHas("k3d-member-1", "NotReady")(out); err == nil {
		t.Error("lineHas matched across lines")
	}
	if err := and(contains("k3d-member-1"), lacks("k3d-member-2"))(out); err != nil {
		t.Error(err)
	}
	if err := lacks("k3d-member-3")(out); err == nil {
		t.Error("lacks missed k3d-member-3")
	}
}

// A plain printer writes no escape sequences, whatever it prints.
func TestPlainPrinter(t *testing.T) {
	var b bytes.Buffer
	p := &printer{w: &b}
	p.heading(Step{ID: "7b", Title: "member 3 stopped"})
	p.para("Here: ", strings.Repeat("long text ", 20))
	p.command(Command{Args: []string{"kubectl", "apply", "-f", "-"}, Stdin: "a: b\n"})
	p.output("configured")
	p.expect("x", time.Minute)
	p.ok("x", 2*time.Second)
	if strings.ContainsRune(b.String(), '\x1b') {
		t.Errorf("escape sequence in plain output:\n%q", b.String())
	}
	for _, l := range strings.Split(b.String(), "\n") {
		if len([]rune(l)) > width {
			t.Errorf("line over %d columns: %q", width, l)
		}
	}
	if !strings.Contains(b.String(), "== Step 7b of 9: member 3 stopped ===") || !strings.Contains(b.String(), "OK x (after 2s)") {
		t.Errorf("unexpected output:\n%s", b.String())
	}
}

// A PID file naming a process that is not this directory's controller is dropped, and the
// process is left alone.
func TestStopRecordedControllerLeavesOthersAlone(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, ControllerPIDFile)
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pid, err := StopRecordedController(dir)
	if err != nil || pid != 0 {
		t.Fatalf("StopRecordedController = %d, %v; want 0, nil", pid, err)
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("stale PID file kept: %v", err)
	}
	if pid, err := StopRecordedController(dir); pid != 0 || err != nil {
		t.Errorf("without a PID file: %d, %v", pid, err)
	}
}

func TestCheckBinaries(t *testing.T) {
	root, k8s := t.TempDir(), t.TempDir()
	err := CheckBinaries(root, k8s)
	if err == nil {
		t.Fatal("no error without binaries")
	}
	for _, want := range []string{filepath.Join(root, "bin", "fleetscale-controller") + " (run make build)",
		filepath.Join(root, "bin", "kubectl-fleetscale"), filepath.Join(k8s, "kubectl") + " (run make k8s-bins)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
}
