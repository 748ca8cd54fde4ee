package member

import (
	"errors"
	"strings"
	"testing"
)

// kubeconfigWith returns a kubeconfig whose cluster and user entries get the given extra
// YAML lines (indented under them).
func kubeconfigWith(cluster, user string) string {
	return `apiVersion: v1
kind: Config
current-context: m
contexts:
- name: m
  context: {cluster: c, user: u}
clusters:
- name: c
  cluster:
    server: https://member.example:6443
` + indent(cluster, "    ") + `users:
- name: u
  user:
` + indent(user, "    ")
}

func indent(s, prefix string) string {
	if s == "" {
		return ""
	}
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		b.WriteString(prefix + l + "\n")
	}
	return b.String()
}

const caData = "certificate-authority-data: " + "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==" + "\n"

func TestParseKubeconfigRefusesAllButTheAllowedFields(t *testing.T) {
	for _, tc := range []struct {
		name, cluster, user string
		// wantErr is a substring of the error; "" means accepted.
		wantErr string
	}{
		{name: "token and CA data", cluster: caData + "tls-server-name: kubernetes\n", user: "token: abc\n"},
		{name: "insecure without CA", cluster: "insecure-skip-tls-verify: true\n", user: "token: abc\n"},
		{name: "exec plugin", user: "token: abc\nexec:\n  apiVersion: client.authentication.k8s.io/v1\n  command: /bin/sh\n  args: [-c, touch /tmp/x]\n",
			wantErr: `users["u"].exec is not allowed`},
		{name: "auth provider", user: "auth-provider:\n  name: oidc\n  config: {idp-issuer-url: https://x}\n", wantErr: `users["u"].auth-provider is not allowed`},
		{name: "token file", user: "tokenFile: /var/run/secrets/token\n", wantErr: `users["u"].tokenFile is not allowed`},
		{name: "client certificate file", user: "token: abc\nclient-certificate: /etc/cert.pem\n", wantErr: `users["u"].client-certificate is not allowed`},
		{name: "client key file", user: "token: abc\nclient-key: /etc/key.pem\n", wantErr: `users["u"].client-key is not allowed`},
		{name: "client certificate data", user: "client-certificate-data: " + "LS0tLQ==" + "\n", wantErr: `users["u"].client-certificate-data is not allowed`},
		{name: "client key data", user: "token: abc\nclient-key-data: " + "LS0tLQ==" + "\n", wantErr: `users["u"].client-key-data is not allowed`},
		{name: "basic auth", user: "username: admin\npassword: secret\n", wantErr: `users["u"].username is not allowed`},
		{name: "impersonation", user: "token: abc\nas: system:admin\n", wantErr: `users["u"].as is not allowed`},
		{name: "impersonated groups", user: "token: abc\nas-groups: [system:masters]\n", wantErr: `users["u"].as-groups is not allowed`},
		{name: "impersonated uid", user: "token: abc\nas-uid: \"1\"\n", wantErr: `users["u"].as-uid is not allowed`},
		{name: "impersonated extra", user: "token: abc\nas-user-extra: {k: [v]}\n", wantErr: `users["u"].as-user-extra is not allowed`},
		{name: "proxy", cluster: "proxy-url: http://proxy:3128\n", user: "token: abc\n", wantErr: `clusters["c"].proxy-url is not allowed`},
		{name: "CA file", cluster: "certificate-authority: /etc/ca.pem\n", user: "token: abc\n", wantErr: `clusters["c"].certificate-authority (a file path`},
		{name: "no token", user: "{}\n", wantErr: `users["u"] has no token`},
		{name: "insecure and CA", cluster: caData + "insecure-skip-tls-verify: true\n", user: "token: abc\n", wantErr: "sets both insecure-skip-tls-verify and certificate-authority-data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CheckRegistration("", []byte(kubeconfigWith(tc.cluster, tc.user)))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
			case err != nil && !errors.Is(err, ErrInvalidKubeconfig):
				t.Fatalf("%v does not wrap ErrInvalidKubeconfig", err)
			case err != nil && (strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "touch")):
				t.Fatalf("the error echoes a value from the kubeconfig: %v", err)
			}
		})
	}
}

