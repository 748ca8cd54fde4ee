package demo

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

// Names of the walkthrough.
const (
	// Namespace is where the walkthrough's objects live, in the hub and in the members.
	Namespace = "default"
	DSOName   = "nginx"
	DSJName   = "dsj-example"
	NginxName = "nginx"
	// Members is the number of member clusters.
	Members = 3
	// HubKubeconfig is the hub's kubeconfig in the environment directory.
	HubKubeconfig = "hub.kubeconfig"
)

// The two shortcuts the demo takes, both narrated where they apply.
const (
	// GracePeriod replaces the DSO's default grace period (1m), so the outage steps take
	// seconds: a patch right after the walkthrough's manifest.
	GracePeriod = 10 * time.Second
	// JobPodDuration is how long a Job's pod runs before it succeeds (kwok runs no containers).
	JobPodDuration = 10 * time.Second
)

// MemberName is the registered name of member i, as in the walkthrough.
func MemberName(i int) string { return fmt.Sprintf("k3d-member-%d", i) }

// ClusterName is fleetscale-dev's name for member i.
func ClusterName(i int) string { return fmt.Sprintf("member-%d", i) }

// MemberKubeconfig is member i's kubeconfig in the environment directory.
func MemberKubeconfig(i int) string { return ClusterName(i) + ".kubeconfig" }

// Step is one step of the walkthrough: what it says, what we run, what must then be true.
type Step struct {
	// ID is the walkthrough's step number ("5", "7b").
	ID    string
	Title string
	// Walkthrough says what the reference walkthrough does here.
	Walkthrough string
	// Here says how fleetscale does it, and any difference.
	Here    string
	Actions []Action
	// Waits are the expected states, in order; each must hold within its timeout.
	Waits []Wait
	// Shows are commands run after the waits, to show the result as the walkthrough does.
	Shows []Command
}

// Name is how messages refer to the step.
func (s Step) Name() string { return fmt.Sprintf("step %s (%s)", s.ID, s.Title) }

// Action is a command of the step, with a sentence before it.
type Action struct {
	Say string
	Cmd Command
	// controller marks the fleetscale-controller command: it runs in the background.
	controller bool
	// replacesEnv marks fleetscale-dev up, which deletes the directory of a previous run: the
	// controller that run may have left (--keep) is stopped first.
	replacesEnv bool
}

// ViewKind chooses the live view shown while waiting.
type ViewKind int

// The live views.
const (
	ViewNone ViewKind = iota
	ViewDSO
	ViewDSJ
)

// Wait is an expected state.
type Wait struct {
	// Expect says in words what must become true.
	Expect  string
	Timeout time.Duration
	View    ViewKind
	// Check returns nil when the state holds, else what is still missing. A fatalError
	// ends the wait at once.
	Check func(*Observation) error
}

// fatalError ends a wait before its timeout: waiting longer cannot help.
type fatalError struct{ error }

func (e fatalError) Unwrap() error { return e.error }

func fatal(format string, args ...any) error { return fatalError{fmt.Errorf(format, args...)} }

// noStatusAfter is how long an object may have no status before the wait gives up on the
// controller.
const noStatusAfter = 45 * time.Second

// Layout is where things are, as the commands name them (relative to the working directory
// when below it, so they can be typed as shown).
type Layout struct {
	// Dir is the environment directory (fleetscale-dev --dir).
	Dir string
	// CRDs is the directory of fleetscale's CRDs.
	CRDs string
	// StartEnv: step 1 runs `fleetscale-dev up`; otherwise the environment is already up.
	StartEnv bool
	// HealthAddr is the controller's health endpoint (host:port).
	HealthAddr string
}

func (l Layout) hub() string         { return filepath.Join(l.Dir, HubKubeconfig) }
func (l Layout) member(i int) string { return filepath.Join(l.Dir, MemberKubeconfig(i)) }

func (l Layout) hubEnv() []string         { return []string{"KUBECONFIG=" + l.hub()} }
func (l Layout) memberEnv(i int) []string { return []string{"KUBECONFIG=" + l.member(i)} }

