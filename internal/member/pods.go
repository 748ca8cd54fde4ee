package member

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// podPageSize bounds one page of a pod list, so counting a large namespace never holds more
// than a page of pods in memory.
const podPageSize = 500

// CountPods counts the pods of namespace matching selector that are not Succeeded or Failed
// (KEDA's kubernetes-workload rule). It lists the member directly (no pod cache), bounded by
// the member's call timeout.
func (m *Member) CountPods(ctx context.Context, namespace string, selector labels.Selector) (int64, error) {
	var n int64
	err := m.eachPod(ctx, namespace, selector, func(*corev1.Pod) { n++ })
	return n, err
}

// PodNodes returns the distinct nodes that the pods CountPods counts run on (pods not
// scheduled yet are left out), for kubernetes-workload's groupByNode.
func (m *Member) PodNodes(ctx context.Context, namespace string, selector labels.Selector) ([]string, error) {
	seen := map[string]bool{}
	var nodes []string
	err := m.eachPod(ctx, namespace, selector, func(p *corev1.Pod) {
		if p.Spec.NodeName != "" && !seen[p.Spec.NodeName] {
			seen[p.Spec.NodeName] = true
			nodes = append(nodes, p.Spec.NodeName)
		}
	})
	return nodes, err
}

func (m *Member) eachPod(ctx context.Context, namespace string, selector labels.Selector, f func(*corev1.Pod)) error {
	ctx, cancel := m.CallContext(ctx)
	defer cancel()
	opts := metav1.ListOptions{LabelSelector: selector.String(), Limit: podPageSize}
	for {
		list, err := m.clientset.CoreV1().Pods(namespace).List(ctx, opts)
		if err != nil {
			return fmt.Errorf("list pods %s in %s of member %s: %w", selector, namespace, m.name, err)
		}
		for i := range list.Items {
			if p := &list.Items[i]; p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
				f(p)
			}
		}
		if list.Continue == "" {
			return nil
		}
		opts.Continue = list.Continue
	}
}

// PodScope is one member and the namespace pods are counted in; Member is nil when the
// member is not registered.
type PodScope struct {
	Name      string
	Member    *Member
	Namespace string
}

// Pods counts pods across members, for kubernetes-workload: it is a scalers.PodCounter. Every
// member is listed in parallel; one that cannot be read fails the count, since a count that
// misses a member would scale the others down.
type Pods []PodScope

// CountPods sums CountPods over the members, or with byNode the distinct (member, node) pairs.
func (p Pods) CountPods(ctx context.Context, selector labels.Selector, byNode bool) (int64, error) {
	counts := make([]int64, len(p))
	errs := make([]error, len(p))
	var wg sync.WaitGroup
	for i, s := range p {
		if s.Member == nil {
			errs[i] = fmt.Errorf("member %s is not registered", s.Name)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if byNode {
				nodes, err := s.Member.PodNodes(ctx, s.Namespace, selector)
				counts[i], errs[i] = int64(len(nodes)), err
				return
			}
			counts[i], errs[i] = s.Member.CountPods(ctx, s.Namespace, selector)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	var total int64
	for _, n := range counts {
		total += n
	}
	return total, nil
}
