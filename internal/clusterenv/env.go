package clusterenv

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// HubName is the name of the hub cluster.
const HubName = "hub"

// DefaultJobPodDuration is how long a Job's pod runs in a full cluster unless
// Options.JobPodDuration says otherwise.
const DefaultJobPodDuration = 30 * time.Second

// markerFile marks a directory as made by clusterenv, so that fleetscale-dev only ever
// deletes directories it created.
const markerFile = ".clusterenv"

//go:embed stages/job-pod-complete.yaml
var jobPodCompleteStage string

// ClusterOptions choose what runs in one cluster.
type ClusterOptions struct {
	// Full adds kube-controller-manager (all default controllers), kube-scheduler and kwok
	// with one fake Node: Deployment pods become Running at once, Job pods run for
	// Options.JobPodDuration and then Succeed. Without it the cluster is an apiserver only.
	Full bool
	// NoNode (with Full) leaves out kwok and its Node: pods are created but stay Pending
	// forever, like a member that lost its capacity.
	NoNode bool
	// Aggregation lets the apiserver proxy to extension apiservers (APIService objects, e.g.
	// KEDA's external metrics server): a front-proxy CA and client certificate, the
	// --requestheader-* flags, and --enable-aggregator-routing, since no kube-proxy runs here.
	// The aggregator dials the Service's EndpointSlice addresses, which may not be loopback.
	Aggregation bool
	// HPASyncPeriod (with Full) sets kube-controller-manager's
	// --horizontal-pod-autoscaler-sync-period; 0 keeps its default, 15s.
	HPASyncPeriod time.Duration
}

// Options configure Start.
type Options struct {
	// Dir holds etcd's data, the kubeconfigs, keys, logs and state.json. It must be empty or
	// absent. Empty means a new temporary directory, removed by Env.Stop.
	Dir string
	// Members is the number of member clusters, named member-1..N unless Names is set.
	Members int
	// Names names the members; when set, Members may be left 0.
	Names []string
	// Hub configures the hub cluster.
	Hub ClusterOptions
	// Member configures every member, unless PerMember has an entry for its name.
	Member ClusterOptions
	// PerMember overrides Member for some members, by name.
	PerMember map[string]ClusterOptions
	// CRDDir, when set, holds YAML files whose CustomResourceDefinitions are installed into
	// the hub; Start returns once they are Established.
	CRDDir string
	// JobPodDuration is how long Job pods run before they Succeed (DefaultJobPodDuration if 0).
	JobPodDuration time.Duration
	// BinDir holds the control-plane binaries; FindBinDir when empty.
	BinDir string
	// Detach starts processes in their own session and without a parent-death signal, so
	// they outlive the calling process (fleetscale-dev up). Otherwise every process dies with
	// the calling process, whatever kills it.
	Detach bool
	// StopGrace is how long Stop waits after SIGTERM before SIGKILL (default 5s).
	StopGrace time.Duration
	// Logf, when set, receives progress messages.
	Logf func(format string, args ...any)
}

// Env is a shared etcd with a hub and member clusters.
type Env struct {
	// Dir is the environment's directory.
	Dir string
	// BinDir holds the binaries it runs.
	BinDir string
	// EtcdURL is the client URL of the shared etcd.
	EtcdURL string
	// Hub is the hub cluster.
	Hub *Cluster
	// Members are the member clusters, in order.
	Members []*Cluster

	opts    Options
	etcd    *process
	ports   etcdPorts
	ownsDir bool

	mu      sync.Mutex // serialises state.json writes and Stop
	stopped bool
}

type etcdPorts struct {
	Client int `json:"client"`
	Peer   int `json:"peer"`
}

