package helm

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// adapterRules are the only permissions of fleetscale-keda-scalers in the hub; test/adapter
// runs the real binary with exactly these.
var adapterRules = []rbacv1.PolicyRule{{
	APIGroups: []string{"keda.kedify.io"},
	Resources: []string{"distributedscaledobjects", "distributedscaledjobs"},
	Verbs:     []string{"list", "watch"},
}}

// adapterClientArgs are the controller's flags for the adapter of release "fleetscale" in ns.
func adapterClientArgs(ns string, port int) []string {
	const dir = "/var/run/fleetscale/keda-scalers"
	server := "fleetscale-keda-scalers." + ns + ".svc"
	return []string{
		fmt.Sprintf("--%s=%s:%d", externalScalerFlag, server, port),
		"--external-scaler-ca-file=" + dir + "/ca.crt",
		"--external-scaler-cert-file=" + dir + "/tls.crt",
		"--external-scaler-key-file=" + dir + "/tls.key",
		"--external-scaler-server-name=" + server,
	}
}

// checkKedaScalers checks the adapter of release "fleetscale" in ns serving on grpcPort: its own
// ServiceAccount with only adapterRules, mTLS on every interface of the pod with a server
// certificate for its Service name, probes off the controller's ports, and a controller that
// dials it with a client certificate of the same CA: the generated certificates complete a
// real mTLS handshake.
func checkKedaScalers(t *testing.T, r *release, ns string, grpcPort int) {
	t.Helper()
	const name = "fleetscale-keda-scalers"
	ks := typed[appsv1.Deployment](t, r.find(t, "Deployment", name))
	pod := ks.Spec.Template.Spec
	kc := container(t, ks, "keda-scalers")
	if port(t, kc, intstr.FromString("grpc")) != int32(grpcPort) {
		t.Errorf("adapter ports %+v, want grpc on %d", kc.Ports, grpcPort)
	}
	if kc.SecurityContext == nil || kc.SecurityContext.ReadOnlyRootFilesystem == nil || !*kc.SecurityContext.ReadOnlyRootFilesystem ||
		pod.SecurityContext == nil || !*pod.SecurityContext.RunAsNonRoot {
		t.Errorf("the adapter runs without the chart's non-root security contexts")
	}
	if pod.ServiceAccountName != name || pod.AutomountServiceAccountToken == nil || !*pod.AutomountServiceAccountToken {
		t.Errorf("the adapter runs as %q (token mounted: %v), want its own ServiceAccount %s with a token to watch DSOs", pod.ServiceAccountName, pod.AutomountServiceAccountToken, name)
	}
	flags := map[string]string{}
	for _, a := range kc.Args {
		if k, v, ok := strings.Cut(strings.TrimPrefix(a, "--"), "="); ok {
			flags[k] = v
		}
	}
	if flags["listen"] != fmt.Sprintf(":%d", grpcPort) {
		t.Errorf("adapter --listen %q, want :%d", flags["listen"], grpcPort)
	}
	health := port(t, kc, intstr.FromString("health"))
	if flags["health-probe-bind-address"] != fmt.Sprintf(":%d", health) || health == 8080 || health == 8081 {
		t.Errorf("adapter health %q on port %d: want it on its own port (not the controller's 8080/8081)", flags["health-probe-bind-address"], health)
	}
	for _, p := range []*corev1.Probe{kc.LivenessProbe, kc.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || port(t, kc, p.HTTPGet.Port) != health {
			t.Errorf("adapter probe %+v, want HTTP on the health port", p)
		}
	}
	serverSecret := mountedSecret(t, pod, kc, flags["tls-cert-file"], flags["tls-key-file"], flags["tls-client-ca-file"])

	cr := typed[rbacv1.ClusterRole](t, r.find(t, "ClusterRole", name))
	if diff := cmp.Diff(adapterRules, cr.Rules); diff != "" {
		t.Errorf("the adapter's ClusterRole (-want +chart):\n%s", diff)
	}
	crb := typed[rbacv1.ClusterRoleBinding](t, r.find(t, "ClusterRoleBinding", name))
	if crb.RoleRef.Name != name || !slices.Equal(crb.Subjects, []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}}) {
		t.Errorf("ClusterRoleBinding %+v does not bind the adapter's ServiceAccount", crb)
	}

	d := typed[appsv1.Deployment](t, r.find(t, "Deployment", "fleetscale-controller"))
	c := container(t, d, "controller")
	want := adapterClientArgs(ns, grpcPort)
	for _, a := range want {
		if !slices.Contains(c.Args, a) {
			t.Errorf("controller args %q lack %s", c.Args, a)
		}
	}
	value := func(flag string) string {
		for _, a := range c.Args {
			if v, ok := strings.CutPrefix(a, "--"+flag+"="); ok {
				return v
			}
		}
		return ""
	}
	clientSecret := mountedSecret(t, d.Spec.Template.Spec, c, value("external-scaler-cert-file"), value("external-scaler-key-file"), value("external-scaler-ca-file"))
	mtlsHandshake(t, r, serverSecret, clientSecret, value("external-scaler-server-name"))
}

