package v1alpha1

import (
	"strings"
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

func TestGoDurationParse(t *testing.T) {
	for _, tc := range []struct {
		in      GoDuration
		want    time.Duration
		wantErr string
	}{
		{in: "", want: time.Minute},
		{in: "1m30s", want: 90 * time.Second},
		{in: "0.5s", want: 500 * time.Millisecond},
		{in: "1h2m3s4ms5us6ns", want: time.Hour + 2*time.Minute + 3*time.Second + 4*time.Millisecond + 5*time.Microsecond + 6},
		{in: "999999h", want: 999999 * time.Hour},
		{in: "99999999999h", wantErr: `duration "99999999999h" must be at most 999999h`},
		{in: "9999999999s", wantErr: "must be at most 999999h"},
		{in: "30s1m", wantErr: "units in decreasing order"},
		{in: "1m1m", wantErr: "each at most once"},
		{in: "bogus", wantErr: "must be at most"},
		{in: "-1s", wantErr: "must be at most"},
	} {
		got, err := tc.in.Parse(time.Minute)
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("Parse(%q) = %v, %v; want an error containing %q", tc.in, got, err, tc.wantErr)
		case tc.wantErr == "" && (err != nil || got != tc.want):
			t.Errorf("Parse(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// FuzzGoDurationParse: whatever the string, Parse either refuses it or returns what
// time.ParseDuration returns, never negative; the bounded form never overflows.
func FuzzGoDurationParse(f *testing.F) {
	for _, s := range []string{"90s", "1m30s", "999999h59m", "99999999999h", "1.5h", "0ns", "1µs", "9.9999999999999999999h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := GoDuration(s).Parse(time.Minute)
		if err != nil {
			return
		}
		if s == "" {
			if got != time.Minute {
				t.Fatalf("empty gave %v", got)
			}
			return
		}
		want, perr := time.ParseDuration(s)
		if perr != nil || got != want || got < 0 {
			t.Fatalf("Parse(%q) = %v, ParseDuration = %v, %v", s, got, want, perr)
		}
	})
}
