package helm

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/fleetscale/fleetscale/internal/clusterenv"
)

func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// scrapeSecureMetrics: the controller runs with the chart's --metrics-secure as the chart's
// ServiceAccount. A scrape without a token or with a bad one is refused (401), one by a
// ServiceAccount without the chart's metrics-reader ClusterRole too (403), and one by a
// ServiceAccount bound to it gets the metrics.
func scrapeSecureMetrics(ctx context.Context, t *testing.T, env *clusterenv.Env, r *release, addr string) {
	cs := env.Hub.Clientset()
	const ns = "monitoring"
	createNamespace(ctx, t, env, ns)
	for _, sa := range []string{"prometheus", "stranger"} {
		if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	reader := r.find(t, "ClusterRole", "fleetscale-metrics-reader")
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "prometheus-reads-fleetscale"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: reader.GetName()},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "prometheus", Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The controller caches a denial for 30s: ask the apiserver first, then scrape.
	eventually(t, nil, "the metrics-reader binding in effect", func() (bool, string) {
		sar, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: "system:serviceaccount:" + ns + ":prometheus", NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: "get"},
		}}, metav1.CreateOptions{})
		if err != nil {
			return false, err.Error()
		}
		return sar.Status.Allowed, sar.Status.Reason
	})
	token := func(sa string) string {
		tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}
	// The certificate is the self-signed one the controller made (no certSecretName).
	httpc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}}
	scrape := func(bearer string) (int, string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/metrics", nil)
		if err != nil {
			return 0, "", err
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := httpc.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		return resp.StatusCode, string(body), err
	}
	eventually(t, nil, "an unauthenticated scrape refused", func() (bool, string) {
		code, _, err := scrape("")
		return err == nil && code == http.StatusUnauthorized, fmt.Sprint(code, err)
	})
	// A token the hub cannot even parse fails the TokenReview itself: controller-runtime
	// answers 500 then, never the metrics.
	if code, body, err := scrape("not-a-token"); err != nil || (code != http.StatusUnauthorized && code != http.StatusInternalServerError) ||
		strings.Contains(body, "fleetscale_") {
		t.Errorf("scrape with a bad token: %d %v, want 401 or 500 without metrics", code, err)
	}
	if code, _, err := scrape(token("stranger")); err != nil || code != http.StatusForbidden {
		t.Errorf("scrape by a ServiceAccount without metrics-reader: %d %v, want 403", code, err)
	}
	code, body, err := scrape(token("prometheus"))
	if err != nil || code != http.StatusOK || !strings.Contains(body, "fleetscale_member_probe_duration_seconds") {
		t.Errorf("scrape by the metrics-reader: %d %v, want 200 with fleetscale metrics; body starts %.200q", code, err, body)
	}
	plain, err := http.Get("http://" + addr + "/metrics")
	if err == nil {
		body, _ := io.ReadAll(io.LimitReader(plain.Body, 1<<20))
		_ = plain.Body.Close()
		if plain.StatusCode == http.StatusOK || strings.Contains(string(body), "fleetscale_") {
			t.Errorf("plain http /metrics served metrics with --metrics-secure: %d", plain.StatusCode)
		}
	}
}

const (
	foreignDSO = `
apiVersion: keda.kedify.io/v1alpha1
kind: DistributedScaledObject
metadata:
  name: escape
spec:
  memberClusters:
  - name: member-1
    targetNamespace: kube-system
  scaledObjectSpec:
    scaleTargetRef: {name: coredns}
    triggers:
    - type: kubernetes-resource
      metadata: {resourceKind: ConfigMap, resourceName: m, key: v, targetValue: "5"}
`
	ownDSO = `
apiVersion: keda.kedify.io/v1alpha1
kind: DistributedScaledObject
metadata:
  name: escape
spec:
  memberClusters:
  - name: member-1
  - name: member-2
    targetNamespace: team-a
  scaledObjectSpec:
    scaleTargetRef: {name: web}
    triggers:
    - type: kubernetes-resource
      metadata: {resourceKind: ConfigMap, resourceName: m, key: v, targetValue: "5"}
`
	privilegedDSJ = `
apiVersion: keda.kedify.io/v1alpha1
kind: DistributedScaledJob
metadata:
  name: takeover
spec:
  memberClusters:
  - name: member-1
    targetNamespace: kube-system
  scaledJobSpec:
    jobTargetRef:
      template:
        spec:
          hostPID: true
          restartPolicy: Never
          containers:
          - name: root
            image: busybox
            securityContext: {privileged: true}
    triggers:
    - type: kubernetes-resource
      metadata: {resourceKind: ConfigMap, resourceName: m, key: v, targetValue: "1"}
`
)