// manifest reads a walkthrough manifest, dropping its leading comment.
func (l Layout) manifest(name string) (string, error) {
	data, err := Manifest(name)
	if err != nil {
		return "", err
	}
	var lines []string
	for _, line := range strings.Split(string(data), "\n") {
		if len(lines) == 0 && strings.HasPrefix(line, "#") {
			continue
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n"), nil
}

// ControllerCommand is how the demo runs the controller: probes every 2s and a 5s sync
// period (rebalancing steps), instead of 5s and 15s, so the demo moves quickly.
func (l Layout) ControllerCommand() Command {
	return Command{Args: []string{controllerBinary,
		"--kubeconfig", l.hub(),
		"--metrics-bind-address", "0",
		"--health-probe-bind-address", l.HealthAddr,
		"--member-probe-interval", "2s", "--member-probe-timeout", "2s",
		"--hpa-sync-period", "5s",
	}}
}

// Walkthrough builds the steps of the walkthrough, in order.
func Walkthrough(l Layout) ([]Step, error) {
	w, err := newWalkthrough(l)
	if err != nil {
		return nil, err
	}
	return []Step{
		w.hubAndController(),
		w.membersAnswer(),
		w.nginxInEachMember(),
		w.registerMembers(),
		w.dso(),
		w.metric50(),
		w.nginxDeleted(),
		w.nginxRecreated(),
		w.memberStopped(),
		w.memberUnregistered(),
		w.whitelistAndWeights(),
		w.dsj(),
	}, nil
}

// walkthrough holds what the steps share: the layout and the walkthrough's manifests.
type walkthrough struct {
	l              Layout
	m5, m6, m8, m9 string
}

func newWalkthrough(l Layout) (*walkthrough, error) {
	w := &walkthrough{l: l}
	for _, m := range []struct {
		dst  *string
		name string
	}{
		{&w.m5, "walkthrough-step5.yaml"},
		{&w.m6, "walkthrough-step6-configmap.yaml"},
		{&w.m8, "walkthrough-step8.yaml"},
		{&w.m9, "walkthrough-step9.yaml"},
	} {
		var err error
		if *m.dst, err = l.manifest(m.name); err != nil {
			return nil, err
		}
	}
	return w, nil
}

func (w *walkthrough) hubKubectl(args ...string) Command {
	return Command{Env: w.l.hubEnv(), Args: append([]string{"kubectl"}, args...)}
}

func (w *walkthrough) memberKubectl(i int, args ...string) Command {
	return Command{Env: w.l.memberEnv(i), Args: append([]string{"kubectl"}, args...)}
}

// apply is kubectl apply of a manifest in the hub.
func (w *walkthrough) apply(manifest string) Command {
	c := w.hubKubectl("apply", "-f", "-")
	c.Stdin = manifest
	return c
}

// getDSOWant is kubectl get dso, checked for want.
func (w *walkthrough) getDSOWant(want ...string) Command {
	return withCheck(w.hubKubectl("get", "dso"), contains(want...))
}

func (w *walkthrough) getDeployments(members ...int) []Command {
	var cs []Command
	for _, i := range members {
		cs = append(cs, w.memberKubectl(i, "get", "deployment", NginxName))
	}
	return cs
}

func (w *walkthrough) listMembers() Command {
	return Command{Env: w.l.hubEnv(), Args: []string{"kubectl", "fleetscale", "mc", "list-members"}}
}

// hubAndController is step 1: the hub and the controller.
func (w *walkthrough) hubAndController() Step {
	s := Step{ID: "1", Title: "hub cluster and controller",
		Walkthrough: "Create the KEDA cluster (k3d cluster create keda-cluster) and install Kedify in it.",
		Here: "The test environment already runs a hub and three members (internal/clusterenv). fleetscale's controller " +
			"runs as a process on this machine against the hub.",
	}
	if w.l.StartEnv {
		s.Here = fmt.Sprintf("No Docker, no k3d: fleetscale-dev up starts a hub and three member control planes on this machine "+
			"(kube-apiserver, controller-manager, scheduler and kwok each, so pods are scheduled and Running; kwok runs no "+
			"containers, and a Job's pod succeeds after %s) and installs fleetscale's CRDs in the hub. The controller then runs "+
			"as a local process against the hub, logging to %s.", JobPodDuration, filepath.Join(w.l.Dir, ControllerLogFile))
		s.Actions = append(s.Actions, Action{Say: "Start the hub and the members:", Cmd: Command{
			Args:    []string{"fleetscale-dev", "up", "--dir", w.l.Dir, "--crds", w.l.CRDs, "--job-pod-duration", JobPodDuration.String()},
			Timeout: 5 * time.Minute,
		}, replacesEnv: true})
	}
	s.Actions = append(s.Actions, Action{
		Say: "Start the controller in the background (probes every 2s and a 5s sync period, to keep the demo short):",
		Cmd: w.l.ControllerCommand(), controller: true,
	})
	s.Waits = []Wait{{Expect: "fleetscale's CRDs served by the hub, controller Ready", Timeout: 30 * time.Second,
		Check: func(o *Observation) error {
			_, err := o.MemberClusters()
			return err
		}}}
	s.Shows = []Command{withCheck(w.hubKubectl("get", "crds"), contains(
		"distributedscaledobjects.keda.kedify.io", "distributedscaledjobs.keda.kedify.io", "memberclusters.keda.kedify.io"))}
	return s
}

// membersAnswer is step 2: the members answer.
func (w *walkthrough) membersAnswer() Step {
	s := Step{ID: "2", Title: "three member clusters",
		Walkthrough: "Create three member clusters for the sample workload (k3d cluster create k3d-member-1, -2, -3).",
		Here:        "The three members started in step 1; each answers kubectl through its kubeconfig in " + w.l.Dir + ".",
	}
	for i := 1; i <= Members; i++ {
		s.Actions = append(s.Actions, Action{Cmd: withCheck(w.memberKubectl(i, "get", "nodes"), contains("Ready"))})
	}
	return s
}

// nginxInEachMember is step 3: nginx in each member.
func (w *walkthrough) nginxInEachMember() Step {
	s := Step{ID: "3", Title: "nginx in each member",
		Walkthrough: "Deploy nginx to each member cluster; each deployment starts with a single replica.",
		Here:        "The same commands, with each member's kubeconfig.",
	}
	for i := 1; i <= Members; i++ {
		s.Actions = append(s.Actions, Action{Cmd: w.memberKubectl(i, "create", "deployment", NginxName, "--image=nginx")})
	}
	s.Waits = []Wait{{Expect: "nginx has 1 replica, Ready, in each member", Timeout: 90 * time.Second,
		Check: func(o *Observation) error {
			for i := 1; i <= Members; i++ {
				d, err := o.Deployment(i)
				if err != nil {
					return err
				}
				if d == nil {
					return fmt.Errorf("no deployment %s in member %d", NginxName, i)
				}
				if d.Status.ReadyReplicas != 1 {
					return fmt.Errorf("member %d: %d of 1 nginx pods ready", i, d.Status.ReadyReplicas)
				}
			}
			return nil
		}}}
	for i := 1; i <= Members; i++ {
		s.Shows = append(s.Shows, w.memberKubectl(i, "get", "deployments"))
	}
	return s
}

// registerMembers is step 4: registration.
func (w *walkthrough) registerMembers() Step {
	s := Step{ID: "4", Title: "register the members",
		Walkthrough: "Register each member with the KEDA cluster (kubectl kedify mc setup-member k3d-member-N ...), " +
			"then list them (mc list-members).",
		Here: "fleetscale's plugin is kubectl fleetscale (bin/kubectl-fleetscale). No --member-api-url: the hub reaches " +
			"each member at the URL of its kubeconfig.",
	}
	for i := 1; i <= Members; i++ {
		s.Actions = append(s.Actions, Action{Cmd: Command{Args: []string{"kubectl", "fleetscale", "mc", "setup-member", MemberName(i),
			"--keda-kubeconfig", w.l.hub(), "--member-kubeconfig", w.l.member(i)}}})
	}
	s.Waits = []Wait{{Expect: "3 members registered and Ready", Timeout: 90 * time.Second,
		Check: func(o *Observation) error { return membersReady(o, 1, 2, 3) }}}
	s.Shows = []Command{withCheck(w.listMembers(), contains(MemberName(1), MemberName(2), MemberName(3)))}
	return s
}

// dso is step 5: the DSO, and the demo's shorter grace period.
func (w *walkthrough) dso() Step {
	patch := fmt.Sprintf(`{"spec":{"rebalancingPolicy":{"gracePeriod":"%s"}}}`, GracePeriod)
	return Step{ID: "5", Title: "DistributedScaledObject, metric 20",
		Walkthrough: "In the KEDA cluster, create a ConfigMap holding a mock metric (metric-value 20) and a " +
			"DistributedScaledObject scaling nginx across the members from it (kubernetes-resource trigger, targetValue 5, " +
			"min 1, max 10).",
		Here: fmt.Sprintf("The walkthrough's manifest, applied unchanged. Then one addition that is NOT in the walkthrough: "+
			"spec.rebalancingPolicy.gracePeriod goes from its default 1m to %s, so that the outage steps below take seconds "+
			"instead of minutes.", GracePeriod),
		Actions: []Action{
			{Cmd: w.apply(w.m5)},
			{Say: fmt.Sprintf("Shorten the grace period to %s (demo only):", GracePeriod),
				Cmd: w.hubKubectl("patch", "dso", DSOName, "--type", "merge", "-p", patch)},
		},
		Waits: []Wait{{Expect: "20 / 5 = total 4 over three members: 2/1/1", Timeout: 90 * time.Second, View: ViewDSO,
			Check: func(o *Observation) error {
				d, err := dsoWithStatus(o)
				if err != nil {
					return err
				}
				if err := printed(d, "4/4", "3/3"); err != nil {
					return err
				}
				return replicasAre(o, []int{1, 2, 3}, 1, 1, 2)
			}}},
		Shows: []Command{w.getDSOWant("4/4", "3/3")},
	}
}

// metric50 is step 6: check the split, describe, then metric 50.
func (w *walkthrough) metric50() Step {
	s := Step{ID: "6", Title: "check scaling, metric 50",
		Walkthrough: "Check the replicas in each member and describe the DistributedScaledObject; then set the metric " +
			"to 50: the deployments scale up.",
		Here: "The same commands. The total goes 4 -> 8 -> 10 rather than straight to 10: as with KEDA's HPA, one " +
			"evaluation at most doubles the replicas (max(2 x current, 4)); the DSO's Scaled events show both steps.",
	}
	for _, c := range w.getDeployments(1, 2, 3) {
		s.Actions = append(s.Actions, Action{Cmd: c})
	}
	s.Actions = append(s.Actions,
		Action{Say: "describe shows each member's desired and current replicas and state:",
			Cmd: withCheck(w.hubKubectl("describe", "distributedscaledobject", DSOName), contains(MemberName(1), "Desired Replicas"))},
		Action{Say: "Raise the metric to 50:", Cmd: w.apply(w.m6)})
	s.Waits = []Wait{{Expect: "50 / 5 = total 10, split 4/3/3", Timeout: 90 * time.Second, View: ViewDSO,
		Check: func(o *Observation) error {
			d, err := dsoWithStatus(o)
			if err != nil {
				return err
			}
			if err := printed(d, "10/10", "3/3"); err != nil {
				return err
			}
			return replicasAre(o, []int{1, 2, 3}, 3, 3, 4)
		}},
		{Expect: "the DSO's Scaled events show both steps: 4 -> 8, then 8 -> 10", Timeout: 30 * time.Second,
			Check: func(o *Observation) error {
				notes, err := o.EventNotes("Scaled")
				if err != nil {
					return err
				}
				for _, want := range []string{"Total 8: 4 → 8", "Total 10: 8 → 10"} {
					if !slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, want) }) {
						return fmt.Errorf("no Scaled event %q yet", want)
					}
				}
				return nil
			}},
	}
	s.Shows = append(w.getDeployments(1, 2, 3),
		withCheck(w.hubKubectl("get", "events", "--field-selector", "reason=Scaled"), contains("Total 8: 4 → 8", "Total 10: 8 → 10")))
	return s
}

