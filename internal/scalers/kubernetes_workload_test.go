package scalers

import (
	"context"
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

// countFunc is a PodCounter from a function (the real one, member.Pods, is tested against
// three member clusters in the DSO controller's tests).
type countFunc func(selector labels.Selector, byNode bool) (int64, error)

func (f countFunc) CountPods(_ context.Context, selector labels.Selector, byNode bool) (int64, error) {
	return f(selector, byNode)
}

func TestKubernetesWorkload(t *testing.T) {
	trigger := v1alpha1.ScaleTriggers{Type: "kubernetes-workload", Metadata: map[string]string{
		"podSelector": "app=backend, tier in (web,api)", "value": "2", "activationValue": "3", "groupByNode": "true"}}
	s, err := New(t.Context(), Config{Trigger: trigger, Namespace: "shop", TriggerIndex: 1})
	if err != nil {
		t.Fatal(err)
	}
	if spec := s.MetricSpecs()[0]; spec.Name != "s1-workload-shop" || spec.Target != 2 || spec.ActivationTarget != 3 {
		t.Errorf("spec %+v", spec)
	}
	var gotSelector string
	var gotByNode bool
	ctx := WithPodCounter(t.Context(), countFunc(func(sel labels.Selector, byNode bool) (int64, error) {
		gotSelector, gotByNode = sel.String(), byNode
		return 5, nil
	}))
	values, active, err := s.GetMetricsAndActivity(ctx)
	if err != nil || values[0].Value != 5 || !active || gotSelector != "app=backend,tier in (api,web)" || !gotByNode {
		t.Fatalf("values %v active %v err %v selector %q byNode %v", values, active, err, gotSelector, gotByNode)
	}
	failing := WithPodCounter(t.Context(), countFunc(func(labels.Selector, bool) (int64, error) {
		return 0, errors.New("member k3d-member-2 is not registered")
	}))
	if _, _, err := s.GetMetricsAndActivity(failing); err == nil || !strings.Contains(err.Error(), "k3d-member-2") {
		t.Errorf("err = %v", err)
	}
	if _, _, err := s.GetMetricsAndActivity(t.Context()); err == nil {
		t.Error("no counter: no error")
	}

	for md, want := range map[string]string{
		"":                     "podSelector is required",
		"podSelector=app in (": "is not a label selector",
		"podSelector=app=x":    "value must be a float greater than 0",
	} {
		m := map[string]string{}
		if k, v, ok := strings.Cut(md, "="); ok {
			m[k] = v
		}
		_, err := New(t.Context(), Config{Trigger: v1alpha1.ScaleTriggers{Type: "kubernetes-workload", Metadata: m}})
		if !errors.Is(err, ErrInvalidMetadata) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v", md, err)
		}
	}
}

// valueLocation on a Secret is a plain path only: a GJSON query would make a secret string a
// yes/no answer.
func TestKubernetesResourceSecretPathsArePlain(t *testing.T) {
	for loc, ok := range map[string]bool{
		"queues.0.length": true, "a_b.c-d": true,
		`tokens.#(value=="abc")`: false, "@this": false, "a.*": false, "a?": false, "a..b": false, "a|b": false, `a\.b`: false,
	} {
		md := map[string]string{"resourceKind": "Secret", "resourceName": "s", "key": "k", "format": "json", "valueLocation": loc, "targetValue": "1"}
		_, err := New(t.Context(), Config{Trigger: v1alpha1.ScaleTriggers{Type: "kubernetes-resource", Metadata: md}, Namespace: "ns", HubReader: newObjectReader()})
		if ok && err != nil {
			t.Errorf("%q refused: %v", loc, err)
		}
		if !ok && (err == nil || !strings.Contains(err.Error(), "only a plain path is allowed")) {
			t.Errorf("%q: err = %v", loc, err)
		}
		// A ConfigMap keeps GJSON's full syntax, as in KEDA.
		md["resourceKind"] = "ConfigMap"
		if _, err := New(t.Context(), Config{Trigger: v1alpha1.ScaleTriggers{Type: "kubernetes-resource", Metadata: md}, Namespace: "ns", HubReader: newObjectReader()}); err != nil && loc != "a..b" {
			t.Errorf("ConfigMap %q refused: %v", loc, err)
		}
	}
}