func TestParseKubeconfigSelectsTheContext(t *testing.T) {
	for _, tc := range []struct{ name, kubeconfig, wantErr string }{
		{name: "not YAML", kubeconfig: "{{{", wantErr: "not a kubeconfig"},
		{name: "empty", kubeconfig: "", wantErr: "has no current-context"},
		{name: "unknown current context", kubeconfig: "apiVersion: v1\nkind: Config\ncurrent-context: x\n", wantErr: `current-context "x" is not among its contexts`},
		{name: "missing cluster", kubeconfig: "apiVersion: v1\nkind: Config\ncurrent-context: m\ncontexts:\n- name: m\n  context: {cluster: c, user: u}\n",
			wantErr: `names cluster "c", which it does not define`},
		{name: "the only context without current-context", kubeconfig: strings.Replace(kubeconfigWith("", "token: abc\n"), "current-context: m\n", "", 1)},
		// Another user in the file is never used, so it does not matter what it holds.
		{name: "an unused exec user", kubeconfig: kubeconfigWith("", "token: abc\n") + "- name: other\n  user:\n    exec: {command: /bin/false, apiVersion: client.authentication.k8s.io/v1}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CheckRegistration("", []byte(tc.kubeconfig))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestCheckRegistrationServerAndWarnings(t *testing.T) {
	token := "token: abc\n"
	for _, tc := range []struct {
		name, apiURL, kubeconfig string
		wantErr                  string
		wantWarnings             []string
	}{
		{name: "same URL", apiURL: "https://member.example:6443/", kubeconfig: kubeconfigWith(caData, token)},
		{name: "plain http", apiURL: "http://member.example:6443", kubeconfig: kubeconfigWith("", token),
			wantWarnings: []string{"not to the server https://member.example:6443", "plain http: the token crosses the network in clear text"}},
		{name: "insecure", kubeconfig: kubeconfigWith("insecure-skip-tls-verify: true\n", token),
			wantWarnings: []string{"insecure-skip-tls-verify: the hub does not verify the member's certificate"}},
		{name: "apiURL with credentials", apiURL: "https://user:pw@member.example", kubeconfig: kubeconfigWith("", token), wantErr: "spec.apiURL: \"https://user:pw@member.example\" carries credentials"},
		{name: "server with another scheme", kubeconfig: strings.Replace(kubeconfigWith("", token), "https://", "unix://", 1), wantErr: "the scheme must be https"},
		{name: "server without host", kubeconfig: strings.Replace(kubeconfigWith("", token), "https://member.example:6443", "https://", 1), wantErr: "has no host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			warnings, err := CheckRegistration(tc.apiURL, []byte(tc.kubeconfig))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(warnings) != len(tc.wantWarnings) {
				t.Fatalf("warnings %q, want %d", warnings, len(tc.wantWarnings))
			}
			for i, w := range tc.wantWarnings {
				if !strings.Contains(warnings[i], w) {
					t.Errorf("warning %d %q lacks %q", i, warnings[i], w)
				}
			}
		})
	}
}

func TestRestConfigUsesOnlyTheAllowedFields(t *testing.T) {
	kc := kubeconfigWith(caData+"tls-server-name: kubernetes\ndisable-compression: true\n", "token: abc\n")
	cfg, err := restConfigFromKubeconfig([]byte(kc), "https://other.example:443")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://other.example:443" || cfg.BearerToken != "abc" || cfg.ServerName != "kubernetes" ||
		len(cfg.CAData) == 0 || cfg.Insecure || cfg.ExecProvider != nil || cfg.AuthProvider != nil || cfg.BearerTokenFile != "" ||
		cfg.Proxy != nil || cfg.Impersonate.UserName != "" || cfg.CertFile != "" || cfg.KeyFile != "" || cfg.CAFile != "" {
		t.Fatalf("unexpected rest.Config %+v", cfg)
	}
}

func TestReplaceTokenKeepsTheRest(t *testing.T) {
	kc := kubeconfigWith(caData, "token: old\n")
	out, err := replaceToken([]byte(kc), "new")
	if err != nil {
		t.Fatal(err)
	}
	a, err := parseAccess(out)
	if err != nil {
		t.Fatal(err)
	}
	if a.Token != "new" || a.Server != "https://member.example:6443" || len(a.CAData) == 0 {
		t.Fatalf("after replaceToken: %+v", a)
	}
}

// FuzzCheckRegistration: any Secret content either is refused with ErrInvalidKubeconfig or
// yields a config with a token and an http(s) server and nothing that runs or reads.
func FuzzCheckRegistration(f *testing.F) {
	f.Add("", []byte(kubeconfigWith(caData, "token: abc\n")))
	f.Add("http://x", []byte(kubeconfigWith("insecure-skip-tls-verify: true\n", "token: abc\n")))
	f.Add("", []byte(kubeconfigWith("", "exec: {command: /bin/sh, apiVersion: client.authentication.k8s.io/v1}\n")))
	f.Add("", []byte("apiVersion: v1\nkind: Config\n"))
	f.Add("https://[::1]:6443", []byte("{"))
	f.Fuzz(func(t *testing.T, apiURL string, data []byte) {
		_, err := CheckRegistration(apiURL, data)
		if err != nil {
			if !errors.Is(err, ErrInvalidKubeconfig) {
				t.Fatalf("error does not wrap ErrInvalidKubeconfig: %v", err)
			}
			return
		}
		cfg, err := restConfigFromKubeconfig(data, apiURL)
		if err != nil {
			t.Fatalf("CheckRegistration accepted what restConfigFromKubeconfig refuses: %v", err)
		}
		if cfg.BearerToken == "" || cfg.ExecProvider != nil || cfg.AuthProvider != nil || cfg.BearerTokenFile != "" || cfg.CAFile != "" ||
			!(strings.HasPrefix(cfg.Host, "https://") || strings.HasPrefix(cfg.Host, "http://")) {
			t.Fatalf("accepted config %+v", cfg)
		}
	})
}
