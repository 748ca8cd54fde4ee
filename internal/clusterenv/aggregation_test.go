package clusterenv_test

import (
	"crypto/x509"
	"encoding/pem"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fleetscale/fleetscale/internal/clusterenv"
)

// An apiserver started with Aggregation publishes the front-proxy CA and the allowed client
// name in kube-system/extension-apiserver-authentication, which is where extension
// apiservers (KEDA's metrics server) read how to trust the aggregator's requests.
func TestAggregationPublishesTheFrontProxyCA(t *testing.T) {
	g := NewWithT(t)
	env := shared.Env(t)
	ctx := t.Context()

	const name = "extension-apiserver-authentication"
	cm, err := env.Hub.Clientset().CoreV1().ConfigMaps(metav1.NamespaceSystem).Get(ctx, name, metav1.GetOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cm.Data).To(HaveKeyWithValue("requestheader-allowed-names", `["`+clusterenv.FrontProxyClientName+`"]`))
	g.Expect(cm.Data).To(HaveKeyWithValue("requestheader-username-headers", `["X-Remote-User"]`))
	block, _ := pem.Decode([]byte(cm.Data["requestheader-client-ca-file"]))
	g.Expect(block).NotTo(BeNil(), "requestheader-client-ca-file holds no PEM certificate")
	ca, err := x509.ParseCertificate(block.Bytes)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ca.IsCA).To(BeTrue())
	// Its own CA, not the client CA: a client certificate cannot pose as the aggregator.
	g.Expect(cm.Data["client-ca-file"]).NotTo(ContainSubstring(cm.Data["requestheader-client-ca-file"]))

	// A cluster without the option has no request-header settings.
	cm, err = env.Member(0).Clientset().CoreV1().ConfigMaps(metav1.NamespaceSystem).Get(ctx, name, metav1.GetOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cm.Data).NotTo(HaveKey("requestheader-client-ca-file"))
}
