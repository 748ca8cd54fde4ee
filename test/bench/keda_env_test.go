package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/internal/clusterenv"
)

// kedaVersion is what hack/keda-bins.sh builds (hack/tools/keda/go.mod).
const kedaVersion = "v2.21.0"

// KEDA's own names, as its Helm chart installs them: the metrics server is reached through
// this Service, and the APIService is the one KEDA's operator would patch.
const (
	kedaNamespace     = "keda"
	kedaMetricsServer = "keda-metrics-apiserver"
	kedaAPIService    = "v1beta1.external.metrics.k8s.io"
	// The metrics server listens on this port in its own network namespace, so it is free.
	kedaSecurePort = 6443
)

// kedaBinDirEnv points at the cache of hack/keda-bins.sh (the Makefile exports it).
const kedaBinDirEnv = "FLEETSCALE_KEDA_BINS"

// findKEDABins returns the directory holding keda-operator, keda-adapter and crds/.
func findKEDABins() (string, error) {
	dir := os.Getenv(kedaBinDirEnv)
	if dir == "" {
		root, err := clusterenv.RepoRoot()
		if err != nil {
			return "", err
		}
		out, err := exec.Command(filepath.Join(root, "hack", "keda-bins.sh"), "--print-dir").Output()
		if err != nil {
			return "", fmt.Errorf("hack/keda-bins.sh --print-dir: %w", err)
		}
		dir = strings.TrimSpace(string(out))
	}
	for _, f := range []string{"keda-operator", "keda-adapter", "crds"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return "", fmt.Errorf("KEDA %s not found in %s: run make keda-bins", f, dir)
		}
	}
	return dir, nil
}

// kedaRun is KEDA's operator on the host and its metrics server in a network namespace,
// serving external.metrics.k8s.io to the harness cluster's HPA controller.
type kedaRun struct {
	Operator, Adapter *process
	NS                *netNS
}

// startKEDA installs KEDA's CRDs into cluster, starts the operator and the metrics server and
// registers the metrics server as the external metrics APIService; it returns once the
// APIService is Available. Everything it starts is stopped in tb.Cleanup. Errors say which
// part failed, so the caller can report it and measure fleetscale alone.
func startKEDA(ctx context.Context, tb testing.TB, cluster *clusterenv.Cluster, c client.Client, bins, dir string) (*kedaRun, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if _, err := cluster.InstallCRDs(ctx, filepath.Join(bins, "crds")); err != nil {
		return nil, fmt.Errorf("KEDA CRDs: %w", err)
	}
	ns, err := newNetNS(tb)
	if err != nil {
		return nil, fmt.Errorf("network namespace for the metrics server: %w", err)
	}
	k := &kedaRun{NS: ns}
	certDir := filepath.Join(dir, "certs")
	caPEM, err := writeKEDACerts(certDir, ns)
	if err != nil {
		return nil, fmt.Errorf("KEDA certificates: %w", err)
	}
	if err := ensureNamespace(ctx, c, kedaNamespace); err != nil {
		return nil, err
	}
	ports, err := freeLocalPorts(2)
	if err != nil {
		return nil, err
	}
	grpcAddr, err := freeAddr(ns.HostIP.String())
	if err != nil {
		return nil, err
	}
	// Both read WATCH_NAMESPACE (empty: all) and POD_NAMESPACE as in a Deployment; the
	// operator also KEDA_CLUSTER_OBJECT_NAMESPACE (where ClusterTriggerAuthentication secrets live).
	kedaEnv := []string{"WATCH_NAMESPACE=", "POD_NAMESPACE=" + kedaNamespace, "KEDA_CLUSTER_OBJECT_NAMESPACE=" + kedaNamespace}
	k.Operator, err = startProcess(tb, "keda-operator", filepath.Join(dir, "keda-operator.log"), kedaEnv,
		filepath.Join(bins, "keda-operator"),
		"--kubeconfig="+cluster.KubeconfigPath,
		"--leader-elect=false",
		"--metrics-bind-address=127.0.0.1:"+strconv.Itoa(ports[0]),
		"--health-probe-bind-address=127.0.0.1:"+strconv.Itoa(ports[1]),
		// gRPC (mTLS) to the metrics server, on the host end of the veth it can reach.
		"--metrics-service-bind-address="+grpcAddr,
		"--cert-dir="+certDir,
		// Rotation would write a Secret and wait for it to appear in a mounted volume.
		"--enable-cert-rotation=false",
	)
	if err != nil {
		return nil, err
	}

	// The metrics server's own kubeconfig: 127.0.0.1 in its namespace is not the host's, so
	// it reaches the apiserver through a relay on the host end of the veth, verifying the
	// apiserver's certificate under the name the certificate has.
	relay, err := relayTCP(tb, ns.HostIP.String()+":0", strings.TrimPrefix(cluster.APIURL, "https://"))
	if err != nil {
		return nil, fmt.Errorf("relay to the apiserver: %w", err)
	}
	adapterKubeconfig := filepath.Join(dir, "keda-adapter.kubeconfig")
	if err := writeRelayKubeconfig(adapterKubeconfig, cluster, relay); err != nil {
		return nil, err
	}
	k.Adapter, err = startProcess(tb, "keda-adapter", filepath.Join(dir, "keda-adapter.log"), kedaEnv,
		ns.Exec(filepath.Join(bins, "keda-adapter"),
			"--kubeconfig="+adapterKubeconfig,
			"--lister-kubeconfig="+adapterKubeconfig,
			"--authentication-kubeconfig="+adapterKubeconfig,
			"--authorization-kubeconfig="+adapterKubeconfig,
			"--bind-address="+ns.NSIP.String(),
			"--secure-port="+strconv.Itoa(kedaSecurePort),
			"--tls-cert-file="+filepath.Join(certDir, "tls.crt"),
			"--tls-private-key-file="+filepath.Join(certDir, "tls.key"),
			"--cert-dir="+certDir,
			"--metrics-service-address="+grpcAddr,
			// Its own /metrics: all interfaces, but only those of its namespace.
			"--port=8080",
		)...)
	if err != nil {
		return nil, err
	}
	if err := registerMetricsAPIService(ctx, c, ns, caPEM); err != nil {
		return nil, err
	}
	if err := waitAPIServiceAvailable(ctx, c, k); err != nil {
		return nil, err
	}
	return k, nil
}