// mountedSecret returns the Secret whose volume c mounts at the directory of files, which
// must be that Secret's tls.crt, tls.key and ca.crt.
func mountedSecret(t *testing.T, pod corev1.PodSpec, c corev1.Container, cert, key, ca string) string {
	t.Helper()
	dir := path.Dir(cert)
	if path.Base(cert) != "tls.crt" || key != dir+"/tls.key" || ca != dir+"/ca.crt" {
		t.Errorf("%s: TLS files %s %s %s, want tls.crt, tls.key, ca.crt of one Secret volume", c.Name, cert, key, ca)
	}
	for _, m := range c.VolumeMounts {
		if m.MountPath != dir {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.Secret != nil {
				return v.Secret.SecretName
			}
		}
	}
	t.Errorf("%s mounts no Secret at %s (mounts %+v)", c.Name, dir, c.VolumeMounts)
	return ""
}

// mtlsHandshake completes a TLS handshake between the adapter's Secret (server) and the
// controller's (client) as the controller dials serverName, each verifying the other.
func mtlsHandshake(t *testing.T, r *release, serverSecret, clientSecret, serverName string) {
	t.Helper()
	server, client := secretPair(t, r, serverSecret), secretPair(t, r, clientSecret)
	serverCAs, clientCAs := x509.NewCertPool(), x509.NewCertPool()
	if !serverCAs.AppendCertsFromPEM(client.ca) || !clientCAs.AppendCertsFromPEM(server.ca) {
		t.Fatal("ca.crt holds no certificate")
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	errs := make(chan error, 1)
	go func() {
		srv := tls.Server(a, &tls.Config{Certificates: []tls.Certificate{server.pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: serverCAs})
		errs <- srv.Handshake()
	}()
	cl := tls.Client(b, &tls.Config{Certificates: []tls.Certificate{client.pair}, RootCAs: clientCAs, ServerName: serverName})
	if err := cl.Handshake(); err != nil {
		t.Errorf("the controller's TLS handshake with the adapter (as %s): %v", serverName, err)
	}
	if err := <-errs; err != nil {
		t.Errorf("the adapter's TLS handshake with the controller: %v", err)
	}
}

type keyPair struct {
	pair tls.Certificate
	ca   []byte
}

func secretPair(t *testing.T, r *release, name string) keyPair {
	t.Helper()
	s := r.find(t, "Secret", name)
	data, _, _ := unstructured.NestedStringMap(s.Object, "data")
	decoded := map[string][]byte{}
	for _, k := range []string{"tls.crt", "tls.key", "ca.crt"} {
		b, err := base64.StdEncoding.DecodeString(data[k])
		if err != nil || len(b) == 0 {
			t.Fatalf("Secret %s: %s missing or not base64 (%v)", name, k, err)
		}
		decoded[k] = b
	}
	if blk, _ := pem.Decode(decoded["ca.crt"]); blk == nil {
		t.Fatalf("Secret %s: ca.crt is not PEM", name)
	}
	pair, err := tls.X509KeyPair(decoded["tls.crt"], decoded["tls.key"])
	if err != nil {
		t.Fatalf("Secret %s: %v", name, err)
	}
	return keyPair{pair: pair, ca: decoded["ca.crt"]}
}
