package adapter

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/kedacore/keda/v2/pkg/scalers"
	"github.com/kedacore/keda/v2/pkg/scalers/scalersconfig"
)

// constructor builds one KEDA scaler from its config.
type constructor func(ctx context.Context, cfg *scalersconfig.ScalerConfig) (scalers.Scaler, error)

// plain and withCtx adapt KEDA's two common constructor shapes.
func plain(f func(*scalersconfig.ScalerConfig) (scalers.Scaler, error)) constructor {
	return func(_ context.Context, cfg *scalersconfig.ScalerConfig) (scalers.Scaler, error) { return f(cfg) }
}

func withCtx(f func(context.Context, *scalersconfig.ScalerConfig) (scalers.Scaler, error)) constructor {
	return f
}

// constructors maps a KEDA trigger type to KEDA's constructor for it. It reproduces the
// switch in KEDA v2.21.0's pkg/scaling/scalers_builder.go (buildScaler, between TRIGGERS-START
// and TRIGGERS-END), which KEDA does not export, minus the types in Excluded;
// TestTypesMatchKEDA checks it against that file in the module cache.
var constructors = map[string]constructor{
	"activemq":                plain(scalers.NewActiveMQScaler),
	"apache-kafka":            withCtx(scalers.NewApacheKafkaScaler),
	"arangodb":                plain(scalers.NewArangoDBScaler),
	"artemis-queue":           plain(scalers.NewArtemisQueueScaler),
	"aws-cloudwatch":          withCtx(scalers.NewAwsCloudwatchScaler),
	"aws-dynamodb":            withCtx(scalers.NewAwsDynamoDBScaler),
	"aws-dynamodb-streams":    withCtx(scalers.NewAwsDynamoDBStreamsScaler),
	"aws-kinesis-stream":      withCtx(scalers.NewAwsKinesisStreamScaler),
	"aws-sqs-queue":           withCtx(scalers.NewAwsSqsQueueScaler),
	"azure-app-insights":      plain(scalers.NewAzureAppInsightsScaler),
	"azure-blob":              plain(scalers.NewAzureBlobScaler),
	"azure-cosmosdb":          plain(scalers.NewAzureCosmosDBScaler),
	"azure-data-explorer":     plain(scalers.NewAzureDataExplorerScaler),
	"azure-eventhub":          plain(scalers.NewAzureEventHubScaler),
	"azure-log-analytics":     plain(scalers.NewAzureLogAnalyticsScaler),
	"azure-monitor":           plain(scalers.NewAzureMonitorScaler),
	"azure-pipelines":         withCtx(scalers.NewAzurePipelinesScaler),
	"azure-queue":             plain(scalers.NewAzureQueueScaler),
	"azure-servicebus":        plain(scalers.NewAzureServiceBusScaler),
	"beanstalkd":              plain(scalers.NewBeanstalkdScaler),
	"cassandra":               plain(scalers.NewCassandraScaler),
	"clickhouse":              plain(scalers.NewClickHouseScaler),
	"couchdb":                 withCtx(scalers.NewCouchDBScaler),
	"datadog":                 plain(scalers.NewDatadogScaler),
	"dynatrace":               plain(scalers.NewDynatraceScaler),
	"elastic-forecast":        plain(scalers.NewElasticForecastScaler),
	"elasticsearch":           plain(scalers.NewElasticsearchScaler),
	"etcd":                    plain(scalers.NewEtcdScaler),
	"forgejo-runner":          plain(scalers.NewForgejoRunnerScaler),
	"gcp-cloudtasks":          plain(scalers.NewGcpCloudTasksScaler),
	"gcp-pubsub":              plain(scalers.NewPubSubScaler),
	"gcp-spanner":             plain(scalers.NewGcpSpannerScaler),
	"gcp-stackdriver":         withCtx(scalers.NewStackdriverScaler),
	"gcp-storage":             plain(scalers.NewGcsScaler),
	"github-runner":           plain(scalers.NewGitHubRunnerScaler),
	"graphite":                plain(scalers.NewGraphiteScaler),
	"huawei-cloudeye":         plain(scalers.NewHuaweiCloudeyeScaler),
	"ibmmq":                   plain(scalers.NewIBMMQScaler),
	"influxdb":                plain(scalers.NewInfluxDBScaler),
	"kafka":                   withCtx(scalers.NewKafkaScaler),
	"liiklus":                 plain(scalers.NewLiiklusScaler),
	"loki":                    plain(scalers.NewLokiScaler),
	"metrics-api":             newMetricsAPIScaler,
	"mongodb":                 withCtx(scalers.NewMongoDBScaler),
	"mssql":                   withCtx(scalers.NewMSSQLScaler),
	"mysql":                   plain(scalers.NewMySQLScaler),
	"nats-jetstream":          plain(scalers.NewNATSJetStreamScaler),
	"new-relic":               plain(scalers.NewNewRelicScaler),
	"nsq":                     plain(scalers.NewNSQScaler),
	"opensearch":              plain(scalers.NewOpensearchScaler),
	"openstack-metric":        withCtx(scalers.NewOpenstackMetricScaler),
	"openstack-swift":         withCtx(scalers.NewOpenstackSwiftScaler),
	"postgresql":              withCtx(scalers.NewPostgreSQLScaler),
	"predictkube":             newPredictKubeScaler,
	"prometheus":              plain(scalers.NewPrometheusScaler),
	"pulsar":                  plain(scalers.NewPulsarScaler),
	"rabbitmq":                plain(scalers.NewRabbitMQScaler),
	"redis":                   redis(false, false),
	"redis-cluster":           redis(true, false),
	"redis-cluster-streams":   redisStreams(true, false),
	"redis-sentinel":          redis(false, true),
	"redis-sentinel-streams":  redisStreams(false, true),
	"redis-streams":           redisStreams(false, false),
	"selenium-grid":           plain(scalers.NewSeleniumGridScaler),
	"solace-direct-messaging": plain(scalers.NewSolaceDMScaler),
	"solace-event-queue":      plain(scalers.NewSolaceScaler),
	"solarwinds":              plain(scalers.NewSolarWindsScaler),
	"solr":                    plain(scalers.NewSolrScaler),
	"splunk":                  plain(scalers.NewSplunkScaler),
	"splunk-observability":    plain(scalers.NewSplunkObservabilityScaler),
	"sumologic":               plain(scalers.NewSumologicScaler),
	"temporal":                withCtx(scalers.NewTemporalScaler),
}

