package distributedscaledobject

import (
	"strings"
	"testing"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

func dsoWith(apiVersion, kind string, grace v1alpha1.GoDuration) *v1alpha1.DistributedScaledObject {
	return &v1alpha1.DistributedScaledObject{Spec: v1alpha1.DistributedScaledObjectSpec{
		RebalancingPolicy: &v1alpha1.RebalancingPolicy{GracePeriod: grace},
		ScaledObjectSpec:  v1alpha1.ScaledObjectSpec{ScaleTargetRef: &v1alpha1.ScaleTarget{Name: "web", APIVersion: apiVersion, Kind: kind}},
	}}
}

// A malformed target or duration is an error, never apps/v1 Deployment or a default.
func TestSpecProblem(t *testing.T) {
	for _, tc := range []struct {
		apiVersion, kind string
		grace            v1alpha1.GoDuration
		want             string
	}{
		{"", "", "", ""},
		{"apps/v1", "StatefulSet", "30s", ""},
		{"v1", "ReplicationController", "", ""},
		{"argoproj.io/v1alpha1", "Rollout", "1m30s", ""},
		{"apps/v1/extra", "", "", `scaleTargetRef.apiVersion "apps/v1/extra" is not group/version`},
		{"Apps/V1", "", "", `scaleTargetRef.apiVersion "Apps/V1"`},
		{"apps/", "", "", `scaleTargetRef.apiVersion "apps/"`},
		{"/v1", "", "", `scaleTargetRef.apiVersion "/v1"`},
		{"", "Deploy ment", "", `scaleTargetRef.kind "Deploy ment" is not a kind name`},
		{"", "", "99999999999h", `rebalancingPolicy.gracePeriod: duration "99999999999h" must be at most 999999h`},
	} {
		got := specProblem(dsoWith(tc.apiVersion, tc.kind, tc.grace))
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("specProblem(%q, %q, %q) = %q, want %q", tc.apiVersion, tc.kind, tc.grace, got, tc.want)
		}
	}
}

// FuzzTargetGVK: any scaleTargetRef either is reported by specProblem, or names exactly the
// apiVersion and kind written (the defaults only when they are empty).
func FuzzTargetGVK(f *testing.F) {
	for _, s := range [][2]string{{"apps/v1", "Deployment"}, {"", ""}, {"v1", "x"}, {"a/b/c", "K"}, {"keda.sh/v1alpha1", "ScaledObject"}, {"apps/v1", "Über"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, apiVersion, kind string) {
		dso := dsoWith(apiVersion, kind, "")
		if specProblem(dso) != "" {
			return
		}
		gvk := targetGVK(dso)
		wantAV, wantKind := apiVersion, kind
		if wantAV == "" {
			wantAV = "apps/v1"
		}
		if wantKind == "" {
			wantKind = "Deployment"
		}
		if gvk.GroupVersion().String() != wantAV || gvk.Kind != wantKind {
			t.Fatalf("(%q, %q) became %v", apiVersion, kind, gvk)
		}
	})
}
