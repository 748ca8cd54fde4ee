package clusterenv

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

const (
	// FakeNodeName is the Node kwok manages in a full cluster (unless ClusterOptions.NoNode).
	FakeNodeName = "kwok-node-0"
	// kwokNodeAnnotation marks the nodes kwok manages (--manage-nodes-with-annotation-selector).
	kwokNodeAnnotation = "kwok.x-k8s.io/node"

	serviceClusterIPRange = "10.96.0.0/16"
	serviceAPIIP          = "10.96.0.1"

	// defaultStartTimeout bounds Cluster.Start and Env start-up when the context has no deadline.
	defaultStartTimeout = 3 * time.Minute
)

// Names of the processes of a cluster, as they appear in ProcessInfo and the state file.
const (
	ProcKubeAPIServer         = "kube-apiserver"
	ProcKubeControllerManager = "kube-controller-manager"
	ProcKubeScheduler         = "kube-scheduler"
	ProcKwok                  = "kwok"
	ProcEtcd                  = "etcd"
)

// Cluster is one control plane of the environment: an apiserver on 127.0.0.1 storing under its
// own etcd prefix, and in a full cluster kube-controller-manager, kube-scheduler and kwok.
// Its methods are not meant to be called concurrently with each other.
type Cluster struct {
	// Name is "hub" or a member name (member-1, ...). It also names the kubeconfig context.
	Name string
	// Config is an admin (system:masters) client configuration. Copy it before changing it.
	Config *rest.Config
	// KubeconfigPath is a kubeconfig file for the same admin: server, CA data and token.
	KubeconfigPath string
	// APIURL is https://127.0.0.1:Port.
	APIURL string
	// Port is the apiserver's secure port; it stays the same across Stop and Start.
	Port int
	// Dir holds this cluster's keys, token file, kwok stages and process logs.
	Dir string
	// Options are the options it was started with.
	Options ClusterOptions

	env   *Env
	procs []*process // the apiserver first

	frontProxy *frontProxyPKI // with Options.Aggregation

	clientOnce sync.Once
	client     kubernetes.Interface
	probe      kubernetes.Interface // short per-request timeout, for readiness checks
	clientErr  error
}

// Clientset returns a client for Config (built once).
func (c *Cluster) Clientset() kubernetes.Interface {
	c.initClients()
	return c.client
}

func (c *Cluster) initClients() {
	c.clientOnce.Do(func() {
		c.client, c.clientErr = kubernetes.NewForConfig(c.Config)
		if c.clientErr != nil {
			return
		}
		pc := rest.CopyConfig(c.Config)
		pc.Timeout = 5 * time.Second
		c.probe, c.clientErr = kubernetes.NewForConfig(pc)
	})
	if c.clientErr != nil {
		// Only a malformed rest.Config gets here, and the harness builds it.
		panic(fmt.Sprintf("clusterenv: client for %s: %v", c.Name, c.clientErr))
	}
}

// Processes reports the cluster's processes, the apiserver first.
func (c *Cluster) Processes() []ProcessInfo {
	out := make([]ProcessInfo, 0, len(c.procs))
	for _, p := range c.procs {
		out = append(out, p.info())
	}
	return out
}

// Stop stops all of the cluster's processes (SIGTERM, SIGKILL after a short grace) and waits
// until they are gone. Its data stays in etcd; Start brings it back.
func (c *Cluster) Stop() error {
	var wg sync.WaitGroup
	errs := make([]error, len(c.procs))
	for i, p := range c.procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.stop(c.env.opts.StopGrace)
		}()
	}
	wg.Wait()
	c.env.saveLogged()
	return errors.Join(errs...)
}

// Start relaunches the processes of the cluster that are not running, with the same
// arguments and ports, and waits until the cluster is ready (see WaitReady).
func (c *Cluster) Start() error {
	ctx, cancel := context.WithTimeout(context.Background(), defaultStartTimeout)
	defer cancel()
	return c.StartContext(ctx)
}