// nginxDeleted is the first half of step 7a: nginx deleted in member 2.
func (w *walkthrough) nginxDeleted() Step {
	return Step{ID: "7a", Title: "nginx deleted in member 2",
		Walkthrough: "Simulate an outage: delete nginx from one member. KEDA waits for a grace period (default 1 minute) " +
			"before rebalancing across the remaining members.",
		Here:    fmt.Sprintf("The grace period is %s here (step 5).", GracePeriod),
		Actions: []Action{{Cmd: w.memberKubectl(2, "delete", "deployment", NginxName)}},
		Waits: []Wait{
			{Expect: fmt.Sprintf("member 2 Unhealthy (nginx not found); it keeps its share for the %s grace period", GracePeriod),
				Timeout: 60 * time.Second, View: ViewDSO,
				Check: func(o *Observation) error {
					return memberStateIn(o, MemberName(2), "Unhealthy", "Excluded")
				}},
			{Expect: "after the grace period member 2 is excluded and members 1 and 3 hold all 10", Timeout: 90 * time.Second, View: ViewDSO,
				Check: func(o *Observation) error {
					d, err := dsoWithStatus(o)
					if err != nil {
						return err
					}
					m2 := d.Status.MemberClusterStatuses[MemberName(2)]
					if !m2.Excluded {
						return fmt.Errorf("member 2 not excluded yet (state %s)", m2.State)
					}
					if !strings.Contains(m2.Description, "not found") {
						return fmt.Errorf("member 2's description %q does not say nginx is not found", m2.Description)
					}
					if err := printed(d, "", "2/3"); err != nil {
						return err
					}
					return replicaSum(o, []int{1, 3}, 10)
				}},
		},
		Shows: []Command{w.getDSOWant("2/3")},
	}
}

