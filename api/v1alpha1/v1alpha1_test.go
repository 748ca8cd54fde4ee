package v1alpha1

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestMemberClusterRefDefaults(t *testing.T) {
	if got := (MemberClusterRef{Name: "a"}).GetWeight(); got != 1 {
		t.Errorf("unset weight = %d, want 1", got)
	}
	if got := (MemberClusterRef{Name: "a", Weight: ptr.To[int32](0)}).GetWeight(); got != 0 {
		t.Errorf("weight 0 = %d, want 0 (standby)", got)
	}
	if got := (MemberClusterRef{Name: "a"}).TargetNamespaceOr("apps"); got != "apps" {
		t.Errorf("unset targetNamespace = %q, want the object's namespace", got)
	}
	if got := (MemberClusterRef{Name: "a", TargetNamespace: "web"}).TargetNamespaceOr("apps"); got != "web" {
		t.Errorf("targetNamespace = %q, want web", got)
	}
}

func TestGoDuration(t *testing.T) {
	def := metav1.Duration{Duration: time.Minute}
	cases := map[GoDuration]time.Duration{
		"":      time.Minute,
		"90s":   90 * time.Second,
		"1m30s": 90 * time.Second,
		"2h":    2 * time.Hour,
		"bogus": time.Minute,
	}
	for in, want := range cases {
		if got := in.Duration(def).Duration; got != want {
			t.Errorf("GoDuration(%q) = %v, want %v", in, got, want)
		}
	}
}
