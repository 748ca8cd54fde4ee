package scalers

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

// The hub's side of the adapter protocol (docs/adapter.md, "What a request becomes"): the metadata keys, the resolved
// authentication and environment, and how the adapter's answers become errors.
func TestAdapterProtocol(t *testing.T) {
	s := newTestScaler()
	s.value.Store(9)
	addr := serve(t, s)
	cfg := Config{
		Trigger: v1alpha1.ScaleTriggers{Type: "redis", Name: "orders", MetricType: "Value",
			Metadata: map[string]string{"listName": "jobs", "passwordFromEnv": "REDIS_PASSWORD"}},
		TriggerIndex: 3, Namespace: "shop", ObjectName: "worker", ObjectKind: "DistributedScaledObject", AsMetricSource: true,
		Auth: Auth{Params: map[string]string{"username": "app", "password": "p4ssw0rd!"}, Env: map[string]string{"REDIS_PASSWORD": "from-env-1"},
			PodIdentity: "azure-workload"},
		Options: Options{ExternalScalerAddress: addr},
	}
	sc, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close(t.Context())
	values, active, err := sc.GetMetricsAndActivity(t.Context())
	if err != nil || !active || values[0].Value != 9 || sc.MetricSpecs()[0].Name != "orders" || sc.MetricSpecs()[0].Type != "Value" {
		t.Fatalf("values %v active %v err %v specs %v", values, active, err, sc.MetricSpecs())
	}
	ref := s.lastRef()
	want := map[string]string{
		"listName": "jobs", "passwordFromEnv": "REDIS_PASSWORD",
		"fleetscale.dev/trigger-type": "redis", "fleetscale.dev/trigger-name": "orders", "fleetscale.dev/trigger-index": "3",
		"fleetscale.dev/metric-type": "Value", "fleetscale.dev/as-metric-source": "true",
		"fleetscale.dev/object-kind":        "DistributedScaledObject",
		"fleetscale.dev/auth.username":      "app",
		"fleetscale.dev/auth.password":      "p4ssw0rd!",
		"fleetscale.dev/env.REDIS_PASSWORD": "from-env-1",
		"fleetscale.dev/pod-identity":       "azure-workload",
	}
	got := ref.GetScalerMetadata()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("metadata %s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) || ref.GetName() != "worker" || ref.GetNamespace() != "shop" {
		t.Errorf("ScaledObjectRef %s/%s metadata %v", ref.GetNamespace(), ref.GetName(), got)
	}

	// Our keys are reserved in a user's metadata.
	bad := cfg
	bad.Trigger.Metadata = map[string]string{"fleetscale.dev/auth.password": "x"}
	if _, err := New(t.Context(), bad); !errors.Is(err, ErrInvalidMetadata) || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("reserved key: %v", err)
	}

	// An unknown type (InvalidArgument) is an unsupported trigger naming the type.
	unknown := status.Error(codes.InvalidArgument, `unknown trigger type "kafkaa"`)
	s.fail.Store(&unknown)
	cfg.Trigger.Type = "kafkaa"
	_, err = New(t.Context(), cfg)
	if !errors.Is(err, ErrUnsupportedTrigger) || !IsSpecError(err) || !strings.Contains(err.Error(), `"kafkaa": neither the hub nor the KEDA scalers adapter`) {
		t.Errorf("unknown type: %v", err)
	}
	// Any other failure is a read error (retried), naming the adapter; the adapter's message
	// names the trigger.
	down := status.Error(codes.Unavailable, `redis trigger "orders": dial tcp 127.0.0.1:6379: connect: connection refused`)
	s.fail.Store(&down)
	cfg.Trigger.Type = "redis"
	_, err = New(t.Context(), cfg)
	if err == nil || IsSpecError(err) || !strings.Contains(err.Error(), "KEDA scalers adapter at "+addr+" unavailable") ||
		!strings.Contains(err.Error(), `redis trigger "orders"`) {
		t.Errorf("backend down: %v", err)
	}

	// The adapter itself down.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	gone := l.Addr().String()
	_ = l.Close()
	cfg.ExternalScalerAddress = gone
	if _, err = New(t.Context(), cfg); err == nil || IsSpecError(err) || !strings.Contains(err.Error(), "KEDA scalers adapter at "+gone) {
		t.Errorf("adapter down: %v", err)
	}
}

// mTLS to the adapter: the client presents the certificate of --external-scaler-cert-file and
// verifies the server against --external-scaler-ca-file; an adapter that requires client
// certificates refuses a plaintext client.
func TestAdapterMTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	serverCert := ca.issue(t, "adapter", x509.ExtKeyUsageServerAuth, "127.0.0.1")
	clientCert := ca.issue(t, "fleetscale-controller", x509.ExtKeyUsageClientAuth)
	writePEM(t, filepath.Join(dir, "ca.crt"), "CERTIFICATE", ca.der)
	writePEM(t, filepath.Join(dir, "tls.crt"), "CERTIFICATE", clientCert.Certificate[0])
	key, _ := x509.MarshalPKCS8PrivateKey(clientCert.PrivateKey)
	writePEM(t, filepath.Join(dir, "tls.key"), "PRIVATE KEY", key)

	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	s := newTestScaler()
	s.value.Store(4)
	addr := serve(t, s, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{serverCert},
		ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12})))

	tlsCfg, err := ExternalScalerTLS(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), "")
	if err != nil {
		t.Fatal(err)
	}
	trigger := v1alpha1.ScaleTriggers{Type: "rabbitmq", Metadata: map[string]string{"queueName": "q"}}
	sc, err := New(t.Context(), Config{Trigger: trigger, Options: Options{ExternalScalerAddress: addr, ExternalScalerTLS: tlsCfg}})
	if err != nil {
		t.Fatalf("mTLS: %v", err)
	}
	if values, _, err := sc.GetMetricsAndActivity(t.Context()); err != nil || values[0].Value != 4 {
		t.Fatalf("values %v err %v", values, err)
	}
	_ = sc.Close(t.Context())
	if _, err := New(t.Context(), Config{Trigger: trigger, Options: Options{ExternalScalerAddress: addr}}); err == nil {
		t.Error("a plaintext client reached an mTLS adapter")
	}

	for _, tt := range []struct{ ca, cert, key, name, want string }{
		{ca: filepath.Join(dir, "ca.crt"), want: "needs all of"},
		{name: "adapter", want: "--external-scaler-server-name needs"},
		{ca: filepath.Join(dir, "missing"), cert: filepath.Join(dir, "tls.crt"), key: filepath.Join(dir, "tls.key"), want: "--external-scaler-ca-file"},
	} {
		if _, err := ExternalScalerTLS(tt.ca, tt.cert, tt.key, tt.name); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v", tt, err)
		}
	}
	if c, err := ExternalScalerTLS("", "", "", ""); c != nil || err != nil {
		t.Errorf("no files: %v %v", c, err)
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:9000": true, "localhost:1": true, "[::1]:2": true,
		"10.0.0.1:9000": false, "adapter.keda.svc:9000": false, "127.0.0.1": false} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v", addr, got)
		}
	}
}

type testCA struct {
	cert *x509.Certificate
	der  []byte
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, der: der, key: key}
}

func (ca *testCA) issue(t *testing.T, cn string, usage x509.ExtKeyUsage, ips ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	for _, ip := range ips {
		tpl.IPAddresses = append(tpl.IPAddresses, net.ParseIP(ip))
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
