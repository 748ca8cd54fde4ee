package plugin

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

func TestResolveHubKubeconfig(t *testing.T) {
	sep := string(filepath.ListSeparator)
	for _, tc := range []struct {
		desc                  string
		keda, kubeconfig, env string
		wantExplicit          string
		wantPrecedence        []string
	}{
		{desc: "--keda-kubeconfig wins over everything", keda: "/k", kubeconfig: "/c", env: "/e", wantExplicit: "/k"},
		{desc: "--kubeconfig next", kubeconfig: "/c", env: "/e", wantExplicit: "/c"},
		{desc: "then KUBECONFIG", env: "/e", wantPrecedence: []string{"/e"}},
		{desc: "KUBECONFIG lists merge in order", env: "/a" + sep + sep + "/b", wantPrecedence: []string{"/a", "/b"}},
		{desc: "then ~/.kube/config", wantPrecedence: []string{"/home/u/.kube/config"}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			got := ResolveHubKubeconfig(tc.keda, tc.kubeconfig, tc.env, "/home/u")
			if got.Explicit != tc.wantExplicit || !reflect.DeepEqual(got.Precedence, tc.wantPrecedence) {
				t.Fatalf("got %+v, want explicit %q precedence %q", got, tc.wantExplicit, tc.wantPrecedence)
			}
		})
	}
}

// writeKubeconfig writes a kubeconfig with two contexts, "one" (current) and "two".
func writeKubeconfig(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	data := `apiVersion: v1
kind: Config
clusters:
- name: one
  cluster: {server: "https://one.example:6443", certificate-authority-data: ` + base64.StdEncoding.EncodeToString([]byte("CA-ONE")) + `}
- name: two
  cluster: {server: "https://two.example:6443", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: secret-token}
contexts:
- name: one
  context: {cluster: one, user: u}
- name: two
  context: {cluster: two, user: u}
current-context: one
`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadHubConfigOrder(t *testing.T) {
	dir := t.TempDir()
	keda := writeKubeconfig(t, dir, "keda")
	other := filepath.Join(dir, "missing")
	t.Setenv("KUBECONFIG", other)
	cfg, err := LoadHubConfig(HubFlags{KedaKubeconfig: keda, Kubeconfig: other})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://one.example:6443" {
		t.Fatalf("host %q, want the current context of --keda-kubeconfig", cfg.Host)
	}
	cfg, err = LoadHubConfig(HubFlags{Kubeconfig: keda, Context: "two", KedaContext: ""})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://two.example:6443" || !cfg.Insecure {
		t.Fatalf("--context two: host %q insecure %v", cfg.Host, cfg.Insecure)
	}
	cfg, err = LoadHubConfig(HubFlags{Kubeconfig: keda, Context: "one", KedaContext: "two"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://two.example:6443" {
		t.Fatalf("--keda-context must win over --context, got %q", cfg.Host)
	}
	t.Setenv("KUBECONFIG", other+string(filepath.ListSeparator)+keda)
	cfg, err = LoadHubConfig(HubFlags{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://one.example:6443" {
		t.Fatalf("KUBECONFIG: host %q", cfg.Host)
	}
	if cfg.Timeout == 0 {
		t.Fatal("no request timeout set")
	}
}

func TestLoadKubeconfigErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("clusters: [:"), 0o600); err != nil {
		t.Fatal(err)
	}
	unreadable := filepath.Join(dir, "noperm")
	if err := os.WriteFile(unreadable, []byte("{}"), 0o000); err != nil {
		t.Fatal(err)
	}
	good := writeKubeconfig(t, dir, "good")
	for _, tc := range []struct {
		desc string
		load func() error
		want []string
	}{
		{"missing hub file", func() error {
			_, err := LoadHubConfig(HubFlags{KedaKubeconfig: filepath.Join(dir, "nope")})
			return err
		},
			[]string{"hub kubeconfig", filepath.Join(dir, "nope"), "no such file"}},
		{"missing member file", func() error { _, err := LoadMemberConfig(filepath.Join(dir, "nope"), ""); return err },
			[]string{"member kubeconfig", filepath.Join(dir, "nope")}},
		{"invalid YAML", func() error { _, err := LoadMemberConfig(bad, ""); return err },
			[]string{"member kubeconfig", bad, "not a valid kubeconfig"}},
		{"invalid YAML in KUBECONFIG", func() error {
			t.Setenv("KUBECONFIG", bad)
			_, err := LoadHubConfig(HubFlags{})
			return err
		}, []string{"hub kubeconfig", bad}},
		{"unknown context", func() error { _, err := LoadMemberConfig(good, "three"); return err },
			[]string{"member kubeconfig", good, `"three"`}},
		{"empty", func() error {
			t.Setenv("KUBECONFIG", filepath.Join(dir, "absent"))
			_, err := LoadHubConfig(HubFlags{})
			return err
		}, []string{"no hub kubeconfig", filepath.Join(dir, "absent")}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			err := tc.load()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
	if os.Geteuid() != 0 { // root reads anything
		_, err := LoadMemberConfig(unreadable, "")
		if err == nil || !strings.Contains(err.Error(), unreadable) || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("unreadable file: %v", err)
		}
	}
}