// nginxRecreated is the second half of step 7a: nginx recreated in member 2.
func (w *walkthrough) nginxRecreated() Step {
	return Step{ID: "7a", Title: "nginx recreated in member 2",
		Walkthrough: "Restore the member by redeploying nginx.",
		Here: fmt.Sprintf("Member 2 is Recovering until it has been healthy for the grace period (%s), then gets its share "+
			"back step by step.", GracePeriod),
		Actions: []Action{{Cmd: w.memberKubectl(2, "create", "deployment", NginxName, "--image=nginx")}},
		Waits: []Wait{{Expect: "member 2 Ready again, total 10 split 4/3/3", Timeout: 120 * time.Second, View: ViewDSO,
			Check: func(o *Observation) error {
				d, err := dsoWithStatus(o)
				if err != nil {
					return err
				}
				if s := d.Status.MemberClusterStatuses[MemberName(2)].State; s != "Ready" {
					return fmt.Errorf("member 2 is %s", s)
				}
				if err := printed(d, "10/10", "3/3"); err != nil {
					return err
				}
				return replicasAre(o, []int{1, 2, 3}, 3, 3, 4)
			}}},
		Shows: []Command{w.getDSOWant("10/10", "3/3")},
	}
}

// memberStopped is step 7b: member 3 stopped.
func (w *walkthrough) memberStopped() Step {
	return Step{ID: "7b", Title: "member 3 stopped",
		Walkthrough: "A bigger outage: delete a whole member cluster (k3d cluster delete k3d-member-3). KEDA waits for the " +
			"grace period again, then rebalances across the remaining members.",
		Here: "No k3d here: fleetscale-dev stop member-3 stops all of member 3's processes (apiserver, controller-manager, " +
			"scheduler, kwok); the hub can no longer reach it.",
		Actions: []Action{{Cmd: Command{Args: []string{"fleetscale-dev", "stop", ClusterName(3), "--dir", w.l.Dir}, Timeout: time.Minute}}},
		Waits: []Wait{
			{Expect: fmt.Sprintf("member 3 unreachable: Unhealthy, it keeps its share for the %s grace period", GracePeriod),
				Timeout: 60 * time.Second, View: ViewDSO,
				Check: func(o *Observation) error {
					return memberStateIn(o, MemberName(3), "Unhealthy", "Excluded")
				}},
			{Expect: "then members 1 and 2 hold all 10: kubectl get dso shows 10/10 and 2/3", Timeout: 120 * time.Second, View: ViewDSO,
				Check: func(o *Observation) error {
					d, err := dsoWithStatus(o)
					if err != nil {
						return err
					}
					if m3 := d.Status.MemberClusterStatuses[MemberName(3)]; !m3.Excluded {
						return fmt.Errorf("member 3 not excluded yet (state %s)", m3.State)
					}
					mcs, err := o.MemberClusters()
					if err != nil {
						return err
					}
					for _, mc := range mcs {
						if mc.Name == MemberName(3) && mc.Status.State != v1alpha1.MemberStateNotReady {
							return fmt.Errorf("MemberCluster k3d-member-3 is %q, want NotReady", mc.Status.State)
						}
					}
					if err := printed(d, "10/10", "2/3"); err != nil {
						return err
					}
					return replicaSum(o, []int{1, 2}, 10)
				}},
		},
		Shows: []Command{w.getDSOWant("10/10", "2/3"), withCheck(w.listMembers(), lineHas(MemberName(3), "NotReady"))},
	}
}

