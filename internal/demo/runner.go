package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fleetscale/fleetscale/internal/statusview"
)

// Config configures a Runner.
type Config struct {
	// Root is the repository: bin/ (fleetscale's binaries) and the
	// CRDs in config/crd/bases (the walkthrough's manifests are embedded).
	Root string
	// K8sBin holds kubectl (the control-plane binaries' directory).
	K8sBin string
	// Dir is the environment directory: fleetscale-dev's --dir, holding hub.kubeconfig,
	// member-N.kubeconfig, and the demo's controller.log and controller.pid.
	Dir string
	// StartEnv makes step 1 run `fleetscale-dev up`; otherwise the environment in Dir is
	// already up (the e2e test starts it with internal/clusterenv).
	StartEnv bool
	// Keep leaves the controller running after the run: it gets its own session and Close
	// does not stop it.
	Keep bool
	// Out receives the narration.
	Out io.Writer
	// Terminal redraws the live view in place, with colours; otherwise the view is printed
	// again whenever what it shows changes, without escape sequences.
	Terminal bool
	// Width is the live view's width (statusview.DefaultWidth when 0; at most that).
	Width int
	// TimeoutScale multiplies every wait's timeout (1 when 0), for slow machines.
	TimeoutScale float64
	// Poll is how often a wait looks (1s when 0).
	Poll time.Duration
}

// Runner plays the walkthrough: it runs each step's commands as processes, waits until the
// expected state holds, showing the live per-member view, and runs the step's show commands.
type Runner struct {
	cfg     Config
	dir     string // absolute
	path    []string
	layout  Layout
	steps   []Step
	p       *printer
	ctl     *Controller
	clients *clients
	results []Result
}

// Result is how one step went.
type Result struct {
	Step     Step
	Duration time.Duration
	Err      error
}

// StepError is the failure of a step; its message names the step.
type StepError struct {
	Step Step
	Err  error
}

