package clusterenv_test

import (
	"context"
	"testing"
	"time"

	"github.com/fleetscale/fleetscale/internal/clusterenv"
)

// BenchmarkStartHubAnd3FullMembers measures how long Start takes to bring up the hub (an
// apiserver) and three full members: etcd, four apiservers, three controller-managers,
// schedulers and kwoks, all ready. Run it alone: make bench, or
// go test -run '^$' -bench StartHub -benchtime 1x ./internal/clusterenv/
func BenchmarkStartHubAnd3FullMembers(b *testing.B) {
	var total time.Duration
	for i := 0; i < b.N; i++ {
		begin := time.Now()
		env, err := clusterenv.Start(context.Background(), clusterenv.Options{
			Members: 3,
			Member:  clusterenv.ClusterOptions{Full: true},
		})
		if err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(begin)
		total += elapsed
		b.StopTimer()
		b.Logf("hub + 3 full members up in %.1fs", elapsed.Seconds())
		if err := env.Stop(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/start")
}
