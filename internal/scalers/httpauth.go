package scalers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// The authentication modes of KEDA's HTTP scalers (pkg/scalers/authentication): authModes (or
// authMode) in metadata or in the TriggerAuthentication's parameters, a comma-separated subset
// of these, with at most one of bearer, basic and oauth. Each mode's credentials come from
// the authentication parameters only.
const (
	authAPIKey = "apiKey"
	authBasic  = "basic"
	authTLS    = "tls"
	authBearer = "bearer"
	authCustom = "custom"
	authOAuth  = "oauth"
)

var authModeNames = []string{authAPIKey, authBasic, authTLS, authBearer, authCustom, authOAuth}

// httpAuth is KEDA's authentication.Config.
type httpAuth struct {
	modes                         []string
	bearerToken                   string
	username, password            string
	cert, key, ca                 string
	tokenURL, clientID, secret    string
	scopes                        []string
	endpointParams                url.Values
	customHeader, customValue     string
	apiKey, apiKeyMethod, apiKey2 string // apiKey2: keyParamName
}

// parseHTTPAuth reads the authentication config with KEDA's names and its Validate rules;
// allowed limits the modes (KEDA's ValidateAllowed), nil allows all.
func parseHTTPAuth(m *metadata, allowed []string) httpAuth {
	var a httpAuth
	if v, ok := m.get(fromMetadata|fromAuth, "authModes", "authMode"); ok {
		exclusive := 0
		for _, mode := range strings.Split(v, ",") {
			mode = strings.TrimSpace(mode)
			if !slices.Contains(authModeNames, mode) {
				m.problem("authModes %q: %q is not one of %s", v, mode, strings.Join(authModeNames, ", "))
				continue
			}
			if mode == authBearer || mode == authBasic || mode == authOAuth {
				exclusive++
			}
			if allowed != nil && !slices.Contains(allowed, mode) {
				m.problem("auth mode %q is not supported by this trigger; supported modes: %s", mode, strings.Join(allowed, ", "))
				continue
			}
			a.modes = append(a.modes, mode)
		}
		if exclusive > 1 {
			m.problem("authModes %q may hold only one of bearer, basic, oauth", v)
		}
	}
	a.bearerToken, _ = m.get(fromAuth, "bearerToken", "token")
	a.username, _ = m.get(fromAuth, "username")
	a.password, _ = m.get(fromAuth, "password")
	a.cert, _ = m.get(fromAuth, "cert")
	a.key, _ = m.get(fromAuth, "key")
	a.ca, _ = m.get(fromAuth, "ca")
	a.tokenURL, _ = m.get(fromAuth, "oauthTokenURI")
	a.clientID, _ = m.get(fromAuth, "clientID")
	a.secret, _ = m.get(fromAuth, "clientSecret")
	if v, ok := m.get(fromAuth, "scopes", "scope"); ok {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				a.scopes = append(a.scopes, s)
			}
		}
	}
	if v, ok := m.get(fromAuth, "endpointParams"); ok {
		params, err := url.ParseQuery(v)
		if err != nil {
			m.problem("authentication parameter endpointParams is not a URL query")
		}
		a.endpointParams = params
	}
	a.customHeader, _ = m.get(fromAuth, "customAuthHeader")
	a.customValue, _ = m.get(fromAuth, "customAuthValue")
	a.apiKey, _ = m.get(fromMetadata|fromAuth, "apiKey")
	a.apiKeyMethod = m.enum(fromMetadata|fromAuth, "method", "header", "header", "query")
	a.apiKey2, _ = m.get(fromMetadata|fromAuth, "keyParamName")

	// KEDA's Config.Validate: what each mode needs (messages say which parameter, never its value).
	switch {
	case a.enabled(authBearer) && a.bearerToken == "":
		m.problem("auth mode bearer needs the authentication parameter bearerToken")
	case a.enabled(authBasic) && a.username == "":
		m.problem("auth mode basic needs the authentication parameter username")
	case a.enabled(authTLS) && (a.cert == "" || a.key == ""):
		m.problem("auth mode tls needs the authentication parameters cert and key")
	case a.enabled(authOAuth) && (a.tokenURL == "" || a.clientID == ""):
		m.problem("auth mode oauth needs the authentication parameters oauthTokenURI and clientID")
	case a.enabled(authCustom) && (a.customHeader == "" || a.customValue == ""):
		m.problem("auth mode custom needs the authentication parameters customAuthHeader and customAuthValue")
	case a.enabled(authAPIKey) && a.apiKey == "":
		m.problem("auth mode apiKey needs the parameter apiKey")
	}
	return a
}