func (e *StepError) Error() string { return e.Step.Name() + ": " + e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

// New prepares a run; it starts nothing.
func New(cfg Config) (*Runner, error) {
	if cfg.TimeoutScale <= 0 {
		cfg.TimeoutScale = 1
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.Width <= 0 || cfg.Width > statusview.DefaultWidth {
		cfg.Width = statusview.DefaultWidth
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, err
	}
	health, err := freeAddr()
	if err != nil {
		return nil, err
	}
	r := &Runner{cfg: cfg, dir: dir, path: []string{filepath.Join(cfg.Root, "bin"), cfg.K8sBin},
		p: &printer{w: cfg.Out, term: cfg.Terminal}}
	r.layout = Layout{
		Dir:        rel(dir),
		CRDs:       rel(filepath.Join(cfg.Root, "config", "crd", "bases")),
		StartEnv:   cfg.StartEnv,
		HealthAddr: health,
	}
	if r.steps, err = Walkthrough(r.layout); err != nil {
		return nil, err
	}
	return r, nil
}

// CheckBinaries reports which of the programs the walkthrough runs are missing: fleetscale's
// in Root/bin (make build), kubectl in K8sBin (make k8s-bins).
func CheckBinaries(root, k8sBin string) error {
	var missing []string
	for _, b := range []string{"fleetscale-dev", controllerBinary, "kubectl-fleetscale"} {
		if _, err := lookPath(b, []string{filepath.Join(root, "bin")}); err != nil {
			missing = append(missing, filepath.Join(root, "bin", b)+" (run make build)")
		}
	}
	if _, err := lookPath("kubectl", []string{k8sBin}); err != nil {
		missing = append(missing, filepath.Join(k8sBin, "kubectl")+" (run make k8s-bins)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing: %s", strings.Join(missing, ", "))
	}
	return nil
}

// Steps are the walkthrough's steps, in order.
func (r *Runner) Steps() []Step { return r.steps }

// Results are the steps run so far.
func (r *Runner) Results() []Result { return r.results }

// Controller is the controller process, once step 1 started it.
func (r *Runner) Controller() *Controller { return r.ctl }

// Layout says where things are, as the commands name them.
func (r *Runner) Layout() Layout { return r.layout }

// Run plays every step in order and stops at the first that fails.
func (r *Runner) Run(ctx context.Context) error {
	r.p.para("", fmt.Sprintf("fleetscale plays the multi-cluster walkthrough's 9 steps. Each command is shown, then run "+
		"as shown, with fleetscale's bin/ and kubectl first on PATH (as after `source %s`); after each step the demo "+
		"waits until the expected state holds, showing the per-member view.", filepath.Join(r.layout.Dir, "env")))
	for _, s := range r.steps {
		if err := r.RunStep(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// RunStep plays one step: narration, actions, waits, shows.
func (r *Runner) RunStep(ctx context.Context, s Step) (err error) {
	begin := time.Now()
	defer func() {
		if err != nil && !errors.As(err, new(*StepError)) {
			err = &StepError{Step: s, Err: err}
		}
		r.results = append(r.results, Result{Step: s, Duration: time.Since(begin), Err: err})
	}()
	r.p.heading(s)
	r.p.para("Walkthrough: ", s.Walkthrough)
	r.p.para("Here: ", s.Here)
	for _, a := range s.Actions {
		if a.replacesEnv {
			if pid, err := StopRecordedController(r.dir); err != nil {
				return err
			} else if pid != 0 {
				r.p.say(fmt.Sprintf("Stopped the %s a previous run left running (pid %d).", controllerBinary, pid))
			}
		}
		if a.Say != "" {
			r.p.say(a.Say)
		}
		r.p.command(a.Cmd)
		if a.controller {
			if err := r.startController(ctx, a.Cmd); err != nil {
				return err
			}
			continue
		}
		if err := r.runCommand(ctx, a.Cmd); err != nil {
			return err
		}
	}
	for _, w := range s.Waits {
		if err := r.wait(ctx, w); err != nil {
			return err
		}
	}
	for _, c := range s.Shows {
		r.p.command(c)
		if err := r.runCommand(ctx, c); err != nil {
			return err
		}
	}
	r.p.stepDone(s, time.Since(begin))
	return nil
}

func (r *Runner) runCommand(ctx context.Context, c Command) error {
	out, err := run(ctx, c, r.path, r.p.output)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	if c.Check != nil {
		if err := c.Check(out); err != nil {
			return fmt.Errorf("%s: %w", firstLine(c.String()), err)
		}
	}
	return nil
}

func (r *Runner) startController(ctx context.Context, c Command) error {
	if _, err := StopRecordedController(r.dir); err != nil {
		return err
	}
	ctl, err := startController(ctx, c, r.path, r.dir, r.layout.HealthAddr, r.cfg.Keep)
	if err != nil {
		return err
	}
	r.ctl = ctl
	r.p.output(fmt.Sprintf("controller Ready: pid %d (in %s), log %s", ctl.PID,
		filepath.Join(r.layout.Dir, ControllerPIDFile), filepath.Join(r.layout.Dir, ControllerLogFile)))
	return nil
}

func (r *Runner) client() (*clients, error) {
	if r.clients != nil {
		return r.clients, nil
	}
	var members []string
	for i := 1; i <= Members; i++ {
		members = append(members, filepath.Join(r.dir, MemberKubeconfig(i)))
	}
	c, err := newClients(filepath.Join(r.dir, HubKubeconfig), members)
	if err != nil {
		return nil, err
	}
	r.clients = c
	return c, nil
}

// wait polls until w's state holds, showing the live view, or fails after its timeout.
func (r *Runner) wait(ctx context.Context, w Wait) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	timeout := time.Duration(float64(w.Timeout) * r.cfg.TimeoutScale)
	r.p.expect(w.Expect, timeout)
	begin := time.Now()
	var lastKey, lastMsg string
	for {
		if r.ctl != nil {
			if exited, err := r.ctl.Exited(); exited {
				r.p.commitLive()
				return fmt.Errorf("%s exited (%v); end of %s:\n%s", controllerBinary, err, r.ctl.LogPath, r.ctl.LogTail(20))
			}
		}
		elapsed := time.Since(begin)
		o := newObservation(ctx, c, Namespace, elapsed)
		checkErr := w.Check(o)
		if ctx.Err() != nil {
			r.p.commitLive()
			return ctx.Err()
		}
		text, key := r.view(o, w.View)
		if r.cfg.Terminal {
			status := ""
			if checkErr != nil {
				// One line: the redraw counts lines, so it must not wrap.
				status = cutText(fmt.Sprintf("  waiting %s of %s: %s", elapsed.Round(time.Second), timeout,
					strings.Join(strings.Fields(checkErr.Error()), " ")), r.cfg.Width-1) + "\n"
			}
			r.p.live(text + status)
		} else {
			if key != lastKey && text != "" {
				r.p.raw(fmt.Sprintf("[+%s]\n%s", elapsed.Round(time.Second), text))
				lastKey = key
			}
			if checkErr != nil && checkErr.Error() != lastMsg && !errors.As(checkErr, new(fatalError)) {
				r.p.say(fmt.Sprintf("  [+%s] waiting: %s", elapsed.Round(time.Second), checkErr))
				lastMsg = checkErr.Error()
			}
		}
		if checkErr == nil {
			if r.cfg.Terminal {
				r.p.live(text)
			}
			r.p.commitLive()
			r.p.ok(w.Expect, time.Since(begin))
			return nil
		}
		if errors.As(checkErr, new(fatalError)) {
			r.p.commitLive()
			return fmt.Errorf("expected %q, but %w", w.Expect, checkErr)
		}
		if elapsed > timeout {
			r.p.commitLive()
			return fmt.Errorf("expected state not reached within %s: %s\n  last check: %v", timeout, w.Expect, checkErr)
		}
		select {
		case <-ctx.Done():
			r.p.commitLive()
			return ctx.Err()
		case <-time.After(r.cfg.Poll):
		}
	}
}

// view renders the live view of the wait and its key (what it shows, without free text).
func (r *Runner) view(o *Observation, k ViewKind) (string, string) {
	opts := statusview.Options{Width: r.cfg.Width, Color: r.cfg.Terminal, Unicode: r.cfg.Terminal}
	var v statusview.View
	switch k {
	case ViewDSO:
		d, err := o.DSO()
		if err != nil {
			return "(" + err.Error() + ")\n", "error"
		}
		v = statusview.FromDSO(d)
	case ViewDSJ:
		d, err := o.DSJ()
		if err != nil {
			return "(" + err.Error() + ")\n", "error"
		}
		v = statusview.FromDSJ(d)
	default:
		return "", ""
	}
	return statusview.Render(v, opts), v.Key()
}

// Close stops the controller, unless Keep.
func (r *Runner) Close() error {
	if r.ctl == nil || r.cfg.Keep {
		return nil
	}
	return r.ctl.Stop()
}

// Teardown stops the controller and, when the run started the environment, every cluster
// (fleetscale-dev down). It runs even after ctx was cancelled (^C): it uses its own.
func (r *Runner) Teardown() error {
	var errs []error
	if r.ctl != nil {
		r.p.say(fmt.Sprintf("Stopping %s (pid %d) ...", controllerBinary, r.ctl.PID))
		errs = append(errs, r.ctl.Stop())
	} else if pid, err := StopRecordedController(r.dir); err != nil {
		errs = append(errs, err)
	} else if pid != 0 {
		r.p.say(fmt.Sprintf("Stopped %s (pid %d).", controllerBinary, pid))
	}
	if r.cfg.StartEnv {
		c := Command{Args: []string{"fleetscale-dev", "down", "--dir", r.layout.Dir}, Timeout: 2 * time.Minute}
		r.p.command(c)
		_, err := run(context.Background(), c, r.path, r.p.output)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// PrintSummary prints each step's outcome and duration.
func (r *Runner) PrintSummary(total time.Duration) {
	r.p.blank()
	r.p.say("Summary:")
	for _, res := range r.results {
		mark := "ok    "
		switch {
		case errors.Is(res.Err, context.Canceled):
			mark = "ended "
		case res.Err != nil:
			mark = "FAILED"
		}
		r.p.say(fmt.Sprintf("  %-3s %-42s %s %6s", res.Step.ID, cutText(res.Step.Title, 42), mark, res.Duration.Round(time.Second)))
	}
	if n := len(r.steps) - len(r.results); n > 0 {
		r.p.say(fmt.Sprintf("  (%d more not run)", n))
	}
	r.p.say(fmt.Sprintf("  total %s", total.Round(time.Second)))
}

// PrintHandoff prints, after a --keep run, the walkthrough's commands adapted to this
// environment, and how to stop it.
func (r *Runner) PrintHandoff() {
	l := r.layout
	hub := "KUBECONFIG=" + l.hub()
	ctl := "the controller"
	if r.ctl != nil {
		ctl = fmt.Sprintf("the controller (pid %d, log %s)", r.ctl.PID, filepath.Join(l.Dir, ControllerLogFile))
	}
	lines := []string{
		"",
		fmt.Sprintf("Everything is still running: the hub, members 1 and 2 (member 3 is stopped), and %s.", ctl),
		"The walkthrough's commands, for this environment:",
		"",
		"  source " + filepath.Join(l.Dir, "env") + "    # kubectl and kubectl-fleetscale on PATH",
		"  " + hub + " kubectl get dso,dsj",
		"  " + hub + " kubectl describe distributedscaledobject " + DSOName,
		"  kubectl fleetscale status dso " + DSOName + " -w --keda-kubeconfig " + l.hub(),
		"  kubectl fleetscale status dsj " + DSJName + " -w --keda-kubeconfig " + l.hub(),
		"  " + hub + " kubectl fleetscale mc list-members",
		"  for i in 1 2; do KUBECONFIG=" + filepath.Join(l.Dir, "member-$i.kubeconfig") + " kubectl get deployment nginx; done",
		"  for i in 1 2; do KUBECONFIG=" + filepath.Join(l.Dir, "member-$i.kubeconfig") + " kubectl get jobs; done",
		"  " + hub + " kubectl patch configmap mock-metric --type merge -p '{\"data\":{\"metric-value\":\"50\"}}'",
		"  KUBECONFIG=" + l.member(2) + " kubectl delete deployment nginx",
		"  KUBECONFIG=" + l.member(2) + " kubectl create deployment nginx --image=nginx",
		"  fleetscale-dev start member-3 --dir " + l.Dir + "    # back from the outage, then register it again:",
		"  kubectl fleetscale mc setup-member k3d-member-3 --keda-kubeconfig " + l.hub() + " --member-kubeconfig " + l.member(3),
		"",
		"Stop everything (controller and clusters):",
		"  fleetscale-demo stop --dir " + l.Dir,
		"or, from the repository, make dev-down (it stops the controller too).",
	}
	for _, line := range lines {
		r.p.say(line)
	}
}

// rel shortens path to be relative to the working directory when it is below it.
func rel(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if r, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

func cutText(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-3]) + "..."
}