func TestAccessFromConfig(t *testing.T) {
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(caFile, []byte("CA-FROM-FILE"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &rest.Config{Host: "https://127.0.0.1:6443/"}
	cfg.CAFile = caFile
	a, err := accessFromConfig(cfg, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if a.Server != "https://127.0.0.1:6443" || string(a.CAData) != "CA-FROM-FILE" || a.Insecure {
		t.Fatalf("got %+v", a)
	}
	cfg = &rest.Config{Host: "https://127.0.0.1:6443"}
	cfg.CAData = []byte("CA-DATA")
	cfg.ServerName = "kubernetes"
	a, err = accessFromConfig(cfg, "https://host.k3d.internal:65501", false)
	if err != nil {
		t.Fatal(err)
	}
	if a.Server != "https://host.k3d.internal:65501" || string(a.CAData) != "CA-DATA" || a.TLSServerName != "kubernetes" {
		t.Fatalf("got %+v", a)
	}
	cfg = &rest.Config{Host: "https://x:1"}
	cfg.Insecure = true
	if _, err = accessFromConfig(cfg, "", false); err == nil || !strings.Contains(err.Error(), "insecure-skip-tls-verify") ||
		!strings.Contains(err.Error(), "--allow-insecure") {
		t.Fatalf("insecure accepted without --allow-insecure: %v", err)
	}
	if a, err = accessFromConfig(cfg, "", true); err != nil || !a.Insecure {
		t.Fatalf("insecure not carried over: %+v %v", a, err)
	}
	for _, bad := range []string{"host.k3d.internal:65501", "ftp://x", "https://", "://x"} {
		if _, err := accessFromConfig(cfg, bad, true); err == nil {
			t.Errorf("API URL %q accepted", bad)
		}
	}
	secure := &rest.Config{Host: "https://x:1"}
	_, err = accessFromConfig(secure, "http://x:6443", false)
	if err == nil || !strings.Contains(err.Error(), `member API URL "http://x:6443" is plain http`) || !strings.Contains(err.Error(), "--allow-insecure") {
		t.Errorf("http accepted without --allow-insecure: %v", err)
	}
	if a, err := accessFromConfig(secure, "http://x:6443", true); err != nil || a.Server != "http://x:6443" {
		t.Errorf("http with --allow-insecure: %+v %v", a, err)
	}
	_, err = accessFromConfig(secure, "https://admin:hunter2@x:6443", true)
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "must not carry credentials") {
		t.Errorf("URL with credentials: %v", err)
	}
	cfg = &rest.Config{Host: "https://x:1"}
	cfg.CAFile = filepath.Join(dir, "gone.crt")
	if _, err := accessFromConfig(cfg, "", false); err == nil || !strings.Contains(err.Error(), "gone.crt") {
		t.Fatalf("missing CA file: %v", err)
	}
}

func TestMemberKubeconfigRoundTrip(t *testing.T) {
	a := memberAccess{Server: "https://host.k3d.internal:65501", CAData: []byte("CA"), TLSServerName: "kubernetes"}
	data, err := buildMemberKubeconfig("k3d-member-1", "keda", a, "tok")
	if err != nil {
		t.Fatal(err)
	}
	st, err := parseStoredKubeconfig(data)
	if err != nil {
		t.Fatal(err)
	}
	if !sameAccess(st.Access, a) || st.Token != "tok" {
		t.Fatalf("round trip: %+v", st)
	}
	// What the hub-side registry does with it.
	cfg, err := clientcmd.RESTConfigFromKubeConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != a.Server || cfg.BearerToken != "tok" || string(cfg.CAData) != "CA" {
		t.Fatalf("rest config %+v", cfg)
	}
	raw, _ := clientcmd.Load(data)
	if raw.CurrentContext != "k3d-member-1" || raw.Contexts["k3d-member-1"].Namespace != "keda" {
		t.Fatalf("context: %+v", raw.Contexts)
	}
}
