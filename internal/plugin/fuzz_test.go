package plugin

import (
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// FuzzSetupInputs: whatever the flags of setup-member say, the options are refused with a
// one-line message, or they are well formed: a DNS-label name and namespaces, sorted unique
// target namespaces and API groups, a token lifetime the API server grants, and an https
// URL unless --allow-insecure.
func FuzzSetupInputs(f *testing.F) {
	f.Add("k3d-member-1", "keda", "apps-a,apps-b", "apps,core", "https://m:6443", int64(time.Hour), false)
	f.Add("Member_1", "", "a,,a", "*", "http://m", int64(0), true)
	f.Add("m", "kube-system", "", "argoproj.io", "https://user:pw@m:6443", int64(time.Second), false)
	f.Add(strings.Repeat("a", 64), "x", "-bad", "Apps", "ftp://m", int64(-1), true)
	f.Fuzz(func(t *testing.T, name, ns, targets, groups, apiURL string, ttl int64, insecure bool) {
		o := SetupOptions{Name: name, Namespace: ns, Hub: &rest.Config{}, Member: &rest.Config{Host: "https://member:6443"},
			TokenTTL: time.Duration(ttl), MemberAPIURL: apiURL, AllowInsecure: insecure}
		if targets != "" {
			o.TargetNamespaces = strings.Split(targets, ",")
		}
		if groups != "" {
			o.ScaleAPIGroups = strings.Split(groups, ",")
		}
		err := o.complete()
		if err == nil {
			var a memberAccess
			a, err = accessFromConfig(o.Member, o.MemberAPIURL, o.AllowInsecure)
			if err == nil && !strings.HasPrefix(a.Server, "https://") && !(insecure && strings.HasPrefix(a.Server, "http://")) {
				t.Fatalf("accepted API URL %q", a.Server)
			}
		}
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("message spans lines: %q", err)
			}
			if strings.Contains(apiURL, "@") && strings.Contains(err.Error(), apiURL) && strings.Contains(apiURL, ":") {
				t.Fatalf("the URL's credentials are echoed: %v", err)
			}
			return
		}
		if ValidateMemberName(o.Name) != nil || validateNamespaceName("-n", o.Namespace) != nil || o.TokenTTL < MinTokenTTL {
			t.Fatalf("accepted %+v", o)
		}
		for i, ns := range o.TargetNamespaces {
			if validateNamespaceName("--target-namespaces", ns) != nil || (i > 0 && o.TargetNamespaces[i-1] >= ns) {
				t.Fatalf("target namespaces %q", o.TargetNamespaces)
			}
		}
		for i, g := range o.ScaleAPIGroups {
			if i > 0 && o.ScaleAPIGroups[i-1] >= g {
				t.Fatalf("scale API groups %q", o.ScaleAPIGroups)
			}
		}
	})
}

// FuzzParseStoredKubeconfig: the kubeconfig read back from a hub Secret never panics the
// plugin, whatever the Secret holds.
func FuzzParseStoredKubeconfig(f *testing.F) {
	good, _ := buildMemberKubeconfig("m", "keda", memberAccess{Server: "https://m:6443", CAData: []byte("CA")}, "tok")
	f.Add(good)
	f.Add([]byte("current-context: x\n"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := parseStoredKubeconfig(data)
		if err == nil && st.Access.Server == "" && st.Token == "" && len(data) == 0 {
			t.Fatalf("empty input parsed: %+v", st)
		}
	})
}
