package autoscaling_test

import (
	"fmt"
	"time"

	"github.com/fleetscale/fleetscale/internal/autoscaling"
)

// The walkthrough DSO: three members at one replica each, target 5, min 1,
// max 10. The caller stores State in status and passes it back each time.
func ExampleDecideTotal() {
	minReplicas, maxReplicas := int32(1), int32(10)
	in := autoscaling.ScaledObjectInput{
		Triggers:        []autoscaling.Trigger{{Name: "metric-value", Value: 20, Target: 5}},
		CurrentReplicas: 3,
		ReadyReplicas:   3,
		MinReplicaCount: &minReplicas,
		MaxReplicaCount: &maxReplicas,
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, value := range []float64{20, 50, 50} {
		in.Triggers[0].Value = value
		d, err := autoscaling.DecideTotal(in, now)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("value %v: total %d, requeue after %v\n", value, d.DesiredReplicas, d.RequeueAfter)
		in.CurrentReplicas, in.ReadyReplicas, in.State = d.DesiredReplicas, d.DesiredReplicas, d.State
		now = now.Add(autoscaling.HPASyncPeriod)
	}
	// Output:
	// value 20: total 4, requeue after 0s
	// value 50: total 8, requeue after 15s
	// value 50: total 10, requeue after 0s
}

func ExampleDecideJobs() {
	d := autoscaling.DecideJobs(autoscaling.ScaledJobInput{
		Triggers:    []autoscaling.JobTrigger{{Name: "queue", Value: 20, Target: 5, Active: true}},
		RunningJobs: 1,
	})
	fmt.Println(d.JobsToCreate, d.Reason)
	// Output:
	// 3 creating 3 Jobs: queue length 20, 1 running (0 pending), room for 3
}
