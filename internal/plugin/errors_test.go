package plugin

import (
	"context"
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
)

func TestClusterErrorMessages(t *testing.T) {
	c := cluster{role: "member", host: "https://m:6443"}
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "serviceaccounts"}, "fleetscale",
		errors.New(`User "bob" cannot create resource "serviceaccounts" in API group "" in the namespace "keda"`))
	err := c.wrap("create serviceaccount keda/fleetscale", forbidden)
	for _, w := range []string{"permission denied", "member cluster at https://m:6443", "cannot create resource \"serviceaccounts\""} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q lacks %q", err, w)
		}
	}
	if !apierrors.IsForbidden(err) {
		t.Error("the API status is no longer reachable")
	}
	err = c.wrap("get x", apierrors.NewUnauthorized("no"))
	if !strings.Contains(err.Error(), "rejected the credentials") {
		t.Errorf("401: %q", err)
	}
	err = c.wrap("get x", errors.New("line one\nline two"))
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("multi-line: %q", err)
	}
}

// Nothing listens on port 1: the error names the hub and its URL, on one line.
func TestSetupMemberUnreachableHub(t *testing.T) {
	cfg := &rest.Config{Host: "https://127.0.0.1:1"}
	_, err := SetupMember(context.Background(), SetupOptions{Name: "m", Hub: cfg, Member: &rest.Config{Host: "https://127.0.0.1:2"}})
	if err == nil || !strings.Contains(err.Error(), "cannot reach the hub cluster at https://127.0.0.1:1") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("got %v", err)
	}
	_, err = DeleteMember(context.Background(), DeleteOptions{Name: "m", Hub: cfg})
	if err == nil || !strings.Contains(err.Error(), "cannot reach the hub cluster at https://127.0.0.1:1") {
		t.Fatalf("delete: got %v", err)
	}
}

func TestSetupMemberValidation(t *testing.T) {
	cfg := &rest.Config{Host: "https://127.0.0.1:1"}
	for _, tc := range []struct {
		o    SetupOptions
		want string
	}{
		{SetupOptions{Name: "Bad_Name", Hub: cfg, Member: cfg}, `invalid member name "Bad_Name"`},
		{SetupOptions{Name: "m", Namespace: "Keda", Hub: cfg, Member: cfg}, `invalid namespace "Keda"`},
		{SetupOptions{Name: "m", TokenTTL: 5 * 60e9, Hub: cfg, Member: cfg}, "--token-ttl 5m0s is too short"},
		{SetupOptions{Name: "m", TargetNamespaces: []string{"a", "B"}, Hub: cfg, Member: cfg}, `invalid namespace "B" in --target-namespaces`},
		{SetupOptions{Name: "m", MemberAPIURL: "host:6443", Hub: cfg, Member: cfg}, `invalid member API URL "host:6443"`},
	} {
		_, err := SetupMember(context.Background(), tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.o, err, tc.want)
		}
	}
}
