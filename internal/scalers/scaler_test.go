package scalers

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

func TestSupported(t *testing.T) {
	want := []string{"cron", "external", "external-push", "kubernetes-resource", "kubernetes-workload", "metrics-api", "prometheus"}
	if diff := cmp.Diff(want, Supported()); diff != "" {
		t.Errorf("Supported (-want +got):\n%s", diff)
	}
}

func TestNewUnsupportedTrigger(t *testing.T) {
	for _, typ := range []string{"rabbitmq", "", "Kubernetes-Resource"} {
		_, err := New(context.Background(), Config{Trigger: v1alpha1.ScaleTriggers{Type: typ}})
		if !errors.Is(err, ErrUnsupportedTrigger) {
			t.Fatalf("type %q: error %v does not wrap ErrUnsupportedTrigger", typ, err)
		}
		want := `unsupported trigger type "` + typ + `": the hub implements cron, external, external-push, kubernetes-resource, ` +
			`kubernetes-workload, metrics-api, prometheus, and no KEDA scalers adapter is configured for the other KEDA types (--external-scaler-address)`
		if err.Error() != want {
			t.Errorf("type %q: error\n got %q\nwant %q", typ, err, want)
		}
	}
	// cpu and memory are refused with the reason, even with an adapter (it could not read them either).
	for _, typ := range []string{"cpu", "memory"} {
		_, err := New(context.Background(), Config{Trigger: v1alpha1.ScaleTriggers{Type: typ}, Options: Options{ExternalScalerAddress: "127.0.0.1:1"}})
		if !errors.Is(err, ErrUnsupportedTrigger) || !strings.Contains(err.Error(), "metrics.k8s.io") {
			t.Errorf("type %s: err = %v", typ, err)
		}
	}
}

func TestReference(t *testing.T) {
	tests := []struct {
		name    string
		trigger v1alpha1.ScaleTriggers
		want    ObjectRef
		wantOK  bool
	}{
		{name: "configmap", trigger: v1alpha1.ScaleTriggers{Type: "kubernetes-resource", Metadata: base()}, want: ObjectRef{Kind: "ConfigMap", Namespace: "ns", Name: "my-config"}, wantOK: true},
		{name: "secret", trigger: v1alpha1.ScaleTriggers{Type: "kubernetes-resource", Metadata: base("resourceKind", "Secret", "resourceName", " s ")}, want: ObjectRef{Kind: "Secret", Namespace: "ns", Name: "s"}, wantOK: true},
		{name: "otherwise invalid metadata still names the object", trigger: v1alpha1.ScaleTriggers{Type: "kubernetes-resource", Metadata: base("targetValue", "", "key", "")}, want: ObjectRef{Kind: "ConfigMap", Namespace: "ns", Name: "my-config"}, wantOK: true},
		{name: "unknown kind", trigger: v1alpha1.ScaleTriggers{Type: "kubernetes-resource", Metadata: base("resourceKind", "Pod")}},
		{name: "no name", trigger: v1alpha1.ScaleTriggers{Type: "kubernetes-resource", Metadata: base("resourceName", "")}},
		{name: "cron reads nothing", trigger: v1alpha1.ScaleTriggers{Type: "cron", Metadata: validCron()}},
		{name: "unsupported type", trigger: v1alpha1.ScaleTriggers{Type: "prometheus"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Reference(tt.trigger, "ns")
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("Reference = %+v, %v; want %+v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
	if s := (ObjectRef{Kind: "ConfigMap", Namespace: "default", Name: "mock-metric"}).String(); s != "ConfigMap default/mock-metric" {
		t.Errorf("String = %q", s)
	}
}

func TestAsMilli(t *testing.T) {
	for in, want := range map[float64]float64{
		0: 0, 1: 1, -1: 0, 0.0004: 0, 0.0006: 0.001, 2.5: 2.5, 1e20: 1e20,
	} {
		if got := asMilli(in); got != want {
			t.Errorf("asMilli(%v) = %v, want %v", in, got, want)
		}
	}
	for _, in := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got := asMilli(in); got != 0 {
			t.Errorf("asMilli(%v) = %v, want 0", in, got)
		}
	}
}
