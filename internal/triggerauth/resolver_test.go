package triggerauth_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/clusterenv"
	"github.com/fleetscale/fleetscale/internal/triggerauth"
)

// A real hub (etcd + kube-apiserver) with KEDA's CRDs, shared by the package's tests.
var shared = clusterenv.NewShared(clusterenv.Options{CRDDir: crdDir()})

func crdDir() string {
	root, _ := clusterenv.RepoRoot()
	return filepath.Join(root, "config", "crd", "bases")
}

func TestMain(m *testing.M) { os.Exit(shared.Main(m)) }

const clusterNS = "keda"

func hub(t *testing.T) (client.Client, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts etcd and kube-apiserver")
	}
	env := shared.Env(t)
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = kedav1alpha1.AddToScheme(s)
	c, err := client.New(env.Hub.Config, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "ta-"}}
	create(t, c, ns)
	_ = c.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: clusterNS}})
	return c, ns.Name
}

func create(t *testing.T, c client.Client, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := c.Create(t.Context(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

func secret(ns, name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

// TriggerAuthentication and ClusterTriggerAuthentication read from a real API server, KEDA's
// parameter names and order, and every broken reference an error naming object and key.
func TestResolveAgainstAPIServer(t *testing.T) {
	c, ns := hub(t)
	r := &triggerauth.Resolver{Reader: c, ClusterNamespace: clusterNS}
	create(t, c,
		secret(ns, "redis", map[string]string{"password": "hunter2-pw", "user": "app"}),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "redis-cfg"}, Data: map[string]string{"host": "redis.shop:6379"}},
		&kedav1alpha1.TriggerAuthentication{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "redis-auth"}, Spec: kedav1alpha1.TriggerAuthenticationSpec{
			SecretTargetRef:    []kedav1alpha1.AuthSecretTargetRef{{Parameter: "password", Name: "redis", Key: "password"}, {Parameter: "username", Name: "redis", Key: "user"}},
			ConfigMapTargetRef: []kedav1alpha1.AuthConfigMapTargetRef{{Parameter: "address", Name: "redis-cfg", Key: "host"}, {Parameter: "username", Name: "redis-cfg", Key: "host"}},
			PodIdentity:        &kedav1alpha1.AuthPodIdentity{Provider: kedav1alpha1.PodIdentityProviderNone},
		}},
		secret(clusterNS, "shared-token", map[string]string{"token": "cluster-tok-1"}),
		&kedav1alpha1.ClusterTriggerAuthentication{ObjectMeta: metav1.ObjectMeta{Name: ns + "-shared"}, Spec: kedav1alpha1.TriggerAuthenticationSpec{
			SecretTargetRef: []kedav1alpha1.AuthSecretTargetRef{{Parameter: "bearerToken", Name: "shared-token", Key: "token"}},
		}},
		&kedav1alpha1.TriggerAuthentication{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "oauth"}, Spec: kedav1alpha1.TriggerAuthenticationSpec{
			OAuth2: &kedav1alpha1.OAuth2{Type: kedav1alpha1.OAuth2GrantTypeClientCredentials, ClientID: "cid", TokenURL: "https://idp/token",
				Scopes: []string{"a", "b"}, TokenURLParams: map[string]string{"audience": "x"},
				ClientSecret: kedav1alpha1.OAuth2ClientSecret{ValueFrom: kedav1alpha1.ValueFromSecret{SecretKeyRef: kedav1alpha1.SecretKeyRef{Name: "redis", Key: "password"}}}},
		}},
		&kedav1alpha1.TriggerAuthentication{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "vault"}, Spec: kedav1alpha1.TriggerAuthenticationSpec{
			HashiCorpVault: &kedav1alpha1.HashiCorpVault{Address: "https://vault", Authentication: kedav1alpha1.VaultAuthenticationToken,
				Secrets: []kedav1alpha1.VaultSecret{{Parameter: "password", Path: "secret/db", Key: "password"}}},
			BoundServiceAccountToken: []kedav1alpha1.BoundServiceAccountToken{{Parameter: "token", ServiceAccountName: "default"}},
		}},
		&kedav1alpha1.TriggerAuthentication{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "broken"}, Spec: kedav1alpha1.TriggerAuthenticationSpec{
			SecretTargetRef: []kedav1alpha1.AuthSecretTargetRef{{Parameter: "password", Name: "redis", Key: "passwd"}},
		}},
		&kedav1alpha1.TriggerAuthentication{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "dangling"}, Spec: kedav1alpha1.TriggerAuthenticationSpec{
			SecretTargetRef: []kedav1alpha1.AuthSecretTargetRef{{Parameter: "password", Name: "nope", Key: "password"}},
		}},
	)
	resolve := func(ref *v1alpha1.AuthenticationRef) (triggerauth.Result, error) {
		return r.Resolve(t.Context(), triggerauth.Request{Namespace: ns, Ref: ref})
	}

	t.Run("TriggerAuthentication", func(t *testing.T) {
		res, err := resolve(&v1alpha1.AuthenticationRef{Name: "redis-auth"})
		if err != nil {
			t.Fatal(err)
		}
		// secretTargetRef comes after configMapTargetRef, so it wins for username, as in KEDA.
		want := map[string]string{"password": "hunter2-pw", "username": "app", "address": "redis.shop:6379"}
		if !equal(res.Params, want) || res.PodIdentity != nil || res.Object != "TriggerAuthentication "+ns+"/redis-auth" {
			t.Errorf("result %+v", res)
		}
		if s := res.Sensitive(); len(s) != 3 || s[0] != "redis.shop:6379" {
			t.Errorf("sensitive %q", s)
		}
	})

	t.Run("ClusterTriggerAuthentication reads the cluster namespace, behind the policy", func(t *testing.T) {
		res, err := resolve(&v1alpha1.AuthenticationRef{Name: ns + "-shared", Kind: "ClusterTriggerAuthentication"})
		if err != nil || res.Params["bearerToken"] != "cluster-tok-1" {
			t.Fatalf("res %+v err %v", res, err)
		}
		denying := &triggerauth.Resolver{Reader: c, ClusterNamespace: clusterNS, AllowCluster: func(_ context.Context, namespace, name string) error {
			return errors.New("namespace " + namespace + " may not use " + name)
		}}
		_, err = denying.Resolve(t.Context(), triggerauth.Request{Namespace: ns, Ref: &v1alpha1.AuthenticationRef{Name: ns + "-shared", Kind: "ClusterTriggerAuthentication"}})
		if !triggerauth.IsSpec(err) || !strings.Contains(err.Error(), "not allowed for objects in namespace "+ns+" by the hub's policy") {
			t.Errorf("denied: %v", err)
		}
	})

	t.Run("oauth2", func(t *testing.T) {
		res, err := resolve(&v1alpha1.AuthenticationRef{Name: "oauth"})
		want := map[string]string{"oauthTokenURI": "https://idp/token", "clientID": "cid", "clientSecret": "hunter2-pw", "scopes": "a,b", "endpointParams": "audience=x"}
		if err != nil || !equal(res.Params, want) {
			t.Errorf("res %+v err %v", res.Params, err)
		}
	})

	for _, tt := range []struct {
		name string
		ref  v1alpha1.AuthenticationRef
		want string
		spec bool
	}{
		{"missing TriggerAuthentication", v1alpha1.AuthenticationRef{Name: "absent"}, "TriggerAuthentication " + ns + "/absent: not found", false},
		{"missing key", v1alpha1.AuthenticationRef{Name: "broken"}, "TriggerAuthentication " + ns + `/broken: secretTargetRef parameter password: Secret ` + ns + `/redis has no key "passwd"`, false},
		{"missing Secret", v1alpha1.AuthenticationRef{Name: "dangling"}, "TriggerAuthentication " + ns + "/dangling: secretTargetRef parameter password: Secret " + ns + "/nope not found", false},
		{"missing ClusterTriggerAuthentication", v1alpha1.AuthenticationRef{Name: "absent", Kind: "ClusterTriggerAuthentication"}, "ClusterTriggerAuthentication absent: not found", false},
		{"unsupported sources", v1alpha1.AuthenticationRef{Name: "vault"}, "spec.hashiCorpVault, spec.boundServiceAccountToken not supported in the hub", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := resolve(&tt.ref)
			if err == nil || err.Error() != tt.want && !strings.Contains(err.Error(), tt.want) || triggerauth.IsSpec(err) != tt.spec {
				t.Errorf("err = %v (spec %v), want %q (spec %v)", err, triggerauth.IsSpec(err), tt.want, tt.spec)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error holds a secret: %v", err)
			}
		})
	}
}

