package scalers_test

import (
	"context"
	"fmt"
	"time"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/scalers"
)

func ExampleNew() {
	thursdayNoon := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s, err := scalers.New(context.Background(), scalers.Config{
		Trigger: v1alpha1.ScaleTriggers{Type: "cron", Metadata: map[string]string{
			"timezone": "Etc/UTC", "start": "0 0 * * Thu", "end": "59 23 * * Thu", "desiredReplicas": "10",
		}},
		Now: func() time.Time { return thursdayNoon },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	values, active, _ := s.GetMetricsAndActivity(context.Background())
	fmt.Println(s.MetricSpecs()[0].Name, values[0].Value, active)

	_, err = scalers.New(context.Background(), scalers.Config{Trigger: v1alpha1.ScaleTriggers{Type: "rabbitmq"}})
	fmt.Println(err)
	// Output:
	// s0-cron-Etc-UTC-00xxThu-5923xxThu 10 true
	// unsupported trigger type "rabbitmq": the hub implements cron, external, external-push, kubernetes-resource, kubernetes-workload, metrics-api, prometheus, and no KEDA scalers adapter is configured for the other KEDA types (--external-scaler-address)
}
