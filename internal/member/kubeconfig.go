package member

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ErrInvalidKubeconfig marks a kubeconfig the hub refuses to use; the MemberCluster then is
// Ready=False with reason InvalidCredentials and the error's message.
var ErrInvalidKubeconfig = errors.New("invalid member kubeconfig")

// access is everything the hub takes from a member kubeconfig. Nothing else in the file is
// used: no command is run (exec, auth-provider), no file is read (tokenFile, certificate and
// key files, certificate-authority), no proxy is dialled, nobody is impersonated.
type access struct {
	Server        string
	CAData        []byte
	TLSServerName string
	Insecure      bool
	Token         string
	// cluster and user are the names of the selected entries, for messages and rewrites.
	cluster, user string
}

// parseKubeconfig reads the current context's cluster and user (or the only context when
// current-context is empty) and refuses every field outside the allowed list, naming it.
// It never reads a file or runs anything: clientcmd.Load only decodes.
func parseKubeconfig(data []byte) (access, *clientcmdapi.Config, error) {
	cfg, err := clientcmd.Load(data)
	if err != nil {
		return access{}, nil, fmt.Errorf("%w: not a kubeconfig: %s", ErrInvalidKubeconfig, oneLine(err))
	}
	ctxName := cfg.CurrentContext
	if ctxName == "" && len(cfg.Contexts) == 1 {
		for name := range cfg.Contexts {
			ctxName = name
		}
	}
	kctx, ok := cfg.Contexts[ctxName]
	switch {
	case ctxName == "":
		return access{}, nil, fmt.Errorf("%w: it has no current-context", ErrInvalidKubeconfig)
	case !ok:
		return access{}, nil, fmt.Errorf("%w: current-context %q is not among its contexts", ErrInvalidKubeconfig, ctxName)
	}
	cluster, ok := cfg.Clusters[kctx.Cluster]
	if !ok {
		return access{}, nil, fmt.Errorf("%w: context %q names cluster %q, which it does not define", ErrInvalidKubeconfig, ctxName, kctx.Cluster)
	}
	user, ok := cfg.AuthInfos[kctx.AuthInfo]
	if !ok {
		return access{}, nil, fmt.Errorf("%w: context %q names user %q, which it does not define", ErrInvalidKubeconfig, ctxName, kctx.AuthInfo)
	}
	a := access{Server: cluster.Server, CAData: cluster.CertificateAuthorityData, TLSServerName: cluster.TLSServerName,
		Insecure: cluster.InsecureSkipTLSVerify, Token: user.Token, cluster: kctx.Cluster, user: kctx.AuthInfo}
	if field := refusedField(kctx.Cluster, cluster, kctx.AuthInfo, user); field != "" {
		return access{}, nil, fmt.Errorf("%w: %s is not allowed: the hub uses only server, certificate-authority-data, "+
			"tls-server-name and insecure-skip-tls-verify of the cluster and token of the user, so it never runs a command, "+
			"reads a file or dials a proxy named in a Secret", ErrInvalidKubeconfig, field)
	}
	if err := checkServer(a.Server); err != nil {
		return access{}, nil, fmt.Errorf("%w: clusters[%q].server: %s", ErrInvalidKubeconfig, a.cluster, err)
	}
	switch {
	case a.Insecure && len(a.CAData) > 0:
		return access{}, nil, fmt.Errorf("%w: clusters[%q] sets both insecure-skip-tls-verify and certificate-authority-data; keep one", ErrInvalidKubeconfig, a.cluster)
	case a.Token == "":
		return access{}, nil, fmt.Errorf("%w: users[%q] has no token (a bearer token is the only credential the hub uses)", ErrInvalidKubeconfig, a.user)
	}
	return a, cfg, nil
}

// refusedField names the first field set outside the allowed list, "" when there is none.
func refusedField(clusterName string, c *clientcmdapi.Cluster, userName string, u *clientcmdapi.AuthInfo) string {
	cf := func(f string) string { return fmt.Sprintf("clusters[%q].%s", clusterName, f) }
	uf := func(f string) string { return fmt.Sprintf("users[%q].%s", userName, f) }
	switch {
	case c.CertificateAuthority != "":
		return cf("certificate-authority (a file path; use certificate-authority-data)")
	case c.ProxyURL != "":
		return cf("proxy-url")
	case u.Exec != nil:
		return uf("exec")
	case u.AuthProvider != nil:
		return uf("auth-provider")
	case u.TokenFile != "":
		return uf("tokenFile")
	case u.ClientCertificate != "":
		return uf("client-certificate")
	case u.ClientKey != "":
		return uf("client-key")
	// A client certificate cannot be refreshed or revoked as a bound ServiceAccount token can,
	// and setup-member never writes one: refused even inline.
	case len(u.ClientCertificateData) > 0:
		return uf("client-certificate-data")
	case len(u.ClientKeyData) > 0:
		return uf("client-key-data")
	case u.Username != "":
		return uf("username")
	case u.Password != "":
		return uf("password")
	case u.Impersonate != "":
		return uf("as")
	case u.ImpersonateUID != "":
		return uf("as-uid")
	case len(u.ImpersonateGroups) > 0:
		return uf("as-groups")
	case len(u.ImpersonateUserExtra) > 0:
		return uf("as-user-extra")
	}
	return ""
}