// Environment values: KEDA's rules on a DSJ's template in the hub (valueFrom and envFrom read
// there), and on the members' templates of a DSO (literal values only, all members agreeing).
func TestResolveEnv(t *testing.T) {
	c, ns := hub(t)
	r := &triggerauth.Resolver{Reader: c, ClusterNamespace: clusterNS}
	create(t, c,
		secret(ns, "db", map[string]string{"password": "pg-secret-9"}),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "common"}, Data: map[string]string{"HOST": "pg.shop"}},
		&kedav1alpha1.TriggerAuthentication{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "from-env"}, Spec: kedav1alpha1.TriggerAuthenticationSpec{
			Env: []kedav1alpha1.AuthEnvironment{{Parameter: "password", Name: "PG_PASSWORD", ContainerName: "worker"}},
		}},
	)
	hubTemplate := &corev1.PodSpec{Containers: []corev1.Container{
		{Name: "sidecar", Env: []corev1.EnvVar{{Name: "PG_PASSWORD", Value: "wrong-container"}}},
		{Name: "worker",
			EnvFrom: []corev1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "common"}}},
				{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Optional: ptr.To(true)}}},
			Env: []corev1.EnvVar{
				{Name: "PG_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}},
				{Name: "PG_URL", Value: "postgres://$(CFG_HOST):5432/$$db"},
			}},
	}}
	dsj := triggerauth.PodSpecs{{Where: "jobTargetRef", Spec: hubTemplate, Namespace: ns}}

	res, err := r.Resolve(t.Context(), triggerauth.Request{Namespace: ns, Ref: &v1alpha1.AuthenticationRef{Name: "from-env"},
		Metadata: map[string]string{"connectionFromEnv": "PG_URL", "hostFromEnv": "CFG_HOST"}, EnvSourceContainerName: "worker", Env: dsj})
	if err != nil {
		t.Fatal(err)
	}
	if res.Params["password"] != "pg-secret-9" || !equal(res.Env, map[string]string{"PG_URL": "postgres://pg.shop:5432/$db", "CFG_HOST": "pg.shop"}) {
		t.Errorf("params %v env %v", res.Params, res.Env)
	}

	member := func(name string, env ...corev1.EnvVar) triggerauth.PodSpec {
		return triggerauth.PodSpec{Where: "member " + name, Spec: &corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Env: env}}}}
	}
	lit := func(name, value string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: value} }
	fromSecret := corev1.EnvVar{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Key: "k"}}}
	for _, tt := range []struct {
		name    string
		members triggerauth.PodSpecs
		want    string
		err     string
	}{
		{"members agree", triggerauth.PodSpecs{member("m1", lit("QUEUE", "orders")), member("m2", lit("QUEUE", "orders"))}, "orders", ""},
		{"expansion", triggerauth.PodSpecs{member("m1", lit("BASE", "or"), lit("QUEUE", "$(BASE)ders"))}, "orders", ""},
		{"members differ", triggerauth.PodSpecs{member("m1", lit("QUEUE", "a")), member("m2", lit("QUEUE", "b"))}, "",
			"env QUEUE of container app differs between member m1 and member m2"},
		{"valueFrom in a member", triggerauth.PodSpecs{member("m1", fromSecret)}, "", "is set with valueFrom: only literal values are read from member clusters"},
		{"absent", triggerauth.PodSpecs{member("m1", lit("OTHER", "x"))}, "", "env QUEUE is not set in container app of member m1"},
		{"no member read", nil, "", "no pod template of the scale target could be read"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			key := "TOKEN"
			if tt.err == "" || !strings.Contains(tt.err, "valueFrom") {
				key = "QUEUE"
			}
			res, err := r.Resolve(t.Context(), triggerauth.Request{Namespace: ns, Metadata: map[string]string{"queueNameFromEnv": key}, Env: tt.members})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "metadata queueNameFromEnv") {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || res.Env[key] != tt.want {
				t.Fatalf("env %v err %v", res.Env, err)
			}
		})
	}
	if triggerauth.Needed(triggerauth.Request{Metadata: map[string]string{"queueName": "q"}}) {
		t.Error("a trigger without authenticationRef or …FromEnv needs resolving")
	}
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
