package clusterenv

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

// StateFile is the name of the file in Env.Dir that records the environment: its processes
// (PID, command line, environment, log), ports and kubeconfigs. Start and every Cluster.Start
// and Stop rewrite it; Load reads it back.
const StateFile = "state.json"

// State is the content of StateFile.
type State struct {
	Dir            string         `json:"dir"`
	BinDir         string         `json:"binDir"`
	Detach         bool           `json:"detach"`
	JobPodDuration string         `json:"jobPodDuration"`
	StopGrace      string         `json:"stopGrace"`
	EtcdURL        string         `json:"etcdURL"`
	EtcdPorts      etcdPorts      `json:"etcdPorts"`
	Etcd           ProcessState   `json:"etcd"`
	Clusters       []ClusterState `json:"clusters"`
}

// ClusterState records one cluster.
type ClusterState struct {
	Name       string         `json:"name"`
	APIURL     string         `json:"apiURL"`
	Port       int            `json:"port"`
	Kubeconfig string         `json:"kubeconfig"`
	Dir        string         `json:"dir"`
	Full       bool           `json:"full"`
	NoNode     bool           `json:"noNode"`
	Processes  []ProcessState `json:"processes"`

	// Aggregation and HPASyncPeriod are informational: the processes' arguments carry them.
	Aggregation   bool   `json:"aggregation,omitempty"`
	HPASyncPeriod string `json:"hpaSyncPeriod,omitempty"`
}

// ProcessState records one process.
type ProcessState struct {
	Name string   `json:"name"`
	PID  int      `json:"pid"`
	Args []string `json:"args"`
	Env  []string `json:"env,omitempty"`
	Log  string   `json:"log"`
}

// State returns the current record of the environment.
func (e *Env) State() State {
	s := State{
		Dir:            e.Dir,
		BinDir:         e.BinDir,
		Detach:         e.opts.Detach,
		JobPodDuration: e.opts.JobPodDuration.String(),
		StopGrace:      e.opts.StopGrace.String(),
		EtcdURL:        e.EtcdURL,
		EtcdPorts:      e.ports,
		Etcd:           e.etcd.state(),
	}
	for _, c := range e.Clusters() {
		cs := ClusterState{
			Name: c.Name, APIURL: c.APIURL, Port: c.Port, Kubeconfig: c.KubeconfigPath, Dir: c.Dir,
			Full: c.Options.Full, NoNode: c.Options.NoNode, Aggregation: c.Options.Aggregation,
		}
		if c.Options.HPASyncPeriod > 0 {
			cs.HPASyncPeriod = c.Options.HPASyncPeriod.String()
		}
		for _, p := range c.procs {
			cs.Processes = append(cs.Processes, p.state())
		}
		s.Clusters = append(s.Clusters, cs)
	}
	return s
}

func (e *Env) save() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	data, err := json.MarshalIndent(e.State(), "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(e.Dir, StateFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (e *Env) saveLogged() {
	if err := e.save(); err != nil {
		e.opts.Logf("clusterenv: writing %s: %v", StateFile, err)
	}
}

// Load attaches to the environment recorded in dir/state.json, typically started by another
// process with Options.Detach (fleetscale-dev up). Its processes are known by PID and
// command line only; Stop, Cluster.Stop, Cluster.Start, Hang and Resume work as on the Env
// Start returned. Stop leaves dir in place.
func Load(dir string) (*Env, error) {
	data, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, StateFile), err)
	}
	jobPod, _ := time.ParseDuration(s.JobPodDuration)
	grace, _ := time.ParseDuration(s.StopGrace)
	if grace <= 0 {
		grace = 5 * time.Second
	}
	e := &Env{
		Dir:     s.Dir,
		BinDir:  s.BinDir,
		EtcdURL: s.EtcdURL,
		ports:   s.EtcdPorts,
		opts: Options{
			Detach: s.Detach, JobPodDuration: jobPod, StopGrace: grace,
			Logf: func(string, ...any) {},
		},
	}
	e.etcd = attached(s.Etcd, s.Detach)
	for i, cs := range s.Clusters {
		hpaSync, _ := time.ParseDuration(cs.HPASyncPeriod) // "" (the default) gives 0
		c := &Cluster{
			Name: cs.Name, KubeconfigPath: cs.Kubeconfig, APIURL: cs.APIURL, Port: cs.Port, Dir: cs.Dir,
			Options: ClusterOptions{Full: cs.Full, NoNode: cs.NoNode, Aggregation: cs.Aggregation, HPASyncPeriod: hpaSync},
			env:     e,
		}
		if c.Config, err = clientcmd.BuildConfigFromFlags("", cs.Kubeconfig); err != nil {
			return nil, err
		}
		tuneConfig(c.Config)
		for _, ps := range cs.Processes {
			c.procs = append(c.procs, attached(ps, s.Detach))
		}
		if len(c.procs) == 0 {
			return nil, fmt.Errorf("%s: cluster %s has no processes", StateFile, cs.Name)
		}
		if i == 0 {
			e.Hub = c
		} else {
			e.Members = append(e.Members, c)
		}
	}
	if e.Hub == nil {
		return nil, fmt.Errorf("%s records no clusters", filepath.Join(dir, StateFile))
	}
	return e, nil
}

func attached(ps ProcessState, detach bool) *process {
	return &process{name: ps.Name, args: ps.Args, env: ps.Env, logPath: ps.Log, pid: ps.PID, detach: detach}
}

// IsEnvDir reports whether dir was made by clusterenv (and may be deleted by its tools).
func IsEnvDir(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, markerFile))
	return err == nil
}
