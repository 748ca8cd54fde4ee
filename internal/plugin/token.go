package plugin

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// ensureToken keeps the stored token when it is still good for this member, or requests a
// new one with the TokenRequest API.
func (s *setup) ensureToken(ctx context.Context) error {
	o := s.o
	now := o.Now()
	keep, reason, claims := decideToken(s.stored, s.access, o.Namespace, s.reg.ServiceAccount, s.sa.UID, s.saCreated, o.TokenTTL, now)
	if keep {
		s.token, s.tokenExpires = s.stored.Token, claims.expiry()
		return nil
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(o.TokenTTL / time.Second))}}
	what := "token for " + object("serviceaccount", o.Namespace, s.reg.ServiceAccount)
	tr, err := s.mc.CoreV1().ServiceAccounts(o.Namespace).CreateToken(ctx, s.reg.ServiceAccount, req, metav1.CreateOptions{})
	if err != nil {
		return s.member.wrap("request a "+what, err)
	}
	s.token, s.tokenExpires, s.tokenIssued = tr.Status.Token, tr.Status.ExpirationTimestamp.UTC(), true
	s.rec.add("member: %s issued (%s), expires %s", what, reason, s.tokenExpires.Format(time.RFC3339))
	return nil
}

// decideToken says whether the stored kubeconfig's token can be kept, and if not why.
func decideToken(stored *storedKubeconfig, want memberAccess, saNS, saName string, saUID types.UID, saCreated bool,
	ttl time.Duration, now time.Time) (keep bool, reason string, claims tokenClaims) {
	switch {
	case stored == nil || stored.Token == "":
		return false, "no stored token", claims
	case saCreated:
		return false, "new ServiceAccount", claims
	case stored.Access.Server != want.Server:
		return false, "API URL changed", claims
	case !bytes.Equal(stored.Access.CAData, want.CAData):
		return false, "certificate authority changed", claims
	case stored.Access.Insecure != want.Insecure || stored.Access.TLSServerName != want.TLSServerName:
		return false, "TLS settings changed", claims
	}
	claims, err := decodeTokenClaims(stored.Token)
	switch {
	case err != nil:
		return false, "stored token unreadable", claims
	case claims.K8s.Namespace != saNS || claims.K8s.ServiceAccount.Name != saName:
		return false, "stored token is for another ServiceAccount", claims
	case types.UID(claims.K8s.ServiceAccount.UID) != saUID:
		return false, "ServiceAccount was recreated", claims
	case claims.lifetime() > ttl+time.Minute:
		return false, "stored token outlives --token-ttl", claims
	}
	if left := claims.expiry().Sub(now); left <= claims.lifetime()/2 {
		return false, fmt.Sprintf("stored token expires in %s", left.Round(time.Second)), claims
	}
	return true, "", claims
}

// tokenClaims are the parts of a ServiceAccount JWT the plugin looks at. The signature is not
// verified: the claims only decide whether to mint a new token, never whether to trust one.
type tokenClaims struct {
	IssuedAt  int64 `json:"iat"`
	ExpiresAt int64 `json:"exp"`
	K8s       struct {
		Namespace      string `json:"namespace"`
		ServiceAccount struct {
			Name string `json:"name"`
			UID  string `json:"uid"`
		} `json:"serviceaccount"`
	} `json:"kubernetes.io"`
}

func (c tokenClaims) expiry() time.Time { return time.Unix(c.ExpiresAt, 0).UTC() }

func (c tokenClaims) lifetime() time.Duration {
	return time.Duration(c.ExpiresAt-c.IssuedAt) * time.Second
}

func decodeTokenClaims(token string) (tokenClaims, error) {
	var c tokenClaims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, errors.New("not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return c, fmt.Errorf("JWT payload: %w", err)
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return c, fmt.Errorf("JWT payload: %w", err)
	}
	if c.ExpiresAt == 0 {
		return c, errors.New("token does not expire")
	}
	return c, nil
}