var validName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Start starts etcd, then the hub and the members in parallel, installs the CRDs of
// opts.CRDDir into the hub, and returns once everything is ready. On error, whatever it
// started is stopped again.
func Start(ctx context.Context, opts Options) (_ *Env, retErr error) {
	begin := time.Now()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultStartTimeout)
		defer cancel()
	}
	if opts.JobPodDuration <= 0 {
		opts.JobPodDuration = DefaultJobPodDuration
	}
	if opts.StopGrace <= 0 {
		opts.StopGrace = 5 * time.Second
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	names := opts.Names
	if len(names) == 0 {
		for i := 1; i <= opts.Members; i++ {
			names = append(names, "member-"+strconv.Itoa(i))
		}
	} else if opts.Members != 0 && opts.Members != len(names) {
		return nil, fmt.Errorf("clusterenv: Members is %d but %d Names are given", opts.Members, len(names))
	}
	seen := map[string]bool{HubName: true}
	for _, n := range names {
		if !validName.MatchString(n) || seen[n] {
			return nil, fmt.Errorf("clusterenv: invalid or duplicate member name %q", n)
		}
		seen[n] = true
	}
	for n := range opts.PerMember {
		if !seen[n] || n == HubName {
			return nil, fmt.Errorf("clusterenv: PerMember names %q, which is not a member", n)
		}
	}

	binDir := opts.BinDir
	if binDir == "" {
		var err error
		if binDir, err = FindBinDir(); err != nil {
			return nil, err
		}
	} else if err := CheckBinDir(binDir); err != nil {
		return nil, err
	}
	binDir, err := filepath.Abs(binDir)
	if err != nil {
		return nil, err
	}

	e := &Env{BinDir: binDir, opts: opts}
	if opts.Dir == "" {
		if e.Dir, err = os.MkdirTemp("", "clusterenv-"); err != nil {
			return nil, err
		}
		e.ownsDir = true
	} else {
		if e.Dir, err = filepath.Abs(opts.Dir); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(e.Dir, 0o755); err != nil {
			return nil, err
		}
		if entries, err := os.ReadDir(e.Dir); err != nil {
			return nil, err
		} else if len(entries) > 0 {
			return nil, fmt.Errorf("clusterenv: %s is not empty; stop and remove the environment in it first", e.Dir)
		}
	}
	if err := os.WriteFile(filepath.Join(e.Dir, markerFile), []byte("made by fleetscale internal/clusterenv\n"), 0o644); err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			_ = e.stop()
			// Keep the logs for the error's reader; drop etcd's data (tens of MB).
			_ = os.RemoveAll(filepath.Join(e.Dir, "etcd"))
			retErr = fmt.Errorf("%w\n(logs in %s)", retErr, e.Dir)
		}
	}()

	ports, err := freePorts(2 + 1 + len(names))
	if err != nil {
		return nil, err
	}
	e.ports = etcdPorts{Client: ports[0], Peer: ports[1]}
	e.EtcdURL = "http://127.0.0.1:" + strconv.Itoa(e.ports.Client)
	pki, err := writePKI(filepath.Join(e.Dir, "pki"))
	if err != nil {
		return nil, err
	}
	stages, err := kwokStages(binDir, opts.JobPodDuration)
	if err != nil {
		return nil, err
	}

	e.etcd = e.newEtcd()
	e.Hub, err = e.newCluster(HubName, ports[2], opts.Hub, pki, stages)
	if err != nil {
		return nil, err
	}
	for i, n := range names {
		co := opts.Member
		if o, ok := opts.PerMember[n]; ok {
			co = o
		}
		c, err := e.newCluster(n, ports[3+i], co, pki, stages)
		if err != nil {
			return nil, err
		}
		e.Members = append(e.Members, c)
	}
	e.saveLogged()

	if err := e.etcd.start(); err != nil {
		return nil, err
	}
	e.saveLogged()
	if err := waitEtcd(ctx, e.etcd, e.EtcdURL); err != nil {
		return nil, err
	}
	opts.Logf("etcd ready at %s (%.1fs)", e.EtcdURL, time.Since(begin).Seconds())

	var wg sync.WaitGroup
	clusters := e.Clusters()
	errs := make([]error, len(clusters))
	for i, c := range clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = c.launch(ctx); errs[i] == nil {
				opts.Logf("%s ready at %s (%s) (%.1fs)", c.Name, c.APIURL, c.describe(), time.Since(begin).Seconds())
			}
		}()
	}
	wg.Wait()
	e.saveLogged()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	if opts.CRDDir != "" {
		crds, err := e.Hub.InstallCRDs(ctx, opts.CRDDir)
		if err != nil {
			return nil, err
		}
		opts.Logf("%d CRDs from %s Established in the hub (%.1fs)", len(crds), opts.CRDDir, time.Since(begin).Seconds())
	}
	opts.Logf("environment up in %.1fs (dir %s)", time.Since(begin).Seconds(), e.Dir)
	return e, nil
}

