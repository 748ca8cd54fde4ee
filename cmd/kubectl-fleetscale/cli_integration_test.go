package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	fleetv1 "github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/clusterenv"
	"github.com/fleetscale/fleetscale/internal/plugin"
)

// registrationOf is what setup-member names the member-side objects of member in hub
// namespace keda.
func registrationOf(t *testing.T, env *clusterenv.Env, member string) plugin.Registration {
	t.Helper()
	sys, err := env.Hub.Clientset().CoreV1().Namespaces().Get(context.Background(), metav1.NamespaceSystem, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return plugin.RegistrationFor(string(sys.UID), plugin.DefaultNamespace, member)
}

// The walkthrough's step 4 and the delete of step 7, through the command line.
func TestMemberCommands(t *testing.T) {
	env := envFor(t)
	hub, member := env.Hub.KubeconfigPath, env.Members[0].KubeconfigPath
	const name = "k3d-member-1"
	// Nothing else tells the plugin where the hub is: the member kubeconfig is not a hub.
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))

	r := kfs(t, "", false, "mc", "setup-member", name, "--keda-kubeconfig", hub, "--member-kubeconfig", member)
	if r.code != 0 || r.errOut != "" {
		t.Fatalf("setup-member: %+v", r)
	}
	sa := registrationOf(t, env, name).ServiceAccount
	for _, w := range []string{
		"member: namespace keda created", "member: serviceaccount keda/" + sa + " created",
		"member: clusterrole " + sa + " created", "member: clusterrolebinding " + sa + " created",
		"member: role keda/" + sa + "-token created", "member: token for serviceaccount keda/" + sa + " issued",
		"hub: namespace keda created", "hub: secret keda/fleetscale-member-k3d-member-1 created",
		"hub: membercluster keda/k3d-member-1 created", "Member k3d-member-1 registered in namespace keda",
	} {
		if !strings.Contains(r.out, w) {
			t.Errorf("setup-member output lacks %q:\n%s", w, r.out)
		}
	}

	r = kfs(t, "", false, "mc", "setup-member", name, "--kubeconfig", hub, "--member-kubeconfig", member)
	if r.code != 0 || !strings.HasPrefix(r.out, "Member k3d-member-1 is already registered and up to date") || strings.Count(r.out, "\n") != 1 {
		t.Fatalf("second setup-member: %+v", r)
	}

	other := strings.Replace(env.Members[0].APIURL, "127.0.0.1", "localhost", 1)
	r = kfs(t, "", false, "mc", "setup-member", name, "--kubeconfig", hub, "--member-kubeconfig", member, "--member-api-url", other)
	expectFailure(t, r, "member k3d-member-1 is already registered with API URL "+env.Members[0].APIURL+"; rerun with -y to replace it with "+other)
	r = kfs(t, "no\n", true, "mc", "setup-member", name, "--kubeconfig", hub, "--member-kubeconfig", member, "--member-api-url", other)
	expectFailure(t, r, "aborted: member k3d-member-1 still points at "+env.Members[0].APIURL)
	if !strings.Contains(r.out, "Replace it with "+other+"? [y/N]: ") {
		t.Errorf("no question asked: %q", r.out)
	}

	// The hub from KUBECONFIG.
	t.Setenv("KUBECONFIG", hub)
	r = kfs(t, "", false, "mc", "list-members")
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if r.code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "NAME") ||
		strings.Join(strings.Fields(lines[1])[:5], " ") != name+" NotReady "+env.Members[0].APIURL+" <none> <none>" {
		t.Fatalf("list-members: %+v", r)
	}
	r = kfs(t, "", false, "mc", "list-members", "-o", "json")
	var list fleetv1.MemberClusterList
	if err := json.Unmarshal([]byte(r.out), &list); err != nil || len(list.Items) != 1 || list.Items[0].Spec.KubeconfigSecretRef.Name != "fleetscale-member-"+name {
		t.Fatalf("list-members -o json: %v %+v", err, r)
	}
	r = kfs(t, "", false, "mc", "list-members", "-n", "elsewhere")
	if r.code != 0 || r.out != "" || r.errOut != "No members registered in namespace elsewhere.\n" {
		t.Fatalf("empty list: %+v", r)
	}
	r = kfs(t, "", false, "__complete", "mc", "delete-member", "")
	if r.code != 0 || !strings.HasPrefix(r.out, name+"\n") {
		t.Fatalf("member name completion: %+v", r)
	}

	// Not a terminal: like kubectl delete, no question.
	r = kfs(t, "", false, "mc", "delete-member", name, "--member-kubeconfig", member)
	if r.code != 0 || !strings.Contains(r.out, "member: serviceaccount keda/"+sa+" deleted") ||
		!strings.HasSuffix(r.out, "Member k3d-member-1 deleted.\n") {
		t.Fatalf("delete-member: %+v", r)
	}
	expectFailure(t, kfs(t, "", false, "mc", "delete-member", name), "member k3d-member-1 is not registered in namespace keda of the hub cluster at "+env.Hub.APIURL)
	r = kfs(t, "", false, "mc", "list-members")
	if r.code != 0 || r.errOut != "No members registered in namespace keda.\n" {
		t.Fatalf("list after delete: %+v", r)
	}

	// The member's apiserver is not a hub: it has no MemberCluster API.
	expectFailure(t, kfs(t, "", false, "mc", "list-members", "--kubeconfig", member),
		"the hub cluster at "+env.Members[0].APIURL+" does not serve memberclusters.keda.kedify.io")
}
