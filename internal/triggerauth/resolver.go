package triggerauth

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

// Kinds an authenticationRef may name (KEDA's AuthenticationRef.Kind; empty means the first).
const (
	KindTriggerAuthentication        = "TriggerAuthentication"
	KindClusterTriggerAuthentication = "ClusterTriggerAuthentication"
)

// Parameter names KEDA's resolver sets from oauth2 and azureServicePrincipal (the names its
// scalers read: pkg/scalers/authentication and pkg/scalers/azure).
const (
	paramOAuthTokenURI  = "oauthTokenURI"
	paramClientID       = "clientID"
	paramClientSecret   = "clientSecret"
	paramScopes         = "scopes"
	paramEndpointParams = "endpointParams"

	paramAzureSP                  = "azureServicePrincipal"
	paramAzureSPTenantID          = "azureServicePrincipalTenantId"
	paramAzureSPClientID          = "azureServicePrincipalClientId"
	paramAzureSPCloud             = "azureServicePrincipalCloud"
	paramAzureSPADEndpoint        = "azureServicePrincipalActiveDirectoryEndpoint"
	paramAzureSPClientSecret      = "azureServicePrincipalClientSecret"
	paramAzureSPClientCert        = "azureServicePrincipalClientCertificate"
	paramAzureSPClientCertPasswod = "azureServicePrincipalClientCertificatePassword"
)

// fromEnvSuffix marks a metadata key whose value names an environment variable (KEDA's
// TypedConfig looks up <param>FromEnv in ResolvedEnv).
const fromEnvSuffix = "FromEnv"

// Resolver reads TriggerAuthentications, ClusterTriggerAuthentications and the Secrets and
// ConfigMaps they name from the hub.
type Resolver struct {
	// Reader reads hub objects; pass the manager's cache-backed client.
	Reader client.Reader
	// ClusterNamespace is where the Secrets and ConfigMaps of a ClusterTriggerAuthentication
	// are read (KEDA's KEDA_CLUSTER_OBJECT_NAMESPACE): the controller's namespace.
	ClusterNamespace string
	// AllowCluster, when set, decides whether objects in a hub namespace may use a
	// ClusterTriggerAuthentication (the hub admin's policy); nil allows every namespace.
	AllowCluster func(ctx context.Context, namespace, name string) error
}

// Request is one trigger to resolve.
type Request struct {
	// Namespace is the hub namespace of the DSO or DSJ.
	Namespace string
	Ref       *v1alpha1.AuthenticationRef
	// Metadata is the trigger's metadata: each `<param>FromEnv` key names a variable to resolve.
	Metadata map[string]string
	// EnvSourceContainerName picks the container `…FromEnv` keys read (default: the first),
	// as scaleTargetRef.envSourceContainerName / envSourceContainerName do in KEDA.
	EnvSourceContainerName string
	// Env gives the pod specs environment values are read from; nil means none.
	Env EnvSource
}

// EnvSource lists the pod specs of the workload a trigger scales. It is only asked when a
// trigger needs an environment value.
type EnvSource interface {
	PodSpecs(ctx context.Context) ([]PodSpec, error)
}

// PodSpec is one pod template environment values are read from.
type PodSpec struct {
	// Where names it in messages, e.g. `member k3d-member-1 (Deployment shop/worker)`.
	Where string
	Spec  *corev1.PodSpec
	// Namespace, when set, is the hub namespace valueFrom and envFrom references are read
	// from (a DSJ's jobTargetRef, as KEDA does); empty means only literal values count.
	Namespace string
}

// PodSpecs is an EnvSource of fixed pod specs.
type PodSpecs []PodSpec

// PodSpecs returns the list.
func (p PodSpecs) PodSpecs(context.Context) ([]PodSpec, error) { return p, nil }

// Result is what a trigger's scaler receives, as KEDA's ScalerConfig has it.
type Result struct {
	// Params are KEDA's AuthParams.
	Params map[string]string
	// Env holds the variables the trigger's `…FromEnv` keys name (KEDA's ResolvedEnv, limited
	// to what the trigger uses).
	Env map[string]string
	// PodIdentity is the TriggerAuthentication's podIdentity when its provider is not none.
	PodIdentity *kedav1alpha1.AuthPodIdentity
	// Object names the TriggerAuthentication used, empty when none.
	Object string
}