func (c *Cluster) describe() string {
	switch {
	case !c.Options.Full:
		return "apiserver only"
	case c.Options.NoNode:
		return "full, no node"
	default:
		return "full"
	}
}

func (e *Env) newEtcd() *process {
	client := "http://127.0.0.1:" + strconv.Itoa(e.ports.Client)
	peer := "http://127.0.0.1:" + strconv.Itoa(e.ports.Peer)
	return &process{
		name: ProcEtcd,
		args: []string{
			filepath.Join(e.BinDir, "etcd"),
			"--name=clusterenv",
			"--data-dir=" + filepath.Join(e.Dir, "etcd"),
			"--listen-client-urls=" + client,
			"--advertise-client-urls=" + client,
			"--listen-peer-urls=" + peer,
			"--initial-advertise-peer-urls=" + peer,
			"--initial-cluster=clusterenv=" + peer,
			"--unsafe-no-fsync",
			"--log-level=warn",
		},
		logPath: filepath.Join(e.Dir, "etcd.log"),
		detach:  e.opts.Detach,
	}
}

func (e *Env) newCluster(name string, port int, co ClusterOptions, pki *pkiFiles, stages string) (*Cluster, error) {
	c := &Cluster{
		Name:           name,
		KubeconfigPath: filepath.Join(e.Dir, name+".kubeconfig"),
		APIURL:         "https://127.0.0.1:" + strconv.Itoa(port),
		Port:           port,
		Dir:            filepath.Join(e.Dir, name),
		Options:        co,
		env:            e,
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, err
	}
	token, err := writeTokenFile(filepath.Join(c.Dir, "tokens.csv"))
	if err != nil {
		return nil, err
	}
	if err := writeServiceAccountKeys(filepath.Join(c.Dir, "sa.key"), filepath.Join(c.Dir, "sa.pub")); err != nil {
		return nil, err
	}
	if err := writeKubeconfig(c.KubeconfigPath, name, c.APIURL, pki.caPEM, token); err != nil {
		return nil, err
	}
	if co.Full && !co.NoNode {
		if err := os.WriteFile(filepath.Join(c.Dir, "kwok-stages.yaml"), []byte(stages), 0o644); err != nil {
			return nil, err
		}
	}
	if co.Aggregation {
		if c.frontProxy, err = writeFrontProxyPKI(filepath.Join(c.Dir, "front-proxy")); err != nil {
			return nil, err
		}
	}
	if c.Config, err = clientcmd.BuildConfigFromFlags("", c.KubeconfigPath); err != nil {
		return nil, err
	}
	tuneConfig(c.Config)
	c.procs = c.newProcesses(e.BinDir, e.EtcdURL, pki, e.opts.Detach)
	return c, nil
}

// tuneConfig lifts client-go's default rate limit (5 QPS), which would make tests slow.
func tuneConfig(cfg *rest.Config) {
	cfg.QPS = 100
	cfg.Burst = 200
}

// writeKubeconfig writes a kubeconfig whose cluster, user and context are named after the
// cluster, so that several can be merged through KUBECONFIG=a:b.
func writeKubeconfig(path, name, server string, caPEM []byte, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[name+"-admin"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name + "-admin"}
	cfg.CurrentContext = name
	return clientcmd.WriteToFile(*cfg, path)
}

// kwokStages joins the shipped kwok stages with the harness's Job pod completion stage.
func kwokStages(binDir string, jobPodDuration time.Duration) (string, error) {
	var b strings.Builder
	for _, f := range shippedStages {
		data, err := os.ReadFile(filepath.Join(binDir, f))
		if err != nil {
			return "", err
		}
		b.WriteString("---\n")
		b.Write(data)
		b.WriteString("\n")
	}
	b.WriteString("---\n")
	b.WriteString(strings.ReplaceAll(jobPodCompleteStage, "__JOB_POD_DURATION_MS__",
		strconv.FormatInt(jobPodDuration.Milliseconds(), 10)))
	return b.String(), nil
}