// StartContext is Start with a context bounding the wait.
func (c *Cluster) StartContext(ctx context.Context) error {
	err := c.launch(ctx)
	c.env.saveLogged()
	return err
}

// Hang freezes the apiserver with SIGSTOP: connections are accepted, nothing is answered.
// It returns once the kernel reports the process stopped.
func (c *Cluster) Hang() error {
	return c.procs[0].signalAndWait(syscall.SIGSTOP, ProcessStopped)
}

// Resume undoes Hang with SIGCONT.
func (c *Cluster) Resume() error {
	return c.procs[0].signalAndWait(syscall.SIGCONT, ProcessRunning)
}

// WaitReady waits until the apiserver's /readyz is ok and, in a full cluster, the default
// ServiceAccount exists (the controller-manager works) and the fake node is Ready. It fails
// at once when one of the cluster's processes has exited, with the end of its log.
func (c *Cluster) WaitReady(ctx context.Context) error {
	return c.waitFor(ctx, "ready", c.procs, c.ready)
}

// Ready checks once what WaitReady waits for.
func (c *Cluster) Ready(ctx context.Context) error {
	return c.ready(ctx)
}

func (c *Cluster) launch(ctx context.Context) error {
	api := c.procs[0]
	if err := api.start(); err != nil {
		return err
	}
	c.env.saveLogged() // record PIDs at once: an interrupted start can still be cleaned up
	if err := c.waitFor(ctx, "apiserver ready", c.procs[:1], c.apiserverReady); err != nil {
		return err
	}
	if c.Options.Full && !c.Options.NoNode {
		if err := c.ensureNode(ctx); err != nil {
			return err
		}
	}
	for _, p := range c.procs[1:] {
		if p.name == ProcKwok && p.status() == ProcessExited {
			if err := c.releaseNodeLease(ctx); err != nil {
				return err
			}
		}
		if err := p.start(); err != nil {
			return err
		}
	}
	c.env.saveLogged()
	return c.WaitReady(ctx)
}

// waitFor polls check until it passes, failing at once when one of procs has exited.
func (c *Cluster) waitFor(ctx context.Context, what string, procs []*process, check func(context.Context) error) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultStartTimeout)
		defer cancel()
	}
	var last error
	for {
		for _, p := range procs {
			if p.status() == ProcessExited {
				return fmt.Errorf("%s: %s is not running; end of %s:\n%s", c.Name, p.name, p.logPath, tailFile(p.logPath, 20))
			}
		}
		if last = check(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not %s: %w (last check: %v)", c.Name, what, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *Cluster) apiserverReady(ctx context.Context) error {
	c.initClients()
	_, err := c.probe.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	return err
}

func (c *Cluster) ready(ctx context.Context) error {
	if err := c.apiserverReady(ctx); err != nil {
		return err
	}
	if !c.Options.Full {
		return nil
	}
	if _, err := c.probe.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{}); err != nil {
		return fmt.Errorf("default service account: %w", err)
	}
	if c.Options.NoNode {
		return nil
	}
	node, err := c.probe.CoreV1().Nodes().Get(ctx, FakeNodeName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
			return nil
		}
	}
	return fmt.Errorf("node %s is not Ready yet", FakeNodeName)
}

// ensureNode creates the Node kwok pretends to run; kwok fills in its status (capacity,
// Ready) and renews its lease.
func (c *Cluster) ensureNode(ctx context.Context) error {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: FakeNodeName,
			Labels: map[string]string{
				"kubernetes.io/hostname": FakeNodeName,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
				"type":                   "kwok",
			},
			Annotations: map[string]string{
				kwokNodeAnnotation:             "fake",
				"node.alpha.kubernetes.io/ttl": "0",
			},
		},
	}
	_, err := c.Clientset().CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("%s: create node: %w", c.Name, err)
	}
	return nil
}

