package member

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
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

// TargetReadyPods is ReadyPods of the target GetTarget just returned. For a kind whose
// controller counts its ready pods in its status (Deployment, StatefulSet, ReplicaSet), a
// pod becoming ready or not moves the target's resourceVersion: while the target is at the
// version its pods were counted at, the count stands and nothing is listed (an idle
// evaluation of a settled DSO then makes no request to the member). Any other kind, whose
// status may say nothing of its pods, is counted every time.
func (m *Member) TargetReadyPods(ctx context.Context, gvk schema.GroupVersionKind, namespace, name, selector string) (int32, error) {
	key := targetKey{gvk, namespace, name}
	_, version, seen := m.seen.get(key)
	reuse := seen && statusCountsReadyPods(gvk)
	if reuse {
		if n, ok := m.seen.readyAt(key, version); ok {
			return n, nil
		}
	}
	n, err := m.ReadyPods(ctx, namespace, selector)
	if err == nil && reuse {
		m.seen.rememberReady(key, version, n)
	}
	return n, err
}

// statusCountsReadyPods: the kinds whose built-in controllers write status.readyReplicas.
func statusCountsReadyPods(gvk schema.GroupVersionKind) bool {
	if gvk.Group != appsv1.GroupName {
		return false
	}
	switch gvk.Kind {
	case "Deployment", "StatefulSet", "ReplicaSet":
		return true
	}
	return false
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
