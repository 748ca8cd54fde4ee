package scalers

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/clusterenv"
)

// TestKubernetesResourceAgainstAPIServer reads ConfigMaps and Secrets from a real hub API
// server through a plain (uncached) client while they change and disappear.
func TestKubernetesResourceAgainstAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver")
	}
	env := clusterenv.StartForTest(t, clusterenv.Options{})
	ctx := t.Context()
	c, err := client.New(env.Hub.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const ns = "scalers-it"
	must(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))

	build := func(md map[string]string) Scaler {
		t.Helper()
		s, err := New(ctx, Config{
			Trigger:   v1alpha1.ScaleTriggers{Type: "kubernetes-resource", Metadata: md},
			Namespace: ns,
			HubReader: c,
		})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return s
	}
	read := func(s Scaler, wantValue float64, wantActive bool) {
		t.Helper()
		values, active, err := s.GetMetricsAndActivity(ctx)
		if err != nil {
			t.Fatalf("GetMetricsAndActivity: %v", err)
		}
		if len(values) != 1 || values[0].Value != wantValue || active != wantActive {
			t.Fatalf("got %v active=%v, want value %v active=%v", values, active, wantValue, wantActive)
		}
	}
	readErr := func(s Scaler, want string) error {
		t.Helper()
		_, _, err := s.GetMetricsAndActivity(ctx)
		if err == nil || err.Error() != want {
			t.Fatalf("error\n got %v\nwant %s", err, want)
		}
		return err
	}

	t.Run("configmap", func(t *testing.T) {
		s := build(map[string]string{
			"resourceKind": "ConfigMap", "resourceName": "mock-metric", "key": "metric-value",
			"targetValue": "5", "activationTargetValue": "4",
		})
		err := readErr(s, "ConfigMap scalers-it/mock-metric not found")
		if !apierrors.IsNotFound(err) {
			t.Errorf("apierrors.IsNotFound(%q) = false", err)
		}

		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "mock-metric"},
			Data:       map[string]string{"metric-value": "3"},
		}
		must(t, c.Create(ctx, cm))
		read(s, 3, false)

		cm.Data["metric-value"] = "12"
		must(t, c.Update(ctx, cm))
		read(s, 12, true)

		cm.Data["metric-value"] = "abc"
		must(t, c.Update(ctx, cm))
		readErr(s, `value "abc" of key metric-value in ConfigMap scalers-it/mock-metric is not a number`)

		cm.Data = map[string]string{"other": "1"}
		must(t, c.Update(ctx, cm))
		readErr(s, `ConfigMap scalers-it/mock-metric has no key "metric-value"`)

		must(t, c.Delete(ctx, cm))
		err = readErr(s, "ConfigMap scalers-it/mock-metric not found")
		if !apierrors.IsNotFound(err) {
			t.Errorf("apierrors.IsNotFound(%q) = false", err)
		}
	})

	t.Run("secret json", func(t *testing.T) {
		s := build(map[string]string{
			"resourceKind": "Secret", "resourceName": "queue", "key": "stats",
			"format": "json", "valueLocation": "queue.depth", "targetValue": "10",
		})
		sec := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "queue"},
			StringData: map[string]string{"stats": `{"queue":{"depth":42}}`},
		}
		must(t, c.Create(ctx, sec))
		read(s, 42, true)

		must(t, c.Get(ctx, client.ObjectKeyFromObject(sec), sec))
		sec.Data["stats"] = []byte(`{"queue":{"depth":"secret"}}`)
		must(t, c.Update(ctx, sec))
		readErr(s, `value at path "queue.depth" in the JSON of key stats in Secret scalers-it/queue is not a quantity (such as 500m or 2Gi)`)

		must(t, c.Delete(ctx, sec))
		readErr(s, "Secret scalers-it/queue not found")
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