// memberUnregistered is step 7c: member 3 unregistered.
func (w *walkthrough) memberUnregistered() Step {
	return Step{ID: "7c", Title: "member 3 unregistered",
		Walkthrough: "If the member stays down, unregister it (kubectl kedify mc delete-member k3d-member-3).",
		Here:        "The same with kubectl fleetscale. Without a terminal on stdin it asks no confirmation, like kubectl delete.",
		Actions: []Action{{Cmd: Command{Env: w.l.hubEnv(), Args: []string{"kubectl", "fleetscale", "mc", "delete-member", MemberName(3)},
			Check: contains(MemberName(3))}}},
		Waits: []Wait{{Expect: "k3d-member-3 gone from the registrations and from the DSO's status: members 2/2, 10 replicas",
			Timeout: 60 * time.Second, View: ViewDSO,
			Check: func(o *Observation) error {
				mcs, err := o.MemberClusters()
				if err != nil {
					return err
				}
				for _, mc := range mcs {
					if mc.Name == MemberName(3) {
						return errors.New("k3d-member-3 still registered")
					}
				}
				d, err := dsoWithStatus(o)
				if err != nil {
					return err
				}
				if _, ok := d.Status.MemberClusterStatuses[MemberName(3)]; ok {
					return errors.New("k3d-member-3 still in the DSO's status")
				}
				if err := printed(d, "10/10", "2/2"); err != nil {
					return err
				}
				return replicaSum(o, []int{1, 2}, 10)
			}}},
		Shows: []Command{
			withCheck(w.listMembers(), and(contains(MemberName(1), MemberName(2)), lacks(MemberName(3)))),
			withCheck(Command{Args: []string{"kubectl", "fleetscale", "status", "dso", DSOName, "--keda-kubeconfig", w.l.hub()}},
				and(contains(MemberName(1), MemberName(2), "replicas 10/10"), lacks(MemberName(3)))),
		},
	}
}