// Excluded are KEDA's trigger types this adapter does not serve, and why. The hub evaluates
// the ones it implements itself and never sends them here.
var Excluded = map[string]string{
	"cpu":                 "a resource metric the HPA reads from metrics.k8s.io, not an external metric (KEDA's scaler has no value of its own)",
	"memory":              "a resource metric the HPA reads from metrics.k8s.io, not an external metric (KEDA's scaler has no value of its own)",
	"cron":                "built into the hub",
	"external":            "built into the hub: it dials the user's external scaler itself",
	"external-push":       "built into the hub: it streams from the user's external scaler itself",
	"external-mock":       "KEDA's own test double",
	"kubernetes-resource": "built into the hub: it reads the hub's ConfigMaps and Secrets through its cache",
	"kubernetes-workload": "built into the hub: it counts pods across the member clusters, which this adapter cannot reach",
}

// Types returns the trigger types this adapter serves, sorted.
func Types() []string { return slices.Sorted(maps.Keys(constructors)) }

func redis(cluster, sentinel bool) constructor {
	return func(ctx context.Context, cfg *scalersconfig.ScalerConfig) (scalers.Scaler, error) {
		return scalers.NewRedisScaler(ctx, cluster, sentinel, cfg)
	}
}

func redisStreams(cluster, sentinel bool) constructor {
	return func(ctx context.Context, cfg *scalersconfig.ScalerConfig) (scalers.Scaler, error) {
		return scalers.NewRedisStreamsScaler(ctx, cluster, sentinel, cfg)
	}
}

// newPredictKubeScaler adapts the one KEDA constructor that returns its concrete type.
func newPredictKubeScaler(ctx context.Context, cfg *scalersconfig.ScalerConfig) (scalers.Scaler, error) {
	s, err := scalers.NewPredictKubeScaler(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// errEndpointAggregation refuses metrics-api's aggregateFromKubeServiceEndpoints: it lists the
// EndpointSlices of a Service in the cluster of the workload, and the workload runs in member
// clusters this adapter has no access to.
var errEndpointAggregation = errors.New("aggregateFromKubeServiceEndpoints is not supported here: the Service's endpoints live in the member clusters")

// newMetricsAPIScaler is KEDA's metrics-api scaler without a Kubernetes client: KEDA uses the
// client only for aggregateFromKubeServiceEndpoints, which is refused first.
func newMetricsAPIScaler(_ context.Context, cfg *scalersconfig.ScalerConfig) (scalers.Scaler, error) {
	// KEDA's typed metadata parser reads booleans with strconv.ParseBool.
	if on, err := strconv.ParseBool(strings.TrimSpace(cfg.TriggerMetadata["aggregateFromKubeServiceEndpoints"])); err == nil && on {
		return nil, errEndpointAggregation
	}
	return scalers.NewMetricsAPIScaler(cfg, nil)
}
