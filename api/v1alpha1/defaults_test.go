package v1alpha1

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// TestCRDDefaultsMatchConstants ties the +kubebuilder:default markers (which cannot name a Go
// constant) to defaults.go, through the generated CRDs the apiserver applies.
func TestCRDDefaultsMatchConstants(t *testing.T) {
	dur := shortDuration
	for _, tc := range []struct {
		crd  string
		path []string
		want string
	}{
		{"distributedscaledobjects", []string{"spec", "rebalancingPolicy", "gracePeriod"}, dur(DefaultRebalanceGracePeriod)},
		{"distributedscaledobjects", []string{"spec", "rebalancingPolicy", "maxRebalancePercentage"}, strconv.Itoa(int(DefaultMaxRebalancePercentage))},
		{"distributedscaledobjects", []string{"spec", "memberClusters", "[]", "weight"}, strconv.Itoa(int(DefaultMemberWeight))},
		{"distributedscaledjobs", []string{"spec", "memberClusters", "[]", "weight"}, strconv.Itoa(int(DefaultMemberWeight))},
		{"distributedscaledjobs", []string{"spec", "clusterScheduling", "failoverPolicy", "gracePeriod"}, dur(DefaultFailoverGracePeriod)},
		{"distributedscaledjobs", []string{"spec", "clusterScheduling", "failoverPolicy", "softTaintDuration"}, dur(DefaultSoftTaintDuration)},
		{"distributedscaledjobs", []string{"spec", "clusterScheduling", "failoverPolicy", "hardTaintDuration"}, dur(DefaultHardTaintDuration)},
		{"distributedscaledjobs", []string{"spec", "clusterScheduling", "failoverPolicy", "duplicationPolicy"}, DefaultDuplicationPolicy},
	} {
		schema := crdSchema(t, tc.crd)
		for _, p := range tc.path {
			if p == "[]" {
				if schema.Items == nil || schema.Items.Schema == nil {
					t.Fatalf("%s %v: no array items", tc.crd, tc.path)
				}
				schema = *schema.Items.Schema
				continue
			}
			next, ok := schema.Properties[p]
			if !ok {
				t.Fatalf("%s: no property %q on the path %v", tc.crd, p, tc.path)
			}
			schema = next
		}
		if schema.Default == nil {
			t.Errorf("%s %v: the CRD has no default, want %s", tc.crd, tc.path, tc.want)
			continue
		}
		if got := string(schema.Default.Raw); got != tc.want && got != strconv.Quote(tc.want) {
			t.Errorf("%s %v: CRD default %s, Go default %s", tc.crd, tc.path, got, tc.want)
		}
	}
}

// shortDuration writes a duration the way the markers do ("1m", not "1m0s").
func shortDuration(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.Itoa(int(d/time.Minute)) + "m"
	}
	return d.String()
}

func crdSchema(t *testing.T, plural string) apiextensionsv1.JSONSchemaProps {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", GroupVersion.Group+"_"+plural+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(data, &crd); err != nil {
		t.Fatal(err)
	}
	for _, v := range crd.Spec.Versions {
		if v.Name == GroupVersion.Version && v.Schema != nil && v.Schema.OpenAPIV3Schema != nil {
			return *v.Schema.OpenAPIV3Schema
		}
	}
	t.Fatalf("%s: no %s schema", plural, GroupVersion.Version)
	return apiextensionsv1.JSONSchemaProps{}
}
