package member

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/version"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

// AnnotationTokenExpiration on the kubeconfig Secret records when its token expires.
const AnnotationTokenExpiration = "fleetscale.dev/token-expiration"

func (m *Member) probeLoop() {
	ticker := time.NewTicker(m.opts.ProbeInterval)
	defer ticker.Stop()
	var written []byte // the MemberCluster status content last written by this member's probes
	for {
		h := m.probe()
		written = m.record(h, written)
		m.maybeRefreshToken()
		select {
		case <-m.ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// probe asks the member for its version (reachability, latency) and lists one object of a
// kind the credentials must read (authorization), each bounded by ProbeTimeout.
func (m *Member) probe() Health {
	ctx, cancel := context.WithTimeout(m.ctx, m.opts.ProbeTimeout)
	defer cancel()
	start := time.Now()
	h := Health{LastProbe: start, Probed: true}
	raw, err := m.clientset.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Raw()
	h.Latency = time.Since(start)
	if err != nil {
		h.Reason, h.Message = classify(err, m.cfg.Host)
		return h
	}
	var info version.Info
	if err := json.Unmarshal(raw, &info); err == nil {
		h.Version = info.GitVersion
	}
	ns := ""
	if len(m.targetNamespaces) > 0 {
		ns = m.targetNamespaces[0]
	}
	if _, err := m.clientset.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		h.Reason, h.Message = classify(err, m.cfg.Host)
		return h
	}
	h.Ready, h.Reason, h.Message = true, v1alpha1.MemberReasonReady, "API server answers and credentials work"
	return h
}

func classify(err error, host string) (reason, message string) {
	switch {
	case apierrors.IsUnauthorized(err):
		return v1alpha1.MemberReasonUnauthorized, fmt.Sprintf("%s rejected the stored token: %v", host, err)
	case apierrors.IsForbidden(err):
		return v1alpha1.MemberReasonForbidden, fmt.Sprintf("%s: the stored credentials lack a permission: %v", host, err)
	case errors.Is(err, context.DeadlineExceeded):
		return v1alpha1.MemberReasonUnreachable, fmt.Sprintf("%s did not answer in time", host)
	default:
		return v1alpha1.MemberReasonUnreachable, fmt.Sprintf("%s is unreachable: %v", host, err)
	}
}

// record stores the probe result, publishes a transition and writes MemberCluster status when
// its content (health, version, token expiry) differs from what was last written; it returns
// what is written now. The probe latency goes to the metrics on every probe.
func (m *Member) record(h Health, written []byte) []byte {
	if m.ctx.Err() != nil {
		return written
	}
	m.mu.Lock()
	prev := m.health
	h.Since = prev.Since
	changed := !prev.Probed || prev.Ready != h.Ready || prev.Reason != h.Reason
	if !prev.Probed || prev.Ready != h.Ready {
		h.Since = h.LastProbe
	}
	m.health = h
	m.mu.Unlock()
	m.opts.Metrics.MemberProbe(m.name, h.Ready, h.Latency)
	if changed {
		logf.FromContext(m.ctx).Info("Member health changed", "ready", h.Ready, "reason", h.Reason, "message", h.Message)
		m.notify(Event{Type: EventHealthChanged, Member: m.name})
	}
	if m.opts.ReadOnly {
		return written
	}
	content, err := m.writeStatus(h, written)
	if err != nil && m.ctx.Err() == nil {
		logf.FromContext(m.ctx).Error(err, "Writing MemberCluster status")
	}
	return content
}

// writeStatus patches MemberCluster status unless its content equals written, and returns the
// content now stored (written itself when the patch fails, so the next probe tries again).
// lastProbeTime and probeLatency are not content: they are those of the probe that wrote.
func (m *Member) writeStatus(h Health, written []byte) ([]byte, error) {
	state, status := v1alpha1.MemberStateNotReady, metav1.ConditionFalse
	if h.Ready {
		state, status = v1alpha1.MemberStateReady, metav1.ConditionTrue
	}
	st := v1alpha1.MemberClusterStatus{
		State: state,
		Conditions: []metav1.Condition{{
			Type: v1alpha1.ConditionReady, Status: status, Reason: h.Reason, Message: h.Message,
			LastTransitionTime: metav1.NewTime(h.Since),
		}},
		KubernetesVersion: h.Version,
	}
	if claims, ok := m.tokenClaims(); ok {
		st.TokenExpirationTime = &metav1.Time{Time: claims.ExpiresAt}
	}
	content, err := json.Marshal(st)
	if err != nil {
		return written, fmt.Errorf("status content: %w", err)
	}
	if string(content) == string(written) {
		return written, nil
	}
	st.LastProbeTime = &metav1.Time{Time: h.LastProbe}
	st.ProbeLatency = h.Latency.Round(time.Millisecond).String()
	// An empty version (member down) is omitted from the merge patch, so the last known stays.
	patch, err := json.Marshal(map[string]any{"status": st})
	if err != nil {
		return written, fmt.Errorf("status patch: %w", err)
	}
	ctx, cancel := context.WithTimeout(m.ctx, m.opts.CallTimeout)
	defer cancel()
	mc := &v1alpha1.MemberCluster{ObjectMeta: metav1.ObjectMeta{Name: m.name, Namespace: m.hubNamespace}}
	if err := m.hub.Status().Patch(ctx, mc, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return written, client.IgnoreNotFound(err)
	}
	return content, nil
}

func (m *Member) tokenClaims() (tokenClaims, bool) {
	if m.cfg.BearerToken == "" {
		return tokenClaims{}, false
	}
	return parseTokenClaims(m.cfg.BearerToken)
}

// maybeRefreshToken replaces an expiring token with a new one for the same ServiceAccount,
// requested with the current token, and stores it in the hub Secret. The Secret change makes
// the registry rebuild this member's clients.
func (m *Member) maybeRefreshToken() {
	if m.opts.ReadOnly {
		return // the shard that manages the registrations refreshes them
	}
	claims, ok := m.tokenClaims()
	if !ok || claims.Name == "" {
		return
	}
	lifetime := claims.ExpiresAt.Sub(claims.IssuedAt)
	refreshAt := claims.ExpiresAt.Add(-time.Duration(float64(lifetime) * m.opts.TokenRefreshFraction))
	if time.Now().Before(refreshAt) {
		return
	}
	if err := m.refreshToken(claims, lifetime); err != nil && m.ctx.Err() == nil {
		logf.FromContext(m.ctx).Error(err, "Refreshing member token", "expires", claims.ExpiresAt)
	}
}

func (m *Member) refreshToken(claims tokenClaims, lifetime time.Duration) error {
	ctx, cancel := context.WithTimeout(m.ctx, m.opts.CallTimeout)
	defer cancel()
	seconds := int64(lifetime.Seconds())
	tr, err := m.clientset.CoreV1().ServiceAccounts(claims.Namespace).CreateToken(ctx, claims.Name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &seconds}}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("token request for %s/%s: %w", claims.Namespace, claims.Name, err)
	}
	var secret corev1.Secret
	key := types.NamespacedName{Namespace: m.hubNamespace, Name: m.secretRef.Name}
	if err := m.hub.Get(ctx, key, &secret); err != nil {
		return fmt.Errorf("get secret %s: %w", key, err)
	}
	dataKey := m.secretRef.Key
	if dataKey == "" {
		dataKey = "kubeconfig"
	}
	updated, err := replaceToken(secret.Data[dataKey], tr.Status.Token)
	if err != nil {
		return err
	}
	secret.Data[dataKey] = updated
	if secret.Annotations == nil {
		secret.Annotations = map[string]string{}
	}
	secret.Annotations[AnnotationTokenExpiration] = tr.Status.ExpirationTimestamp.UTC().Format(time.RFC3339)
	if err := m.hub.Update(ctx, &secret); err != nil {
		return fmt.Errorf("update secret %s: %w", key, err)
	}
	logf.FromContext(m.ctx).Info("Refreshed member token", "expires", tr.Status.ExpirationTimestamp.Time)
	return nil
}