// registerMetricsAPIService creates what KEDA's chart would: the Service (without selector;
// no pod backs it), an EndpointSlice naming the metrics server's address in the namespace,
// and the APIService with the CA that signed the metrics server's certificate.
func registerMetricsAPIService(ctx context.Context, c client.Client, ns *netNS, caPEM []byte) error {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: kedaMetricsServer, Namespace: kedaNamespace},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{
			Name: "https", Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(kedaSecurePort),
		}}},
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: kedaMetricsServer, Namespace: kedaNamespace,
			Labels: map[string]string{
				discoveryv1.LabelServiceName: kedaMetricsServer,
				discoveryv1.LabelManagedBy:   "fleetscale-bench",
			},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{ns.NSIP.String()},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To[int32](kedaSecurePort), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	apiService := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1",
		"kind":       "APIService",
		"metadata":   map[string]any{"name": kedaAPIService},
		"spec": map[string]any{
			"group":                "external.metrics.k8s.io",
			"version":              "v1beta1",
			"service":              map[string]any{"namespace": kedaNamespace, "name": kedaMetricsServer, "port": int64(443)},
			"caBundle":             base64.StdEncoding.EncodeToString(caPEM),
			"groupPriorityMinimum": int64(100),
			"versionPriority":      int64(100),
		},
	}}
	for _, obj := range []client.Object{svc, slice, apiService} {
		if err := c.Create(ctx, obj); err != nil {
			return fmt.Errorf("create %T %s: %w", obj, obj.GetName(), err)
		}
	}
	return nil
}

// waitAPIServiceAvailable waits until the aggregator reports the APIService Available, and
// fails at once when a KEDA process exits.
func waitAPIServiceAvailable(ctx context.Context, c client.Client, k *kedaRun) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var last string
	for {
		if err := errors.Join(k.Operator.exitedErr(), k.Adapter.exitedErr()); err != nil {
			return err
		}
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("apiregistration.k8s.io/v1")
		u.SetKind("APIService")
		if err := c.Get(ctx, client.ObjectKey{Name: kedaAPIService}, u); err != nil {
			last = err.Error()
		} else {
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			for _, cond := range conds {
				m, _ := cond.(map[string]any)
				if m["type"] == "Available" {
					if m["status"] == "True" {
						return nil
					}
					last = fmt.Sprintf("%v: %v", m["reason"], m["message"])
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("APIService %s not Available within 3m (last: %s); end of the metrics server's log:\n%s",
				kedaAPIService, last, tailFile(k.Adapter.logPath, 15))
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// writeKEDACerts writes ca.crt, tls.crt and tls.key into dir, the layout KEDA's operator and
// metrics server read from --cert-dir: one certificate, for serving (the operator's gRPC, the
// metrics API) and as a client (the metrics server's gRPC calls), as KEDA's own cert
// manager issues it. It returns the CA in PEM for the APIService.
func writeKEDACerts(dir string, ns *netNS) ([]byte, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fleetscale-bench-keda-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	var dns []string
	for _, svc := range []string{"keda-operator", kedaMetricsServer} {
		dns = append(dns, svc, svc+"."+kedaNamespace, svc+"."+kedaNamespace+".svc", svc+"."+kedaNamespace+".svc.cluster.local")
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "keda"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:    dns,
		IPAddresses: []net.IP{net.IP(ns.HostIP.AsSlice()), net.IP(ns.NSIP.AsSlice())},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	for name, data := range map[string][]byte{
		"ca.crt":  caPEM,
		"tls.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"tls.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, err
		}
	}
	return caPEM, nil
}

// writeRelayKubeconfig writes the cluster's admin kubeconfig with the server replaced by the
// relay; tls-server-name keeps the apiserver's certificate (issued for 127.0.0.1 and
// localhost) verifiable.
func writeRelayKubeconfig(path string, cluster *clusterenv.Cluster, relay string) error {
	cfg, err := clientcmd.LoadFromFile(cluster.KubeconfigPath)
	if err != nil {
		return err
	}
	for _, cl := range cfg.Clusters {
		cl.Server = "https://" + relay
		cl.TLSServerName = "localhost"
	}
	return clientcmd.WriteToFile(*cfg, path)
}

// relayTCP accepts on listen and copies every connection to and from target, until tb ends.
func relayTCP(tb testing.TB, listen, target string) (string, error) {
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return "", err
	}
	tb.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return // closed
			}
			go func() {
				defer in.Close()
				out, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer out.Close()
				go func() {
					_, _ = io.Copy(out, in)
					_ = out.(*net.TCPConn).CloseWrite()
				}()
				_, _ = io.Copy(in, out)
			}()
		}
	}()
	return l.Addr().String(), nil
}

func ensureNamespace(ctx context.Context, c client.Client, name string) error {
	err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("namespace %s: %w", name, err)
	}
	return nil
}

// freeLocalPorts returns n distinct free ports on 127.0.0.1.
func freeLocalPorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// freeAddr returns host:port with a port that was free on host a moment ago.
func freeAddr(host string) (string, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