// releaseNodeLease deletes the node's lease before kwok starts. A restarted kwok has a new
// holder identity and would otherwise wait for the old lease to expire (40s) before it
// manages the node and its pods again.
func (c *Cluster) releaseNodeLease(ctx context.Context) error {
	err := c.Clientset().CoordinationV1().Leases(corev1.NamespaceNodeLease).Delete(ctx, FakeNodeName, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("%s: delete the lease of node %s: %w", c.Name, FakeNodeName, err)
	}
	return nil
}

// LogTail returns the last n lines of the log of each of the cluster's processes.
func (c *Cluster) LogTail(n int) string {
	var s string
	for _, p := range c.procs {
		s += fmt.Sprintf("---- %s/%s (%s)\n%s", c.Name, p.name, p.logPath, tailFile(p.logPath, n))
	}
	return s
}

// newProcesses builds the argument lists of the cluster's processes.
func (c *Cluster) newProcesses(binDir, etcdURL string, pki *pkiFiles, detach bool) []*process {
	bin := func(name string) string { return filepath.Join(binDir, name) }
	file := func(name string) string { return filepath.Join(c.Dir, name) }
	proc := func(name string, args []string, env ...string) *process {
		return &process{name: name, args: args, env: env, logPath: file(name + ".log"), detach: detach}
	}
	apiArgs := []string{
		bin("kube-apiserver"),
		"--etcd-servers=" + etcdURL,
		"--etcd-prefix=/clusters/" + c.Name,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(c.Port),
		// 1.37 refuses to reconcile the kubernetes Service endpoints to a loopback address.
		"--endpoint-reconciler-type=none",
		"--cert-dir=" + file("apiserver-certs"),
		"--tls-cert-file=" + pki.servingCert,
		"--tls-private-key-file=" + pki.servingKey,
		"--client-ca-file=" + pki.caCert,
		"--token-auth-file=" + file("tokens.csv"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + file("sa.pub"),
		"--service-account-signing-key-file=" + file("sa.key"),
		"--service-cluster-ip-range=" + serviceClusterIPRange,
		"--authorization-mode=RBAC",
		"--allow-privileged=true",
	}
	if !c.Options.Full {
		// No controller-manager creates the default ServiceAccount, so the ServiceAccount
		// admission plugin would refuse every pod (envtest does the same).
		apiArgs = append(apiArgs, "--disable-admission-plugins=ServiceAccount")
	}
	if c.frontProxy != nil {
		apiArgs = append(apiArgs, c.frontProxy.apiserverArgs()...)
	}
	procs := []*process{proc(ProcKubeAPIServer, apiArgs)}
	if !c.Options.Full {
		return procs
	}
	procs = append(procs,
		proc(ProcKubeControllerManager, []string{
			bin("kube-controller-manager"),
			"--kubeconfig=" + c.KubeconfigPath,
			"--controllers=*",
			"--leader-elect=false",
			"--secure-port=0",
			"--cluster-name=" + c.Name,
			"--service-account-private-key-file=" + file("sa.key"),
			"--root-ca-file=" + pki.caCert,
		}),
		proc(ProcKubeScheduler, []string{
			bin("kube-scheduler"),
			"--kubeconfig=" + c.KubeconfigPath,
			"--leader-elect=false",
			"--secure-port=0",
		}),
	)
	if c.Options.HPASyncPeriod > 0 {
		kcm := procs[1]
		kcm.args = append(kcm.args, "--horizontal-pod-autoscaler-sync-period="+c.Options.HPASyncPeriod.String())
	}
	if c.Options.NoNode {
		return procs
	}
	return append(procs, proc(ProcKwok, []string{
		bin("kwok"),
		"--kubeconfig=" + c.KubeconfigPath,
		"--config=" + file("kwok-stages.yaml"),
		"--manage-nodes-with-annotation-selector=" + kwokNodeAnnotation + "=fake",
		// kwok renews the node's lease, so the node lifecycle controller keeps it Ready.
		"--node-lease-duration-seconds=40",
		"--cidr=10.0.0.0/16",
	},
		// Keep kwok away from ~/.kwok/kwok.yaml, which it would load first.
		"KWOK_WORKDIR="+file("kwok"),
	))
}
