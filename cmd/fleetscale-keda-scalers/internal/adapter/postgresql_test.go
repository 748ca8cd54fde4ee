package adapter

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	. "github.com/onsi/gomega"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A second KEDA type end to end: `type: postgresql` against a real PostgreSQL, the password
// from a TriggerAuthentication. The metric is the query's value, activation is KEDA's
// (value > activationTargetQueryValue), and a bad password is redacted.
func TestPostgreSQLQueryFollowsTable(t *testing.T) {
	g := NewWithT(t)
	pg := startPostgres(t)
	db := pg.conn(t)
	ctx := callCtx(t)
	_, err := db.Exec(ctx, "CREATE TABLE jobs (id serial PRIMARY KEY, state text)")
	g.Expect(err).NotTo(HaveOccurred())
	client, _ := startAdapter(t, Config{})
	ref := func(password string) *externalscaler.ScaledObjectRef {
		return &externalscaler.ScaledObjectRef{Name: "etl", Namespace: "data", ScalerMetadata: map[string]string{
			"host": "127.0.0.1", "port": strconv.Itoa(pg.Port), "userName": pg.User, "dbName": "postgres", "sslmode": "disable",
			"query":                      "SELECT count(*) FROM jobs WHERE state = 'queued'",
			"targetQueryValue":           "4",
			"activationTargetQueryValue": "2",
			keyTriggerType:               "postgresql",
			keyTriggerIndex:              "1",
			keyAuthPrefix + "password":   password,
		}}
	}
	spec, err := client.GetMetricSpec(ctx, ref(pg.Password))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(spec.GetMetricSpecs()).To(HaveLen(1))
	g.Expect(spec.GetMetricSpecs()[0].GetTargetSizeFloat()).To(Equal(4.0))
	name := spec.GetMetricSpecs()[0].GetMetricName()
	g.Expect(name).To(HavePrefix("postgresql"))

	read := func() (float64, bool) {
		m, err := client.GetMetrics(ctx, &externalscaler.GetMetricsRequest{ScaledObjectRef: ref(pg.Password), MetricName: name})
		g.Expect(err).NotTo(HaveOccurred())
		a, err := client.IsActive(ctx, ref(pg.Password))
		g.Expect(err).NotTo(HaveOccurred())
		return m.GetMetricValues()[0].GetMetricValueFloat(), a.GetResult()
	}
	for _, n := range []int{0, 2, 3, 11} {
		_, err := db.Exec(ctx, fmt.Sprintf("INSERT INTO jobs (state) SELECT 'queued' FROM generate_series(1, %d - (SELECT count(*) FROM jobs))", n))
		g.Expect(err).NotTo(HaveOccurred())
		value, active := read()
		g.Expect(value).To(Equal(float64(n)))
		g.Expect(active).To(Equal(n > 2), "activation at %d", n)
	}

	wrong := "not-the-pg-Passw0rd"
	_, err = client.GetMetricSpec(ctx, ref(wrong))
	g.Expect(status.Code(err)).To(Equal(codes.Unavailable), "%v", err)
	t.Logf("wrong password: %v", err)
	g.Expect(status.Convert(err).Message()).To(HavePrefix(`postgresql trigger "1": `))
	g.Expect(err.Error()).NotTo(ContainSubstring(wrong))
}
