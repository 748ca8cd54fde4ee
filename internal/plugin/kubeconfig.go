package plugin

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// defaultTimeout bounds every request of a command whose kubeconfig sets no timeout, so an
// unreachable (black-holed) API server fails with a message instead of hanging.
const defaultTimeout = 30 * time.Second

// KubeconfigSource says where a kubeconfig is read from: one explicit file, or the merged
// list of files that KUBECONFIG (or the home default) names, the way kubectl merges them.
type KubeconfigSource struct {
	// Explicit is a file given by a flag; it must exist.
	Explicit string
	// Precedence is used when Explicit is empty: files merged in order, missing ones skipped.
	Precedence []string
}

// String names the source in messages.
func (s KubeconfigSource) String() string {
	if s.Explicit != "" {
		return s.Explicit
	}
	return strings.Join(s.Precedence, string(filepath.ListSeparator))
}

// ResolveHubKubeconfig applies kubectl's order to find the hub's kubeconfig: --keda-kubeconfig,
// else --kubeconfig, else the files in $KUBECONFIG (kubeconfigEnv), else ~/.kube/config under
// home. It reads nothing; LoadKubeconfig does.
func ResolveHubKubeconfig(kedaKubeconfig, kubeconfig, kubeconfigEnv, home string) KubeconfigSource {
	switch {
	case kedaKubeconfig != "":
		return KubeconfigSource{Explicit: kedaKubeconfig}
	case kubeconfig != "":
		return KubeconfigSource{Explicit: kubeconfig}
	}
	var files []string
	for _, f := range filepath.SplitList(kubeconfigEnv) {
		if f != "" {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		files = []string{filepath.Join(home, clientcmd.RecommendedHomeDir, clientcmd.RecommendedFileName)}
	}
	return KubeconfigSource{Precedence: files}
}

// HubFlags are the command-line inputs that locate the hub.
type HubFlags struct {
	KedaKubeconfig string // --keda-kubeconfig
	Kubeconfig     string // --kubeconfig
	KedaContext    string // --keda-context
	Context        string // --context
}

// LoadHubConfig resolves the hub's kubeconfig as kubectl would (see ResolveHubKubeconfig,
// reading $KUBECONFIG and $HOME) and returns a client configuration for the chosen context
// (--keda-context, else --context, else the current one).
func LoadHubConfig(f HubFlags) (*rest.Config, error) {
	home, _ := os.UserHomeDir()
	src := ResolveHubKubeconfig(f.KedaKubeconfig, f.Kubeconfig, os.Getenv(clientcmd.RecommendedConfigPathEnvVar), home)
	kctx := f.KedaContext
	if kctx == "" {
		kctx = f.Context
	}
	return LoadKubeconfig("hub", src, kctx)
}

// LoadMemberConfig reads the member's kubeconfig file (required) for the given context.
func LoadMemberConfig(path, context string) (*rest.Config, error) {
	if path == "" {
		return nil, errors.New("--member-kubeconfig is required")
	}
	return LoadKubeconfig("member", KubeconfigSource{Explicit: path}, context)
}

// LoadKubeconfig reads a kubeconfig and returns the client configuration of context (empty:
// the current context). role ("hub" or "member") and the file name appear in every error.
func LoadKubeconfig(role string, src KubeconfigSource, context string) (*rest.Config, error) {
	rules := &clientcmd.ClientConfigLoadingRules{}
	if src.Explicit != "" {
		// Read it first: clientcmd's messages do not say which kubeconfig a file was for.
		data, err := os.ReadFile(src.Explicit)
		if err != nil {
			return nil, fmt.Errorf("cannot read the %s kubeconfig %s: %s", role, src.Explicit, pathErrReason(err))
		}
		if _, err := clientcmd.Load(data); err != nil {
			return nil, fmt.Errorf("the %s kubeconfig %s is not a valid kubeconfig: %s", role, src.Explicit, oneLine(err))
		}
		rules.ExplicitPath = src.Explicit
	} else {
		for _, f := range src.Precedence {
			data, err := os.ReadFile(f)
			if errors.Is(err, fs.ErrNotExist) {
				continue // kubectl skips missing files of the list too
			}
			if err != nil {
				return nil, fmt.Errorf("cannot read the %s kubeconfig %s: %s", role, f, pathErrReason(err))
			}
			if _, err := clientcmd.Load(data); err != nil {
				return nil, fmt.Errorf("the %s kubeconfig %s is not a valid kubeconfig: %s", role, f, oneLine(err))
			}
		}
		rules.Precedence = src.Precedence
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: context}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			if src.Explicit == "" && role == "hub" {
				return nil, fmt.Errorf("no hub kubeconfig found in %s: pass --keda-kubeconfig or --kubeconfig, or set KUBECONFIG", src)
			}
			return nil, fmt.Errorf("the %s kubeconfig %s selects no cluster (is it empty, or without a current-context?)", role, src)
		}
		return nil, fmt.Errorf("the %s kubeconfig %s: %s", role, src, oneLine(err))
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultTimeout
	}
	// A command makes a few dozen requests; the default 5 QPS would only slow it down.
	cfg.QPS, cfg.Burst = 50, 100
	return cfg, nil
}

func pathErrReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// memberAccess is how the hub reaches a member: the server URL and its TLS trust.
type memberAccess struct {
	Server        string
	CAData        []byte
	Insecure      bool
	TLSServerName string
}

// accessFromConfig takes the member's TLS trust from its admin kubeconfig (the CA data or the
// file it points to, insecure-skip-tls-verify, tls-server-name) and the server URL from apiURL,
// or from that kubeconfig when apiURL is empty. A plain-http URL or skipped TLS verification
// is refused unless allowInsecure: the stored token would be exposed to the network.
func accessFromConfig(cfg *rest.Config, apiURL string, allowInsecure bool) (memberAccess, error) {
	a := memberAccess{
		Server:        strings.TrimSuffix(cfg.Host, "/"),
		Insecure:      cfg.Insecure,
		TLSServerName: cfg.ServerName,
	}
	if apiURL != "" {
		a.Server = strings.TrimSuffix(apiURL, "/")
	}
	if err := validateAPIURL(a.Server, allowInsecure); err != nil {
		return a, err
	}
	if a.Insecure && !allowInsecure {
		return a, fmt.Errorf("the member kubeconfig sets insecure-skip-tls-verify: the hub would not verify whom it sends the token to; " +
			"give it the member's certificate-authority-data, or pass --allow-insecure to accept that")
	}
	switch {
	case len(cfg.CAData) > 0:
		a.CAData = cfg.CAData
	case cfg.CAFile != "":
		data, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return a, fmt.Errorf("cannot read the member's certificate-authority file %s: %s", cfg.CAFile, pathErrReason(err))
		}
		a.CAData = data
	}
	return a, nil
}

// validateAPIURL accepts https://HOST[:PORT] (and http:// only with allowInsecure), without
// credentials in the URL.
func validateAPIURL(s string, allowInsecure bool) error {
	u, err := url.Parse(s)
	// Credentials in a URL are never echoed.
	shown := s
	switch {
	case err == nil && u.User != nil:
		c := *u
		c.User = url.User("REDACTED")
		shown = c.String()
	case strings.Contains(s, "@"):
		shown = "(not shown)"
	}
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return fmt.Errorf("invalid member API URL %q: want https://HOST[:PORT]", shown)
	case u.User != nil:
		return fmt.Errorf("invalid member API URL %q: it must not carry credentials", shown)
	case u.Scheme == "http" && !allowInsecure:
		return fmt.Errorf("member API URL %q is plain http: the hub's token would cross the network in clear text; use https, or pass --allow-insecure to accept that", shown)
	}
	return nil
}

// buildMemberKubeconfig returns the kubeconfig stored in the hub Secret: one cluster, user
// and context, all named after the member, the context's namespace being the ServiceAccount's.
func buildMemberKubeconfig(member, namespace string, a memberAccess, token string) ([]byte, error) {
	cfg := clientcmdapi.NewConfig()
	cluster := clientcmdapi.NewCluster()
	cluster.Server = a.Server
	cluster.CertificateAuthorityData = a.CAData
	cluster.InsecureSkipTLSVerify = a.Insecure
	cluster.TLSServerName = a.TLSServerName
	cfg.Clusters[member] = cluster
	user := clientcmdapi.NewAuthInfo()
	user.Token = token
	cfg.AuthInfos[member] = user
	kctx := clientcmdapi.NewContext()
	kctx.Cluster = member
	kctx.AuthInfo = member
	kctx.Namespace = namespace
	cfg.Contexts[member] = kctx
	cfg.CurrentContext = member
	return clientcmd.Write(*cfg)
}

// storedKubeconfig is what a hub Secret's kubeconfig says.
type storedKubeconfig struct {
	Access memberAccess
	Token  string
}

// parseStoredKubeconfig reads back a kubeconfig written by buildMemberKubeconfig (or any
// kubeconfig whose current context uses a bearer token).
func parseStoredKubeconfig(data []byte) (storedKubeconfig, error) {
	var s storedKubeconfig
	cfg, err := clientcmd.Load(data)
	if err != nil {
		return s, err
	}
	kctx, ok := cfg.Contexts[cfg.CurrentContext]
	if !ok {
		return s, fmt.Errorf("current context %q not found", cfg.CurrentContext)
	}
	cluster, ok := cfg.Clusters[kctx.Cluster]
	if !ok {
		return s, fmt.Errorf("cluster %q not found", kctx.Cluster)
	}
	user, ok := cfg.AuthInfos[kctx.AuthInfo]
	if !ok {
		return s, fmt.Errorf("user %q not found", kctx.AuthInfo)
	}
	s.Access = memberAccess{
		Server:        cluster.Server,
		CAData:        cluster.CertificateAuthorityData,
		Insecure:      cluster.InsecureSkipTLSVerify,
		TLSServerName: cluster.TLSServerName,
	}
	s.Token = user.Token
	return s, nil
}