// checkAdmissionPolicy: with the chart installed, a tenant with the chart's tenant-edit
// ClusterRole in hub namespace team-a cannot create a DSO or a DSJ aimed at member
// kube-system (the ValidatingAdmissionPolicy rejects it at apply time, saying why), can
// create one acting on team-a, cannot then retarget it, and cannot write TenantPolicies.
// Once a hub admin labels team-a as governed by TenantPolicies, admission leaves it to the
// controller.
func checkAdmissionPolicy(ctx context.Context, t *testing.T, env *clusterenv.Env) {
	const ns, user = "team-a", "carol"
	cs := env.Hub.Clientset()
	createNamespace(ctx, t, env, ns)
	if _, err := cs.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "carol-edits-fleetscale"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "fleetscale-tenant-edit"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(env.Hub.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
	tenant := newHub(t, cfg)
	obj := func(manifest string) *unstructured.Unstructured {
		objs, err := decode([]byte(manifest))
		if err != nil || len(objs) != 1 {
			t.Fatalf("decode: %v", err)
		}
		return objs[0]
	}
	// The policy and binding take effect a moment after they are created; dry runs go
	// through admission and leave nothing behind.
	var rejected error
	eventually(t, nil, "the admission policy rejects a DSO aimed at kube-system", func() (bool, string) {
		rejected = tenant.apply(ctx, obj(foreignDSO), ns, true)
		return apierrors.IsForbidden(rejected) && strings.Contains(rejected.Error(), "ValidatingAdmissionPolicy"), fmt.Sprint(rejected)
	})
	t.Logf("rejected at apply: %v", rejected)
	for _, want := range []string{"ValidatingAdmissionPolicy 'fleetscale-tenant-boundary'",
		"spec.memberClusters[].targetNamespace kube-system is not team-a", "DistributedScaledObject acts only on its own namespace", "TenantPolicy"} {
		if !strings.Contains(rejected.Error(), want) {
			t.Errorf("rejection %q lacks %q", rejected, want)
		}
	}
	if err := tenant.apply(ctx, obj(privilegedDSJ), ns, false); err == nil || !strings.Contains(err.Error(), "DistributedScaledJob acts only on its own namespace") {
		t.Errorf("a DSJ with a privileged hostPID pod template in member kube-system: %v, want rejected", err)
	}
	if err := tenant.apply(ctx, obj(ownDSO), ns, false); err != nil {
		t.Fatalf("a DSO acting on its own namespace: %v", err)
	}
	retarget := []byte(`{"spec":{"memberClusters":[{"name":"member-1","targetNamespace":"kube-system"}]}}`)
	if _, err := tenant.dyn.Resource(dsos).Namespace(ns).Patch(ctx, "escape", types.MergePatchType, retarget, metav1.PatchOptions{}); err == nil ||
		!strings.Contains(err.Error(), "targetNamespace kube-system is not team-a") {
		t.Errorf("retargeting the DSO at kube-system: %v, want rejected", err)
	}
	// Updates that add no foreign namespace still go through (the controller's own writes).
	if _, err := tenant.dyn.Resource(dsos).Namespace(ns).Patch(ctx, "escape", types.MergePatchType, []byte(`{"metadata":{"labels":{"a":"b"}}}`), metav1.PatchOptions{}); err != nil {
		t.Errorf("a label on the DSO: %v", err)
	}
	tp := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "keda.kedify.io/v1alpha1", "kind": "TenantPolicy",
		"metadata": map[string]any{"name": "carol-escapes"}, "spec": map[string]any{"namespaces": []any{ns}, "targetNamespaces": []any{"*"}}}}
	if err := tenant.apply(ctx, tp, "", false); !apierrors.IsForbidden(err) {
		t.Errorf("the tenant writing a TenantPolicy: %v, want Forbidden", err)
	}

	// A hub admin widens team-a (a TenantPolicy, and the label): admission lets it through,
	// the controller decides.
	patch := []byte(`{"metadata":{"labels":{"keda.kedify.io/tenant-policy":"team-a"}}}`)
	if _, err := cs.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, nil, "a labelled namespace left to the controller", func() (bool, string) {
		err := tenant.apply(ctx, obj(foreignDSO), ns, true)
		return err == nil, fmt.Sprint(err)
	})
}
