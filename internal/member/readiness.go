package member

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// readyPodsPageSize bounds one page of the pod list, so a large target is read in pieces.
const readyPodsPageSize = 500

// ReadyPods counts the pods in namespace matching selector (a scale target's /scale selector)
// that are Running and Ready and not being deleted, the HPA's rule for ready pods
// (replica_calculator.go getReadyPodsCount, which KEDA's fallback reuses). It reads the member's
// API server, not a cache (a target whose kind reports no ready count is the only caller), page
// by page, each page bounded by the member's timeout, from the apiserver's watch cache.
func (m *Member) ReadyPods(ctx context.Context, namespace, selector string) (int32, error) {
	if selector == "" {
		return 0, fmt.Errorf("member %s: no selector to count the ready pods of", m.name)
	}
	var ready int32
	// ResourceVersion "0": served from the apiserver's watch cache, not etcd, as fresh as an
	// informer (the HPA counts ready pods from one), and cheap for a busy member.
	opts := metav1.ListOptions{LabelSelector: selector, Limit: readyPodsPageSize, ResourceVersion: "0"}
	for {
		cctx, cancel := m.CallContext(ctx)
		list, err := m.clientset.CoreV1().Pods(namespace).List(cctx, opts)
		cancel()
		if err != nil {
			return 0, fmt.Errorf("list pods %q in %s in member %s: %w", selector, namespace, m.name, err)
		}
		for i := range list.Items {
			if podReady(&list.Items[i]) {
				ready++
			}
		}
		if list.Continue == "" {
			return ready, nil
		}
		opts.Continue = list.Continue
	}
}

func podReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
