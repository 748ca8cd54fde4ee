package plugin

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// fakeToken returns an unsigned JWT with the claims decideToken reads.
func fakeToken(t *testing.T, iat, exp time.Time, ns, uid string) string {
	return fakeTokenFor(t, iat, exp, ns, "fleetscale-m-0123456789", uid)
}

func fakeTokenFor(t *testing.T, iat, exp time.Time, ns, name, uid string) string {
	t.Helper()
	claims := map[string]any{
		"iat": iat.Unix(), "exp": exp.Unix(),
		"kubernetes.io": map[string]any{"namespace": ns, "serviceaccount": map[string]any{"name": name, "uid": uid}},
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc(payload) + "." + enc([]byte("sig"))
}

func TestDecideToken(t *testing.T) {
	now := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	ttl := 168 * time.Hour
	access := memberAccess{Server: "https://m:6443", CAData: []byte("CA")}
	issued := now.Add(-time.Hour)
	good := fakeToken(t, issued, issued.Add(ttl), "keda", "uid-1")
	stored := func(mut func(*storedKubeconfig)) *storedKubeconfig {
		s := &storedKubeconfig{Access: access, Token: good}
		s.Access.CAData = []byte("CA")
		if mut != nil {
			mut(s)
		}
		return s
	}
	for _, tc := range []struct {
		desc      string
		stored    *storedKubeconfig
		saCreated bool
		ttl       time.Duration
		now       time.Time
		keep      bool
		reason    string
	}{
		{desc: "fresh token kept", stored: stored(nil), keep: true},
		{desc: "nothing stored", stored: nil, reason: "no stored token"},
		{desc: "new ServiceAccount", stored: stored(nil), saCreated: true, reason: "new ServiceAccount"},
		{desc: "server changed", stored: stored(func(s *storedKubeconfig) { s.Access.Server = "https://old:6443" }), reason: "API URL changed"},
		{desc: "CA changed", stored: stored(func(s *storedKubeconfig) { s.Access.CAData = []byte("OLD") }), reason: "certificate authority"},
		{desc: "insecure changed", stored: stored(func(s *storedKubeconfig) { s.Access.Insecure = true }), reason: "TLS settings"},
		{desc: "not a JWT", stored: stored(func(s *storedKubeconfig) { s.Token = "static" }), reason: "unreadable"},
		{desc: "other ServiceAccount namespace", stored: stored(func(s *storedKubeconfig) {
			s.Token = fakeToken(t, issued, issued.Add(ttl), "other", "uid-1")
		}), reason: "another ServiceAccount"},
		{desc: "the shared ServiceAccount of an older setup-member", stored: stored(func(s *storedKubeconfig) {
			s.Token = fakeTokenFor(t, issued, issued.Add(ttl), "keda", LegacyServiceAccountName, "uid-1")
		}), reason: "another ServiceAccount"},
		{desc: "recreated ServiceAccount", stored: stored(func(s *storedKubeconfig) {
			s.Token = fakeToken(t, issued, issued.Add(ttl), "keda", "uid-0")
		}), reason: "recreated"},
		{desc: "more than half left", stored: stored(nil), now: issued.Add(ttl/2 - time.Minute), keep: true},
		{desc: "half or less left", stored: stored(nil), now: issued.Add(ttl / 2), reason: "expires in"},
		{desc: "expired", stored: stored(nil), now: issued.Add(ttl + time.Hour), reason: "expires in"},
		{desc: "shorter --token-ttl", stored: stored(nil), ttl: 24 * time.Hour, reason: "outlives"},
		{desc: "longer --token-ttl keeps a fresh token", stored: stored(nil), ttl: 2 * ttl, keep: true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if tc.ttl == 0 {
				tc.ttl = ttl
			}
			if tc.now.IsZero() {
				tc.now = now
			}
			keep, reason, claims := decideToken(tc.stored, access, "keda", "fleetscale-m-0123456789", "uid-1", tc.saCreated, tc.ttl, tc.now)
			if keep != tc.keep || !strings.Contains(reason, tc.reason) {
				t.Fatalf("keep=%v reason=%q, want keep=%v reason ~%q", keep, reason, tc.keep, tc.reason)
			}
			if keep && !claims.expiry().Equal(issued.Add(ttl).Truncate(time.Second)) {
				t.Fatalf("expiry %s", claims.expiry())
			}
		})
	}
}