// Sensitive returns every resolved value, longest first, so error messages can be redacted.
func (r Result) Sensitive() []string {
	var out []string
	for _, m := range []map[string]string{r.Params, r.Env} {
		for _, v := range m {
			if v != "" {
				out = append(out, v)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return slices.Compact(out)
}

// Error is a reference that cannot be resolved. Its message names the object and the key
// and never holds a value.
type Error struct {
	// Object is e.g. `TriggerAuthentication shop/redis-auth`; empty for environment problems.
	Object  string
	Problem string
	// Spec is true when the spec (or the admin policy) must change: an unsupported source or
	// kind, a denied ClusterTriggerAuthentication. False for what may appear later (a missing
	// Secret or key).
	Spec bool
	err  error
}

func (e *Error) Error() string {
	if e.Object == "" {
		return e.Problem
	}
	return e.Object + ": " + e.Problem
}

func (e *Error) Unwrap() error { return e.err }

// IsSpec reports whether err is an *Error that only a spec or policy change fixes.
func IsSpec(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Spec
}

// Needed reports whether resolving req reads anything: an authenticationRef or a `…FromEnv`
// key. A caller can skip building an EnvSource otherwise.
func Needed(req Request) bool {
	return (req.Ref != nil && req.Ref.Name != "") || len(fromEnvKeys(req.Metadata)) > 0
}

// Resolve returns the AuthParams, ResolvedEnv and pod identity of one trigger, in KEDA's order:
// env, configMapTargetRef, secretTargetRef, oauth2, azureServicePrincipal (a later source
// overrides an earlier one for the same parameter).
func (r *Resolver) Resolve(ctx context.Context, req Request) (Result, error) {
	res := Result{Params: map[string]string{}, Env: map[string]string{}}
	env := &envResolver{source: req.Env, reader: r.Reader}
	for _, key := range fromEnvKeys(req.Metadata) {
		name := strings.TrimSpace(req.Metadata[key])
		v, err := env.lookup(ctx, req.EnvSourceContainerName, name)
		if err != nil {
			return res, withContext(err, "", fmt.Sprintf("metadata %s: ", key))
		}
		res.Env[name] = v
	}
	if req.Ref == nil || req.Ref.Name == "" {
		return res, nil
	}
	spec, objNamespace, object, err := r.authSpec(ctx, req)
	res.Object = object
	if err != nil {
		return res, err
	}
	if unsupported := unsupportedSources(spec); len(unsupported) > 0 {
		return res, &Error{Object: object, Spec: true, Problem: fmt.Sprintf("%s not supported in the hub: "+
			"fleetscale reads only Secrets and ConfigMaps of the hub (secretTargetRef, configMapTargetRef), env, podIdentity, "+
			"oauth2 and azureServicePrincipal; put the value in a Secret and use secretTargetRef", strings.Join(unsupported, ", "))}
	}
	if p := spec.PodIdentity; p != nil && p.Provider != "" && p.Provider != kedav1alpha1.PodIdentityProviderNone {
		res.PodIdentity = p.DeepCopy()
	}
	for _, e := range spec.Env {
		v, err := env.lookup(ctx, e.ContainerName, e.Name)
		if err != nil {
			return res, withContext(err, object, fmt.Sprintf("env parameter %s: ", e.Parameter))
		}
		res.Params[e.Parameter] = v
	}
	for _, ref := range spec.ConfigMapTargetRef {
		v, err := r.configMapKey(ctx, objNamespace, ref.Name, ref.Key)
		if err != nil {
			return res, withContext(err, object, fmt.Sprintf("configMapTargetRef parameter %s: ", ref.Parameter))
		}
		res.Params[ref.Parameter] = v
	}
	for _, ref := range spec.SecretTargetRef {
		v, err := r.secretKey(ctx, objNamespace, ref.Name, ref.Key)
		if err != nil {
			return res, withContext(err, object, fmt.Sprintf("secretTargetRef parameter %s: ", ref.Parameter))
		}
		res.Params[ref.Parameter] = v
	}
	if o := spec.OAuth2; o != nil {
		if err := r.oauth2(ctx, o, objNamespace, res.Params); err != nil {
			return res, withContext(err, object, "oauth2: ")
		}
	}
	if sp := spec.AzureServicePrincipal; sp != nil {
		if err := r.azureServicePrincipal(ctx, sp, objNamespace, res.Params); err != nil {
			return res, withContext(err, object, "azureServicePrincipal: ")
		}
	}
	return res, nil
}

// authSpec reads the referenced object; for a ClusterTriggerAuthentication it asks the policy
// first. It returns the namespace the object's Secrets and ConfigMaps are read from.
func (r *Resolver) authSpec(ctx context.Context, req Request) (*kedav1alpha1.TriggerAuthenticationSpec, string, string, error) {
	name := req.Ref.Name
	switch req.Ref.Kind {
	case "", KindTriggerAuthentication:
		object := KindTriggerAuthentication + " " + req.Namespace + "/" + name
		var ta kedav1alpha1.TriggerAuthentication
		if err := r.Reader.Get(ctx, client.ObjectKey{Namespace: req.Namespace, Name: name}, &ta); err != nil {
			return nil, "", object, readError(object, err)
		}
		return &ta.Spec, req.Namespace, object, nil
	case KindClusterTriggerAuthentication:
		object := KindClusterTriggerAuthentication + " " + name
		if r.AllowCluster != nil {
			if err := r.AllowCluster(ctx, req.Namespace, name); err != nil {
				return nil, "", object, &Error{Object: object, Spec: true, err: err,
					Problem: fmt.Sprintf("not allowed for objects in namespace %s by the hub's policy: %v", req.Namespace, err)}
			}
		}
		var cta kedav1alpha1.ClusterTriggerAuthentication
		if err := r.Reader.Get(ctx, client.ObjectKey{Name: name}, &cta); err != nil {
			return nil, "", object, readError(object, err)
		}
		return &cta.Spec, r.ClusterNamespace, object, nil
	default:
		return nil, "", "", &Error{Spec: true, Problem: fmt.Sprintf("authenticationRef.kind %q is not %s or %s",
			req.Ref.Kind, KindTriggerAuthentication, KindClusterTriggerAuthentication)}
	}
}

func readError(object string, err error) error {
	switch {
	case apierrors.IsNotFound(err):
		return &Error{Object: object, Problem: "not found", err: err}
	case meta.IsNoMatchError(err):
		return &Error{Object: object, Problem: "KEDA's CRDs (keda.sh/v1alpha1) are not installed in the hub; install them from the fleetscale chart", err: err}
	default:
		return &Error{Object: object, Problem: "cannot read it: " + err.Error(), err: err}
	}
}

// unsupportedSources names the fields that need a client this hub does not have.
func unsupportedSources(spec *kedav1alpha1.TriggerAuthenticationSpec) []string {
	var out []string
	add := func(set bool, field string) {
		if set {
			out = append(out, "spec."+field)
		}
	}
	add(spec.FilePath != "", "filePath")
	add(spec.HashiCorpVault != nil, "hashiCorpVault")
	add(spec.AzureKeyVault != nil, "azureKeyVault")
	add(spec.GCPSecretManager != nil, "gcpSecretManager")
	add(spec.AwsSecretManager != nil, "awsSecretManager")
	add(len(spec.BoundServiceAccountToken) > 0, "boundServiceAccountToken")
	return out
}

func (r *Resolver) secretKey(ctx context.Context, namespace, name, key string) (string, error) {
	object := "Secret " + namespace + "/" + name
	if name == "" || key == "" {
		return "", &Error{Spec: true, Problem: "name and key are required"}
	}
	var s corev1.Secret
	if err := r.Reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &s); err != nil {
		return "", readError(object, err)
	}
	v, ok := s.Data[key]
	if !ok {
		return "", &Error{Object: object, Problem: fmt.Sprintf("has no key %q", key)}
	}
	return string(v), nil
}

func (r *Resolver) configMapKey(ctx context.Context, namespace, name, key string) (string, error) {
	object := "ConfigMap " + namespace + "/" + name
	if name == "" || key == "" {
		return "", &Error{Spec: true, Problem: "name and key are required"}
	}
	var cm corev1.ConfigMap
	if err := r.Reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &cm); err != nil {
		return "", readError(object, err)
	}
	v, ok := cm.Data[key]
	if !ok {
		return "", &Error{Object: object, Problem: fmt.Sprintf("has no key %q", key)}
	}
	return v, nil
}

// oauth2 sets the client-credentials parameters KEDA's resolver sets from spec.oauth2.
func (r *Resolver) oauth2(ctx context.Context, o *kedav1alpha1.OAuth2, namespace string, params map[string]string) error {
	if o.Type != "" && o.Type != kedav1alpha1.OAuth2GrantTypeClientCredentials {
		return &Error{Spec: true, Problem: fmt.Sprintf("type %q is not %s", o.Type, kedav1alpha1.OAuth2GrantTypeClientCredentials)}
	}
	params[paramOAuthTokenURI] = o.TokenURL
	params[paramClientID] = o.ClientID
	params[paramClientSecret] = ""
	if ref := o.ClientSecret.ValueFrom.SecretKeyRef; ref.Name != "" {
		v, err := r.secretKey(ctx, namespace, ref.Name, ref.Key)
		if err != nil {
			return withContext(err, "", "clientSecret: ")
		}
		params[paramClientSecret] = v
	}
	if len(o.Scopes) > 0 {
		params[paramScopes] = strings.Join(o.Scopes, ",")
	}
	if len(o.TokenURLParams) > 0 {
		v := url.Values{}
		for k, p := range o.TokenURLParams {
			v.Add(k, p)
		}
		params[paramEndpointParams] = v.Encode()
	}
	return nil
}

// azureServicePrincipal sets the parameters KEDA's Azure scalers read (they run in the adapter).
func (r *Resolver) azureServicePrincipal(ctx context.Context, sp *kedav1alpha1.AzureServicePrincipal, namespace string, params map[string]string) error {
	params[paramAzureSP] = "true"
	params[paramAzureSPTenantID] = sp.TenantID
	params[paramAzureSPClientID] = sp.ClientID
	if sp.Cloud != "" {
		params[paramAzureSPCloud] = sp.Cloud
	}
	if sp.ActiveDirectoryEndpoint != "" {
		params[paramAzureSPADEndpoint] = sp.ActiveDirectoryEndpoint
	}
	for _, c := range []struct {
		field string
		cred  *kedav1alpha1.AzureServicePrincipalCredential
		param string
	}{
		{"clientSecret", sp.ClientSecret, paramAzureSPClientSecret},
		{"clientCertificate", sp.ClientCertificate, paramAzureSPClientCert},
		{"clientCertificatePassword", sp.ClientCertificatePassword, paramAzureSPClientCertPasswod},
	} {
		if c.cred == nil {
			continue
		}
		ref := c.cred.ValueFrom.SecretKeyRef
		v, err := r.secretKey(ctx, namespace, ref.Name, ref.Key)
		if err != nil {
			return withContext(err, "", c.field+": ")
		}
		params[c.param] = v
	}
	return nil
}

// withContext prefixes an *Error's problem (and sets its object when it has none yet, moving
// the inner object into the problem), so a message reads
// `TriggerAuthentication shop/auth: secretTargetRef parameter password: Secret shop/x not found`.
func withContext(err error, object, prefix string) error {
	var e *Error
	if !errors.As(err, &e) {
		return &Error{Object: object, Problem: prefix + err.Error(), err: err}
	}
	out := &Error{Object: object, Spec: e.Spec, err: e.err}
	inner := e.Problem
	if e.Object != "" {
		inner = e.Object + " " + e.Problem
	}
	out.Problem = prefix + inner
	return out
}

func fromEnvKeys(metadata map[string]string) []string {
	var keys []string
	for k, v := range metadata {
		if strings.HasSuffix(k, fromEnvSuffix) && strings.TrimSpace(v) != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}