// checkServer accepts an absolute https (or, with a warning, http) URL with a host and no
// credentials in it.
func checkServer(s string) error {
	u, err := url.Parse(s)
	switch {
	case s == "":
		return errors.New("is empty")
	case err != nil:
		return fmt.Errorf("%q is not a URL", s)
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("%q: the scheme must be https", s)
	case u.Host == "":
		return fmt.Errorf("%q has no host", s)
	case u.User != nil:
		return fmt.Errorf("%q carries credentials in the URL", s)
	}
	return nil
}

// warnings says what makes this access insecure (empty: nothing).
func (a access) warnings() []string {
	var w []string
	if strings.HasPrefix(a.Server, "http://") {
		w = append(w, fmt.Sprintf("clusters[%q].server %s is plain http: the token crosses the network in clear text", a.cluster, a.Server))
	}
	if a.Insecure {
		w = append(w, fmt.Sprintf("clusters[%q] sets insecure-skip-tls-verify: the hub does not verify the member's certificate", a.cluster))
	}
	return w
}

// CheckRegistration validates a member kubeconfig and the MemberCluster's API URL as the
// registry will use them, and returns warnings about an insecure transport or a kubeconfig
// server that spec.apiURL overrides. Its errors wrap ErrInvalidKubeconfig and name the
// refused field; they never contain a value from the kubeconfig other than its server URL.
func CheckRegistration(apiURL string, kubeconfig []byte) (warnings []string, err error) {
	a, err := parseAccess(kubeconfig)
	if err != nil {
		return nil, err
	}
	if apiURL != "" {
		if err := checkServer(apiURL); err != nil {
			return nil, fmt.Errorf("%w: spec.apiURL: %s", ErrInvalidKubeconfig, err)
		}
		if strings.TrimSuffix(apiURL, "/") != strings.TrimSuffix(a.Server, "/") {
			warnings = append(warnings, fmt.Sprintf("the hub connects to spec.apiURL %s, not to the server %s of the kubeconfig", apiURL, a.Server))
		}
		a.Server = apiURL
	}
	return append(warnings, a.warnings()...), nil
}

func parseAccess(kubeconfig []byte) (access, error) {
	a, _, err := parseKubeconfig(kubeconfig)
	return a, err
}

// restConfigFromKubeconfig builds the member's rest.Config from the allowed fields only. A
// non-empty apiURL (MemberCluster spec.apiURL, "the member's API server URL as the hub reaches
// it") replaces the kubeconfig's server, so editing it takes effect.
func restConfigFromKubeconfig(kubeconfig []byte, apiURL string) (*rest.Config, error) {
	a, err := parseAccess(kubeconfig)
	if err != nil {
		return nil, err
	}
	if apiURL != "" {
		if err := checkServer(apiURL); err != nil {
			return nil, fmt.Errorf("%w: spec.apiURL: %s", ErrInvalidKubeconfig, err)
		}
		a.Server = apiURL
	}
	return &rest.Config{
		Host:        a.Server,
		BearerToken: a.Token,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:     a.CAData,
			ServerName: a.TLSServerName,
			Insecure:   a.Insecure,
		},
	}, nil
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// tokenClaims are the parts of a ServiceAccount JWT the registry uses to refresh it.
type tokenClaims struct {
	IssuedAt  time.Time
	ExpiresAt time.Time
	Namespace string
	Name      string
}

// parseTokenClaims reads (does not verify) a ServiceAccount token's payload: the member's
// apiserver verifies it; the hub only needs to know when to refresh and for whom.
func parseTokenClaims(token string) (tokenClaims, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return tokenClaims{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return tokenClaims{}, false
	}
	var c struct {
		Iat int64 `json:"iat"`
		Exp int64 `json:"exp"`
		K8s struct {
			Namespace      string `json:"namespace"`
			ServiceAccount struct {
				Name string `json:"name"`
			} `json:"serviceaccount"`
		} `json:"kubernetes.io"`
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.Exp == 0 {
		return tokenClaims{}, false
	}
	return tokenClaims{
		IssuedAt:  time.Unix(c.Iat, 0),
		ExpiresAt: time.Unix(c.Exp, 0),
		Namespace: c.K8s.Namespace,
		Name:      c.K8s.ServiceAccount.Name,
	}, true
}

// replaceToken returns the kubeconfig with the selected user's token set to token. The
// kubeconfig was accepted by parseKubeconfig when the member was registered.
func replaceToken(kubeconfig []byte, token string) ([]byte, error) {
	a, cfg, err := parseKubeconfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.AuthInfos[a.user].Token = token
	out, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("write kubeconfig: %w", err)
	}
	return out, nil
}
