package clusterenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"os"
	"path/filepath"
	"time"
)

// FrontProxyClientName is the common name of the certificate the aggregator presents to
// extension apiservers, and the only name --requestheader-allowed-names accepts.
const FrontProxyClientName = "front-proxy-client"

// frontProxyPKI is what an apiserver with ClusterOptions.Aggregation needs: its own CA for
// the request-header (front proxy) client, kept apart from the client CA as kubeadm does, so
// no ordinary client certificate can assert X-Remote-User to an extension apiserver.
type frontProxyPKI struct {
	caCert, clientCert, clientKey string
}

func writeFrontProxyPKI(dir string) (*frontProxyPKI, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "clusterenv-front-proxy-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	clientKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	clientTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: FrontProxyClientName},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	clientDER, err := x509.CreateCertificate(rand.Reader, clientTmpl, ca, &clientKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	keyPEM, err := ecKeyPEM(clientKey)
	if err != nil {
		return nil, err
	}
	p := &frontProxyPKI{
		caCert:     filepath.Join(dir, "ca.crt"),
		clientCert: filepath.Join(dir, "client.crt"),
		clientKey:  filepath.Join(dir, "client.key"),
	}
	for path, data := range map[string][]byte{
		p.caCert:     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		p.clientCert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: clientDER}),
		p.clientKey:  keyPEM,
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// apiserverArgs are kube-apiserver's aggregation flags, with kubeadm's header names.
func (p *frontProxyPKI) apiserverArgs() []string {
	return []string{
		"--requestheader-client-ca-file=" + p.caCert,
		"--requestheader-allowed-names=" + FrontProxyClientName,
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + p.clientCert,
		"--proxy-client-key-file=" + p.clientKey,
		// No kube-proxy: dial the Service's endpoints instead of its cluster IP.
		"--enable-aggregator-routing=true",
	}
}