// whitelistAndWeights is step 8: whitelist and weights.
func (w *walkthrough) whitelistAndWeights() Step {
	return Step{ID: "8", Title: "whitelist members 1, 2 with weights 3:1",
		Walkthrough: "Whitelist the members eligible for scaling and weigh them: k3d-member-1 weight 3, k3d-member-2 weight 1.",
		Here: "The walkthrough's manifest, unchanged. kubectl apply keeps the grace period patched in step 5: it removes " +
			"only fields it set itself.",
		Actions: []Action{{Cmd: w.apply(w.m8)}},
		Waits: []Wait{{Expect: "members 1 and 2 split 10 about 3:1 (8/2 or 7/3)", Timeout: 120 * time.Second, View: ViewDSO,
			Check: func(o *Observation) error {
				d, err := dsoWithStatus(o)
				if err != nil {
					return err
				}
				if keys := sortedKeys(d.Status.MemberClusterStatuses); !slices.Equal(keys, []string{MemberName(1), MemberName(2)}) {
					return fmt.Errorf("the DSO's members are %v, want k3d-member-1 and k3d-member-2", keys)
				}
				if err := replicaSum(o, []int{1, 2}, 10); err != nil {
					return err
				}
				r1, _ := o.Replicas(1)
				if r1 < 7 || r1 > 8 {
					return fmt.Errorf("member 1 has %d of 10, want 7 or 8", r1)
				}
				return nil
			}}},
		Shows: append(w.getDeployments(1, 2), w.getDSOWant("10/10", "2/2")),
	}
}

