package member

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// restConfigFromKubeconfig builds the member's rest.Config from the stored kubeconfig.
func restConfigFromKubeconfig(kubeconfig []byte) (*rest.Config, error) {
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("parse kubeconfig: %w", err)
	}
	return cfg, nil
}

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

// replaceToken returns the kubeconfig with every user's token set to token.
func replaceToken(kubeconfig []byte, token string) ([]byte, error) {
	cfg, err := clientcmd.Load(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("parse kubeconfig: %w", err)
	}
	for _, auth := range cfg.AuthInfos {
		auth.Token = token
	}
	if len(cfg.AuthInfos) == 0 {
		cfg.AuthInfos = map[string]*clientcmdapi.AuthInfo{"fleetscale": {Token: token}}
	}
	out, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("write kubeconfig: %w", err)
	}
	return out, nil
}
