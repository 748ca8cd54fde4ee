package adapter

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	. "github.com/onsi/gomega"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// Plaintext is refused on any address that is not loopback, and half a TLS configuration
// is refused everywhere, before anything listens.
func TestNonLoopbackListenNeedsMTLS(t *testing.T) {
	g := NewWithT(t)
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:9090", "example.com:9090"} {
		err := Run(t.Context(), Config{Listen: addr})
		g.Expect(err).To(MatchError(ContainSubstring("not a loopback address")), addr)
		g.Expect(err).To(MatchError(ContainSubstring("--tls-client-ca-file")), addr)
	}
	err := Run(t.Context(), Config{Listen: "127.0.0.1:0", TLSCertFile: "/x/tls.crt", TLSKeyFile: "/x/tls.key"})
	g.Expect(err).To(MatchError(ContainSubstring("missing [--tls-client-ca-file]")))
	for addr, want := range map[string]bool{"127.0.0.1:1": true, "127.8.9.10:1": true, "[::1]:1": true, "localhost:1": true, ":1": false, "10.0.0.1:1": false} {
		got, err := IsLoopback(addr)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(got).To(Equal(want), addr)
	}
}

// With the TLS files the adapter serves mTLS: a client with a certificate of the client CA
// is served; one without a certificate, one with a certificate of another CA, and a plaintext
// client are not.
func TestMTLS(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	serverCA, clientCA, otherCA := newCA(t, "server-ca"), newCA(t, "client-ca"), newCA(t, "other-ca")
	serverCert := serverCA.issue(t, "fleetscale-keda-scalers", x509.ExtKeyUsageServerAuth, "127.0.0.1")
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		g.Expect(os.WriteFile(p, data, 0o600)).To(Succeed())
		return p
	}
	certFile, keyFile := write("tls.crt", serverCert.certPEM), write("tls.key", serverCert.keyPEM)
	caFile := write("client-ca.crt", clientCA.certPEM)
	// Listening on every interface is allowed with mTLS; the test dials loopback.
	addr := startedAddr(t, Config{Listen: ":0", TLSCertFile: certFile, TLSKeyFile: keyFile, TLSClientCAFile: caFile})
	_, port, _ := net.SplitHostPort(addr)
	target := net.JoinHostPort("127.0.0.1", port)

	roots := x509.NewCertPool()
	roots.AddCert(serverCA.cert)
	dial := func(creds credentials.TransportCredentials) error {
		conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(creds))
		g.Expect(err).NotTo(HaveOccurred())
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		// An unknown type answers InvalidArgument once the handshake went through.
		_, err = externalscaler.NewExternalScalerClient(conn).IsActive(ctx, &externalscaler.ScaledObjectRef{ScalerMetadata: map[string]string{keyTriggerType: "none"}})
		return err
	}
	good := clientCA.issue(t, "fleetscale-controller", x509.ExtKeyUsageClientAuth)
	err := dial(credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: "127.0.0.1", Certificates: []tls.Certificate{good.pair(t)}}))
	g.Expect(status.Code(err)).To(Equal(codes.InvalidArgument), "%v", err)

	err = dial(credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}))
	g.Expect(status.Code(err)).To(Equal(codes.Unavailable), "no client certificate: %v", err)
	stranger := otherCA.issue(t, "stranger", x509.ExtKeyUsageClientAuth)
	err = dial(credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: "127.0.0.1", Certificates: []tls.Certificate{stranger.pair(t)}}))
	g.Expect(status.Code(err)).To(Equal(codes.Unavailable), "client certificate of another CA: %v", err)
	err = dial(insecure.NewCredentials())
	g.Expect(status.Code(err)).To(Equal(codes.Unavailable), "plaintext: %v", err)
}

// startedAddr runs the adapter and returns the address it listens on.
func startedAddr(t *testing.T, cfg Config) string {
	t.Helper()
	addr := make(chan string, 1)
	cfg.Ready = func(a net.Addr, _ *Server) { addr <- a.String() }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case a := <-addr:
		return a
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(timeout):
		t.Fatal("the adapter did not start")
	}
	return ""
}

type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

type testCert struct{ certPEM, keyPEM []byte }

func (c testCert) pair(t *testing.T) tls.Certificate {
	p, err := tls.X509KeyPair(c.certPEM, c.keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

func (ca *testCA) issue(t *testing.T, cn string, usage x509.ExtKeyUsage, ips ...string) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return testCert{certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})}
}
