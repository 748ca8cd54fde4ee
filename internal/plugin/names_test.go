package plugin

import (
	"strings"
	"testing"
)

func TestValidateMemberName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"k3d-member-1", true},
		{"a", true},
		{"0abc", true},
		{strings.Repeat("a", 63), true},
		{"", false},
		{strings.Repeat("a", 64), false},
		{"Member", false},
		{"member_1", false},
		{"-member", false},
		{"member-", false},
		{"member.1", false},
	} {
		err := ValidateMemberName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateMemberName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && tc.name != "" && !strings.Contains(err.Error(), tc.name) {
			t.Errorf("error %q does not name %q", err, tc.name)
		}
	}
}

func TestSecretName(t *testing.T) {
	if got := SecretName("k3d-member-1"); got != "fleetscale-member-k3d-member-1" {
		t.Fatalf("SecretName = %q", got)
	}
}