// dsj is step 9: the DSJ.
func (w *walkthrough) dsj() Step {
	seen := map[int]map[string]bool{1: {}, 2: {}}
	return Step{ID: "9", Title: "DistributedScaledJob over members 1, 2",
		Walkthrough: "Scale Jobs with a DistributedScaledJob over k3d-member-1 and k3d-member-2 (metric 20, target 5, gradual " +
			"rollout, 2 completed Jobs kept), then list the Jobs in each member.",
		Here: fmt.Sprintf("The walkthrough's manifest, unchanged. kwok runs no containers: each Job's pod succeeds after %s "+
			"instead of busybox's sleep 33. The ConfigMap goes back to 20, so the DSO of step 8 will scale down to 4 too, "+
			"once the HPA's 5-minute scale-down stabilization window has passed.",
			JobPodDuration),
		Actions: []Action{{Cmd: w.apply(w.m9)}},
		Waits: []Wait{
			{Expect: "20 / 5 = 4 Jobs, created in members 1 and 2 only", Timeout: 120 * time.Second, View: ViewDSJ,
				Check: func(o *Observation) error {
					d, err := o.DSJ()
					if err != nil {
						return err
					}
					if len(d.Status.Conditions) == 0 && len(d.Status.MemberClusterStatuses) == 0 {
						if o.Elapsed() > noStatusAfter {
							return fatal("the DistributedScaledJob has no status after %s: does this fleetscale-controller "+
								"reconcile DistributedScaledJobs? (see %s)", noStatusAfter, filepath.Join(w.l.Dir, ControllerLogFile))
						}
						return errors.New("no status yet")
					}
					for name := range d.Status.MemberClusterStatuses {
						if name != MemberName(1) && name != MemberName(2) {
							return fatal("the DSJ's status lists %s, which its whitelist leaves out", name)
						}
					}
					if d.Status.DesiredJobs != 4 {
						return fmt.Errorf("desired Jobs %d, want 4", d.Status.DesiredJobs)
					}
					for _, i := range []int{1, 2} {
						jobs, err := o.Jobs(i)
						if err != nil {
							return err
						}
						if len(jobs) == 0 {
							return fmt.Errorf("no Jobs in member %d yet", i)
						}
					}
					return nil
				}},
			{Expect: "as Jobs complete new ones start; completed Jobs beyond the history limit (2) are removed",
				Timeout: 180 * time.Second, View: ViewDSJ,
				Check: func(o *Observation) error {
					var state []string
					trimmed, over := false, false
					for _, i := range []int{1, 2} {
						jobs, err := o.Jobs(i)
						if err != nil {
							return err
						}
						done := 0
						for _, j := range jobs {
							if jobSucceeded(j) {
								done++
								seen[i][j.Name] = true
							}
						}
						over = over || done > 2
						trimmed = trimmed || len(seen[i]) > 2
						state = append(state, fmt.Sprintf("member %d: %d completed Jobs kept, %d seen", i, done, len(seen[i])))
					}
					if trimmed && !over {
						return nil
					}
					return errors.New(strings.Join(state, "; "))
				}},
		},
		Shows: []Command{
			w.memberKubectl(1, "get", "jobs"), w.memberKubectl(2, "get", "jobs"),
			withCheck(Command{Args: []string{"kubectl", "fleetscale", "status", "dsj", DSJName, "--keda-kubeconfig", w.l.hub()}},
				and(contains(MemberName(1), MemberName(2)), lacks(MemberName(3)))),
		},
	}
}

func withCheck(c Command, check func(string) error) Command {
	c.Check = check
	return c
}

func contains(want ...string) func(string) error {
	return func(out string) error {
		for _, w := range want {
			if !strings.Contains(out, w) {
				return fmt.Errorf("output lacks %q", w)
			}
		}
		return nil
	}
}