func (a *httpAuth) disabled() bool           { return len(a.modes) == 0 }
func (a *httpAuth) enabled(mode string) bool { return slices.Contains(a.modes, mode) }

// tlsConfig is KEDA's util.NewTLSConfig: a client certificate when cert and key are set, ca as
// the only trusted root when set, verification skipped only with unsafeSsl.
func tlsConfig(cert, key, ca string, unsafeSsl bool) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: unsafeSsl} //nolint:gosec // unsafeSsl is the user's explicit choice, as in KEDA
	if cert != "" && key != "" {
		pair, err := tls.X509KeyPair([]byte(cert), []byte(key))
		if err != nil {
			// The parser's error may quote the PEM; say only what is wrong.
			return nil, errors.New("the client certificate and key (authentication parameters cert and key) are not a valid PEM key pair")
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if ca != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(ca)) {
			return nil, errors.New("the CA (authentication parameter ca) holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// maxResponseBytes bounds what an HTTP scaler reads from a response: the answer is one number,
// and a server must not decide how much memory the controller uses.
const maxResponseBytes = 8 << 20

// readBody reads at most maxResponseBytes.
func readBody(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxResponseBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxResponseBytes {
		return nil, fmt.Errorf("response larger than %d MiB", maxResponseBytes>>20)
	}
	return b, nil
}

// defaultHTTPTimeout is KEDA's KEDA_HTTP_DEFAULT_TIMEOUT default (3000 ms), the bound on every
// HTTP request of a scaler whose metadata sets no timeout.
const defaultHTTPTimeout = 3 * time.Second

// sharedTransports are the connection pools of scalers without a TLS config of their own, one
// per unsafeSsl value, as KEDA shares its round trippers.
var sharedTransports = struct {
	sync.Mutex
	m map[bool]*http.Transport
}{m: map[bool]*http.Transport{}}

func sharedTransport(unsafeSsl bool) *http.Transport {
	sharedTransports.Lock()
	defer sharedTransports.Unlock()
	if t, ok := sharedTransports.m[unsafeSsl]; ok {
		return t
	}
	t := newTransport(&tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: unsafeSsl}) //nolint:gosec // see tlsConfig
	sharedTransports.m[unsafeSsl] = t
	return t
}

func newTransport(cfg *tls.Config) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       cfg,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   10,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// httpClient builds the client of one HTTP scaler: timeout from metadata (capped by
// maxTimeout), the TLS config when one is needed, OAuth client credentials when enabled.
func httpClient(timeout, maxTimeout time.Duration, tlsCfg *tls.Config, unsafeSsl bool, a *httpAuth) *http.Client {
	if timeout <= 0 {
		timeout = defaultHTTPTimeout
	}
	if maxTimeout > 0 && timeout > maxTimeout {
		timeout = maxTimeout
	}
	var rt http.RoundTripper = sharedTransport(unsafeSsl)
	owned := false
	if tlsCfg != nil {
		rt, owned = newTransport(tlsCfg), true
	}
	c := &http.Client{Timeout: timeout, Transport: rt}
	if a != nil && a.enabled(authOAuth) {
		cc := clientcredentials.Config{ClientID: a.clientID, ClientSecret: a.secret, TokenURL: a.tokenURL,
			Scopes: a.scopes, EndpointParams: a.endpointParams}
		if a.secret == "" {
			cc.AuthStyle = oauth2.AuthStyleInParams
		}
		ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Timeout: timeout, Transport: rt})
		c.Transport = &oauth2.Transport{Source: cc.TokenSource(ctx), Base: rt}
	}
	if !owned {
		// CloseIdleConnections on a shared pool would cut other scalers' connections.
		c.Transport = noCloseIdle{c.Transport}
	}
	return c
}

// noCloseIdle hides CloseIdleConnections of a shared transport from http.Client.
type noCloseIdle struct{ http.RoundTripper }
