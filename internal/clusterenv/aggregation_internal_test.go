package clusterenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// The options reach the command lines: aggregation flags point at files that exist, the
// HPA sync period goes to kube-controller-manager only when set, and both survive state.json.
func TestAggregationAndHPASyncPeriodReachTheCommandLines(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	pki, err := writePKI(filepath.Join(dir, "pki"))
	g.Expect(err).NotTo(HaveOccurred())
	fp, err := writeFrontProxyPKI(filepath.Join(dir, "front-proxy"))
	g.Expect(err).NotTo(HaveOccurred())

	withOpts := &Cluster{Name: "agg", Dir: dir, Options: ClusterOptions{Full: true, Aggregation: true, HPASyncPeriod: 2 * time.Second}, frontProxy: fp}
	procs := withOpts.newProcesses("/bin", "http://127.0.0.1:1", pki, false)
	api := procs[0].args
	for _, flag := range []string{"--requestheader-client-ca-file=", "--proxy-client-cert-file=", "--proxy-client-key-file="} {
		v := valueOf(api, flag)
		g.Expect(v).NotTo(BeEmpty(), "missing %s", flag)
		g.Expect(os.Stat(v)).Error().NotTo(HaveOccurred())
	}
	g.Expect(api).To(ContainElement("--enable-aggregator-routing=true"))
	g.Expect(procs[1].name).To(Equal(ProcKubeControllerManager))
	g.Expect(procs[1].args).To(ContainElement("--horizontal-pod-autoscaler-sync-period=2s"))

	plain := &Cluster{Name: "plain", Dir: dir, Options: ClusterOptions{Full: true}}
	procs = plain.newProcesses("/bin", "http://127.0.0.1:1", pki, false)
	g.Expect(valueOf(procs[0].args, "--requestheader-client-ca-file=")).To(BeEmpty())
	g.Expect(valueOf(procs[1].args, "--horizontal-pod-autoscaler-sync-period=")).To(BeEmpty())

	e := &Env{Dir: dir, etcd: &process{name: ProcEtcd}}
	withOpts.env, withOpts.procs = e, []*process{{name: ProcKubeAPIServer}}
	e.Hub = withOpts
	withOpts.KubeconfigPath = filepath.Join(dir, "agg.kubeconfig")
	g.Expect(writeKubeconfig(withOpts.KubeconfigPath, "agg", "https://127.0.0.1:1", pki.caPEM, "t")).To(Succeed())
	g.Expect(e.save()).To(Succeed())
	loaded, err := Load(dir)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(loaded.Hub.Options).To(Equal(withOpts.Options))
}

func valueOf(args []string, prefix string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, prefix); ok {
			return v
		}
	}
	return ""
}