func lacks(unwanted ...string) func(string) error {
	return func(out string) error {
		for _, u := range unwanted {
			if strings.Contains(out, u) {
				return fmt.Errorf("output still has %q", u)
			}
		}
		return nil
	}
}

// lineHas checks that a line of the output has all of want.
func lineHas(want ...string) func(string) error {
	return func(out string) error {
		for _, line := range strings.Split(out, "\n") {
			if contains(want...)(line) == nil {
				return nil
			}
		}
		return fmt.Errorf("no line of the output has all of %q", want)
	}
}

func and(checks ...func(string) error) func(string) error {
	return func(out string) error {
		for _, c := range checks {
			if err := c(out); err != nil {
				return err
			}
		}
		return nil
	}
}

// dsoWithStatus returns the DSO once the controller has written its status.
func dsoWithStatus(o *Observation) (*v1alpha1.DistributedScaledObject, error) {
	d, err := o.DSO()
	if err != nil {
		return nil, err
	}
	if len(d.Status.Conditions) == 0 && len(d.Status.MemberClusterStatuses) == 0 {
		if o.Elapsed() > noStatusAfter {
			return nil, fatal("the DistributedScaledObject has no status after %s: is fleetscale-controller running?", noStatusAfter)
		}
		return nil, errors.New("no status yet")
	}
	return d, nil
}

// printed checks the DSO's kubectl columns TotalReplicas and Members ("" skips one).
func printed(d *v1alpha1.DistributedScaledObject, total, members string) error {
	if total != "" && d.Status.Print.TotalReplicas != total {
		return fmt.Errorf("print column TotalReplicas %q, want %q", d.Status.Print.TotalReplicas, total)
	}
	if members != "" && d.Status.Print.MembersCount != members {
		return fmt.Errorf("print column Members %q, want %q", d.Status.Print.MembersCount, members)
	}
	return nil
}

// replicasAre checks nginx's replicas in the members against want, in any order.
func replicasAre(o *Observation, members []int, want ...int32) error {
	got := make([]int32, 0, len(members))
	for _, i := range members {
		r, err := o.Replicas(i)
		if err != nil {
			return err
		}
		got = append(got, r)
	}
	sorted := slices.Clone(got)
	slices.Sort(sorted)
	w := slices.Clone(want)
	slices.Sort(w)
	if !slices.Equal(sorted, w) {
		return fmt.Errorf("nginx replicas in members %v: %v, want %v in some order", members, got, want)
	}
	return nil
}

// replicaSum checks that nginx's replicas in the members add up to want.
func replicaSum(o *Observation, members []int, want int32) error {
	var sum int32
	var got []int32
	for _, i := range members {
		r, err := o.Replicas(i)
		if err != nil {
			return err
		}
		got = append(got, r)
		sum += max(r, 0)
	}
	if sum != want {
		return fmt.Errorf("nginx replicas in members %v: %v, sum %d, want %d", members, got, sum, want)
	}
	return nil
}

// memberStateIn checks a member's state in the DSO's status.
func memberStateIn(o *Observation, name string, states ...string) error {
	d, err := dsoWithStatus(o)
	if err != nil {
		return err
	}
	m, ok := d.Status.MemberClusterStatuses[name]
	if !ok {
		return fmt.Errorf("%s not in the DSO's status", name)
	}
	if !slices.Contains(states, m.State) {
		return fmt.Errorf("%s is %s, want %s", name, m.State, strings.Join(states, " or "))
	}
	return nil
}

// membersReady checks that the members are registered and Ready.
func membersReady(o *Observation, members ...int) error {
	mcs, err := o.MemberClusters()
	if err != nil {
		return err
	}
	state := map[string]string{}
	for _, mc := range mcs {
		state[mc.Name] = mc.Status.State
	}
	for _, i := range members {
		s, ok := state[MemberName(i)]
		if !ok {
			return fmt.Errorf("%s not registered", MemberName(i))
		}
		if s != v1alpha1.MemberStateReady {
			return fmt.Errorf("%s is %q, want Ready", MemberName(i), s)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
