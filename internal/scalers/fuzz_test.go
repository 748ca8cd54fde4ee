package scalers

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

// FuzzKubernetesResource: any metadata is refused with ErrInvalidMetadata or gives a scaler
// whose value parsing never panics, yields a finite value ≥ 0 as KEDA reports it, and never
// echoes a Secret's value in an error.
func FuzzKubernetesResource(f *testing.F) {
	f.Add("ConfigMap", "number", "", "float64", "10", "", "20")
	f.Add("Secret", "json", "metrics.threshold", "int64", "2.5", "5", `{"metrics":{"threshold":7}}`)
	f.Add("ConfigMap", "yaml", "a.b", "quantity", "1", "0", "a:\n  b: 500m\n")
	f.Add("Secret", "number", "", "quantity", "-1", "x", "hunter2-password")
	f.Add("ConfigMap", "json", "#", "float64", "1e309", "NaN", "[1,2,3]")
	f.Fuzz(func(t *testing.T, kind, format, location, valueType, target, activation, raw string) {
		md := map[string]string{"resourceKind": kind, "resourceName": "obj", "key": "k", "format": format,
			"valueLocation": location, "valueType": valueType, "targetValue": target, "activationTargetValue": activation}
		for k, v := range md {
			if v == "" {
				delete(md, k)
			}
		}
		parsed, err := parseKubernetesResourceMetadata(md, false)
		if err != nil {
			if !errors.Is(err, ErrInvalidMetadata) {
				t.Fatalf("error %v does not wrap ErrInvalidMetadata", err)
			}
			return
		}
		if !(parsed.TargetValue > 0) || math.IsInf(parsed.TargetValue, 0) {
			t.Fatalf("accepted targetValue %v", parsed.TargetValue)
		}
		s := &kubernetesResourceScaler{object: ObjectRef{Kind: parsed.ResourceKind, Namespace: "ns", Name: "obj"}, md: parsed}
		v, err := s.parse(raw)
		if err != nil {
			if kind == KindSecret && len(raw) >= 6 && strings.Contains(err.Error(), raw) {
				t.Fatalf("the error shows the Secret's value: %v", err)
			}
			return
		}
		if m := asMilli(v); math.IsNaN(m) || math.IsInf(m, 0) || m < 0 {
			t.Fatalf("value %v reported as %v", v, m)
		}
	})
}

// FuzzCron: any cron metadata is refused with ErrInvalidMetadata or gives a scaler whose value
// is 0 or desiredReplicas and whose next change lies in the future (or never).
func FuzzCron(f *testing.F) {
	f.Add("Europe/Berlin", "0 8 * * *", "0 18 * * *", "5", int64(0))
	f.Add("UTC", "*/5 * * * *", "1-59/5 * * * *", "-3", int64(1e9))
	f.Add("America/New_York", "0 0 30 2 *", "0 0 1 1 *", "99999999999999999999", int64(-1e9))
	f.Add("../../etc/passwd", "@hourly", "x", "0", int64(0))
	f.Add("Local", "CRON_TZ=Asia/Tokyo 0 9 * * 1-5", "0 17 * * 1-5", "2", int64(12345))
	f.Fuzz(func(t *testing.T, tz, start, end, desired string, at int64) {
		now := time.Unix(at, 0)
		cfg := Config{Trigger: v1alpha1.ScaleTriggers{Type: cronType, Metadata: map[string]string{
			"timezone": tz, "start": start, "end": end, "desiredReplicas": desired}}, Now: func() time.Time { return now }}
		sc, err := New(context.Background(), cfg)
		if err != nil {
			if !errors.Is(err, ErrInvalidMetadata) {
				t.Fatalf("error %v does not wrap ErrInvalidMetadata", err)
			}
			return
		}
		values, active, err := sc.GetMetricsAndActivity(context.Background())
		if err != nil || len(values) != 1 {
			t.Fatalf("read: %v %v", values, err)
		}
		c := sc.(*cronScaler)
		if want := asMilli(float64(c.md.DesiredReplicas)); active && values[0].Value != want || !active && values[0].Value != 0 {
			t.Fatalf("active=%v value=%v desired=%d", active, values[0].Value, c.md.DesiredReplicas)
		}
		if next := c.NextChange(now); !next.IsZero() && !next.After(now) {
			t.Fatalf("next change %v not after %v", next, now)
		}
	})
}
