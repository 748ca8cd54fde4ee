package scalers

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/labels"
)

// The kubernetes-workload trigger reproduces KEDA's kubernetes_workload_scaler.go with one
// difference that is the point of a fleet: KEDA counts the pods matching podSelector in the
// ScaledObject's namespace of its one cluster; here the pods are counted in the target
// namespace of every member the object currently uses (PodCounter), and the counts are
// summed. Pods in phase Succeeded or Failed are not counted; with groupByNode the metric is
// the number of distinct nodes (a node of one member is never the node of another).
const kubernetesWorkloadType = "kubernetes-workload"

// PodCounter counts pods across the members an object uses. The reconciler provides one for
// every read (WithPodCounter), because the members change between reads.
type PodCounter interface {
	// CountPods returns the pods matching selector that are not Succeeded or Failed, or with
	// byNode the distinct nodes they run on. A member that cannot be read is an error: a
	// count that misses a member would scale the others down.
	CountPods(ctx context.Context, selector labels.Selector, byNode bool) (int64, error)
}

type podCounterKey struct{}

// WithPodCounter returns a context whose reads count pods with pc.
func WithPodCounter(ctx context.Context, pc PodCounter) context.Context {
	return context.WithValue(ctx, podCounterKey{}, pc)
}

type kubernetesWorkloadScaler struct {
	selector        labels.Selector
	byNode          bool
	activationValue float64
	spec            MetricSpec
}

func newKubernetesWorkloadScaler(_ context.Context, cfg Config) (Scaler, error) {
	m := newMetadata(cfg.Trigger.Metadata).withAuth(cfg.Auth)
	var sel labels.Selector
	if raw, ok := m.get(fromMetadata, "podSelector"); !ok {
		m.problem("podSelector is required")
	} else {
		var err error
		if sel, err = labels.Parse(raw); err != nil {
			m.problem("podSelector %q is not a label selector: %v", raw, err)
		}
	}
	value, _ := m.number(fromMetadata, "value", false, 0)
	activation, _ := m.number(fromMetadata, "activationValue", false, 0)
	byNode := m.boolean(fromMetadata, "groupByNode", false)
	if value <= 0 && !cfg.AsMetricSource {
		m.problem("value must be a float greater than 0")
	}
	if problem := metricTypeProblem(cfg); problem != "" {
		m.problem("%s", problem)
	}
	if err := m.err(kubernetesWorkloadType); err != nil {
		return nil, err
	}
	metricType, _ := metricTargetType(cfg.Trigger.MetricType)
	return &kubernetesWorkloadScaler{
		selector: sel, byNode: byNode, activationValue: activation,
		spec: MetricSpec{Name: metricName(cfg, "workload-"+cfg.Namespace), Target: asMilli(value),
			ActivationTarget: activation, Type: metricType},
	}, nil
}

func (s *kubernetesWorkloadScaler) MetricSpecs() []MetricSpec { return []MetricSpec{s.spec} }

func (s *kubernetesWorkloadScaler) Close(context.Context) error { return nil }

func (s *kubernetesWorkloadScaler) GetMetricsAndActivity(ctx context.Context) ([]MetricValue, bool, error) {
	pc, _ := ctx.Value(podCounterKey{}).(PodCounter)
	if pc == nil {
		return nil, false, errors.New("kubernetes-workload trigger: no member clusters to count pods in")
	}
	n, err := pc.CountPods(ctx, s.selector, s.byNode)
	if err != nil {
		return nil, false, fmt.Errorf("counting pods %s: %w", s.selector, err)
	}
	return []MetricValue{{Name: s.spec.Name, Value: asMilli(float64(n))}}, float64(n) > s.activationValue, nil
}
