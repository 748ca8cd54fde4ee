package plugin

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

func TestParseStatusKind(t *testing.T) {
	for in, want := range map[string]string{
		"dso": KindDSO, "DSO": KindDSO, "distributedscaledobject": KindDSO, "DistributedScaledObjects": KindDSO,
		"dsj": KindDSJ, "distributedscaledjob": KindDSJ, "distributedscaledjobs.keda.kedify.io": KindDSJ,
	} {
		if got, err := ParseStatusKind(in); err != nil || got != want {
			t.Errorf("ParseStatusKind(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseStatusKind("deployment"); err == nil {
		t.Error("ParseStatusKind(deployment) did not fail")
	}
}

// -n defaults to the namespace of the hub kubeconfig's context, as kubectl's does.
func TestHubNamespace(t *testing.T) {
	dir := t.TempDir()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1"}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "t"}
	cfg.Contexts["team"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u", Namespace: "team-a"}
	cfg.Contexts["plain"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	cfg.CurrentContext = "team"
	path := filepath.Join(dir, "hub.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", filepath.Join(dir, "none"))
	if got := HubNamespace(HubFlags{KedaKubeconfig: path}); got != "team-a" {
		t.Errorf("current context: %q, want team-a", got)
	}
	if got := HubNamespace(HubFlags{Kubeconfig: path, Context: "plain"}); got != "default" {
		t.Errorf("context without a namespace: %q, want default", got)
	}
	t.Setenv("KUBECONFIG", path)
	if got := HubNamespace(HubFlags{KedaContext: "team"}); got != "team-a" {
		t.Errorf("KUBECONFIG: %q, want team-a", got)
	}
	_ = os.Remove(path)
	if got := HubNamespace(HubFlags{KedaKubeconfig: path}); got != "default" {
		t.Errorf("missing kubeconfig: %q, want default", got)
	}
}