// freePorts asks the kernel for n distinct free ports on 127.0.0.1, holding all of them open
// until it has them all so it cannot hand out one twice.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func waitEtcd(ctx context.Context, p *process, url string) error {
	client := &http.Client{Timeout: time.Second}
	for {
		if p.status() == ProcessExited {
			return fmt.Errorf("etcd exited; end of %s:\n%s", p.logPath, tailFile(p.logPath, 20))
		}
		resp, err := client.Get(url + "/health")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(body), `"true"`) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("etcd not healthy at %s: %w", url, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Clusters returns the hub followed by the members.
func (e *Env) Clusters() []*Cluster {
	return append([]*Cluster{e.Hub}, e.Members...)
}

// Cluster returns the cluster with that name, or nil.
func (e *Env) Cluster(name string) *Cluster {
	for _, c := range e.Clusters() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Member returns the i-th member (0-based).
func (e *Env) Member(i int) *Cluster {
	return e.Members[i]
}

// EtcdProcess reports the shared etcd's process.
func (e *Env) EtcdProcess() ProcessInfo {
	return e.etcd.info()
}

// StopEtcd stops the shared etcd (SIGTERM, SIGKILL after the stop grace) and waits until it
// is gone. Every cluster's apiserver keeps running and fails its requests until StartEtcd: an
// outage of the storage under the whole environment. The data stays on disk.
func (e *Env) StopEtcd() error {
	err := e.etcd.stop(e.opts.StopGrace)
	e.saveLogged()
	return err
}

// StartEtcd starts the shared etcd again (with its data and ports) unless it is running, and
// waits until it is healthy. The apiservers reconnect by themselves; Cluster.WaitReady waits
// for that.
func (e *Env) StartEtcd(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultStartTimeout)
		defer cancel()
	}
	if err := e.etcd.start(); err != nil {
		return err
	}
	e.saveLogged()
	return waitEtcd(ctx, e.etcd, e.EtcdURL)
}

// RestartEtcd stops the shared etcd, starts it again and waits until every cluster is ready.
func (e *Env) RestartEtcd(ctx context.Context) error {
	if err := e.StopEtcd(); err != nil {
		return fmt.Errorf("stop etcd: %w", err)
	}
	if err := e.StartEtcd(ctx); err != nil {
		return fmt.Errorf("start etcd: %w", err)
	}
	for _, c := range e.Clusters() {
		if err := c.WaitReady(ctx); err != nil {
			return err
		}
	}
	return nil
}

// JobPodDuration is how long Job pods run in the full clusters of this environment.
func (e *Env) JobPodDuration() time.Duration {
	return e.opts.JobPodDuration
}

// Stop stops every process of the environment by PID (the clusters first, then etcd) and
// waits until they are gone. A temporary Dir (Options.Dir empty) is removed. Calling Stop
// again does nothing.
func (e *Env) Stop() error {
	err := e.stop()
	if e.ownsDir {
		if rmErr := os.RemoveAll(e.Dir); rmErr != nil {
			err = errors.Join(err, rmErr)
		}
	}
	return err
}

func (e *Env) stop() error {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return nil
	}
	e.stopped = true
	e.mu.Unlock()
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var errs []error
	for _, c := range e.Clusters() {
		if c == nil {
			continue
		}
		for _, p := range c.procs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := p.stop(e.opts.StopGrace); err != nil {
					errMu.Lock()
					errs = append(errs, err)
					errMu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if e.etcd != nil {
		errs = append(errs, e.etcd.stop(e.opts.StopGrace))
	}
	return errors.Join(errs...)
}

// LogTails returns the last n lines of every process log, for a failing test to print.
func (e *Env) LogTails(n int) string {
	s := fmt.Sprintf("---- etcd (%s)\n%s", e.etcd.logPath, tailFile(e.etcd.logPath, n))
	for _, c := range e.Clusters() {
		s += c.LogTail(n)
	}
	return s
}

// tailFile returns the last n lines of a file.
func tailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)\n", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}
