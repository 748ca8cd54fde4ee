package plugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fleetv1 "github.com/fleetscale/fleetscale/api/v1alpha1"
)

const (
	// DefaultTokenTTL is the lifetime asked for the member token.
	DefaultTokenTTL = 168 * time.Hour
	// MinTokenTTL is the shortest lifetime the apiserver grants a TokenRequest.
	MinTokenTTL = 10 * time.Minute
)

// SetupOptions are the inputs of SetupMember.
type SetupOptions struct {
	// Name is the member's name (a DNS-1123 label).
	Name string
	// Namespace is the hub namespace of the registration and the member namespace of the
	// fleetscale ServiceAccount (default DefaultNamespace).
	Namespace string
	// Hub and Member are admin-level client configurations for the two clusters.
	Hub    *rest.Config
	Member *rest.Config
	// MemberAPIURL is the member's API server URL as the hub reaches it; empty means the
	// server of the Member configuration.
	MemberAPIURL string
	// TargetNamespaces, when set, limit the access to these member namespaces (Roles instead
	// of a ClusterRole). They must exist.
	TargetNamespaces []string
	// ScaleAPIGroups, when set, limit the */scale grant to these API groups (CoreAPIGroup for
	// the core group); empty grants the scale subresource of any kind, CRDs included.
	ScaleAPIGroups []string
	// AllowInsecure accepts a member API URL that is plain http, or a member kubeconfig that
	// skips TLS verification; without it both are refused, since the token would be exposed.
	AllowInsecure bool
	// TokenTTL is the token lifetime to ask for (default DefaultTokenTTL, at least MinTokenTTL).
	TokenTTL time.Duration
	// Yes replaces a registration that points at another API URL without asking.
	Yes bool
	// In is where the answer to a confirmation is read; nil means nobody can answer (not a
	// terminal), so a question that -y does not answer is an error.
	In io.Reader
	// Out receives one line per change and a summary (nil: discarded).
	Out io.Writer
	// Now returns the current time (nil: time.Now); tests move it.
	Now func() time.Time
}

// SetupResult says what SetupMember did.
type SetupResult struct {
	Name       string
	Namespace  string
	APIURL     string
	SecretName string
	// ServiceAccount is "namespace/name" in the member.
	ServiceAccount string
	// Changes lists what was created, configured or deleted, one line each, as printed.
	Changes []string
	// Registered is true when the member had no MemberCluster before.
	Registered bool
	// Replaced is true when a registration with another API URL was replaced.
	Replaced bool
	// TokenIssued is true when a new token was requested (false: the stored one was kept).
	TokenIssued bool
	// TokenExpiration is when the stored token expires.
	TokenExpiration time.Time
}

// UpToDate reports whether the run changed nothing.
func (r *SetupResult) UpToDate() bool { return len(r.Changes) == 0 }

// SetupMember registers a member cluster with the hub. In the member it creates the
// namespace, the fleetscale ServiceAccount, its RBAC and a bound token; in the hub, the
// namespace, the kubeconfig Secret and the MemberCluster. It is idempotent: objects already
// as wanted are left alone, and the stored token is kept while the server and CA are
// unchanged, the ServiceAccount is the same one, and more than half the token's lifetime
// remains.
func SetupMember(ctx context.Context, o SetupOptions) (*SetupResult, error) {
	if err := o.complete(); err != nil {
		return nil, err
	}
	access, err := accessFromConfig(o.Member, o.MemberAPIURL, o.AllowInsecure)
	if err != nil {
		return nil, err
	}
	hub, member := clusterOf("hub", o.Hub), clusterOf("member", o.Member)
	hc, err := NewHubClient(o.Hub)
	if err != nil {
		return nil, err
	}
	mc, err := kubernetes.NewForConfig(o.Member)
	if err != nil {
		return nil, fmt.Errorf("member client for %s: %w", o.Member.Host, err)
	}
	s := &setup{o: o, access: access, hub: hub, member: member, hc: hc, mc: mc, rec: &recorder{out: o.Out}}
	return s.run(ctx)
}

func (o *SetupOptions) complete() error {
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.TokenTTL == 0 {
		o.TokenTTL = DefaultTokenTTL
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Hub == nil || o.Member == nil {
		return errors.New("both the hub and the member client configuration are required")
	}
	if err := ValidateMemberName(o.Name); err != nil {
		return err
	}
	if err := validateNamespaceName("--namespace", o.Namespace); err != nil {
		return err
	}
	if o.TokenTTL < MinTokenTTL {
		return fmt.Errorf("--token-ttl %s is too short: the API server issues tokens for at least %s", o.TokenTTL, MinTokenTTL)
	}
	var targets []string
	for _, ns := range o.TargetNamespaces {
		if err := validateNamespaceName("--target-namespaces", ns); err != nil {
			return err
		}
		if !slices.Contains(targets, ns) {
			targets = append(targets, ns)
		}
	}
	// Sorted, so the same set given in another order is the same registration.
	slices.Sort(targets)
	o.TargetNamespaces = targets
	groups, err := normalizeScaleAPIGroups(o.ScaleAPIGroups)
	if err != nil {
		return err
	}
	o.ScaleAPIGroups = groups
	return nil
}

type setup struct {
	o           SetupOptions
	access      memberAccess
	hub, member cluster
	hc          client.Client
	mc          kubernetes.Interface
	rec         *recorder
	reg         Registration
	existing    *fleetv1.MemberCluster // nil: not registered yet
	// previousSA is spec.serviceAccount of the existing registration, as read.
	previousSA   string
	stored       *storedKubeconfig // nil: no readable stored kubeconfig
	sa           *corev1.ServiceAccount
	saCreated    bool
	token        string
	tokenExpires time.Time
	tokenIssued  bool
}

func (s *setup) run(ctx context.Context) (*SetupResult, error) {
	o := s.o
	replaced, err := s.readRegistration(ctx)
	if err != nil {
		return nil, err
	}
	hubID, err := hubIdentity(ctx, s.hub, s.hc)
	if err != nil {
		return nil, err
	}
	s.reg = RegistrationFor(hubID, o.Namespace, o.Name)
	if err := s.setupMemberSide(ctx); err != nil {
		return nil, err
	}
	if err := s.ensureToken(ctx); err != nil {
		return nil, err
	}
	if err := s.setupHubSide(ctx); err != nil {
		return nil, err
	}
	res := &SetupResult{
		Name:            o.Name,
		Namespace:       o.Namespace,
		APIURL:          s.access.Server,
		SecretName:      SecretName(o.Name),
		ServiceAccount:  s.reg.String(),
		Changes:         s.rec.changes,
		Registered:      s.existing == nil,
		Replaced:        replaced,
		TokenIssued:     s.tokenIssued,
		TokenExpiration: s.tokenExpires,
	}
	switch {
	case res.UpToDate():
		fmt.Fprintf(o.Out, "Member %s is already registered and up to date (API URL %s, token expires %s).\n",
			o.Name, res.APIURL, res.TokenExpiration.Format(time.RFC3339))
	case res.Registered:
		fmt.Fprintf(o.Out, "Member %s registered in namespace %s (API URL %s, token expires %s).\n",
			o.Name, o.Namespace, res.APIURL, res.TokenExpiration.Format(time.RFC3339))
	case replaced:
		fmt.Fprintf(o.Out, "Member %s replaced: API URL is now %s (token expires %s).\n",
			o.Name, res.APIURL, res.TokenExpiration.Format(time.RFC3339))
	default:
		fmt.Fprintf(o.Out, "Member %s updated (API URL %s, token expires %s).\n",
			o.Name, res.APIURL, res.TokenExpiration.Format(time.RFC3339))
	}
	if s.previousSA != "" && s.previousSA != res.ServiceAccount {
		fmt.Fprintf(o.Out, "The registration used ServiceAccount %s before; it was left in the member, since other registrations "+
			"may share it (an older setup-member gave them all the same one): delete it there when no hub uses it.\n", s.previousSA)
	}
	return res, nil
}

// hubIdentity is the UID of the hub's kube-system namespace: it lives as long as the hub
// cluster and differs between clusters, so it tells one hub's registrations from another's
// in the member-side names (Registration).
func hubIdentity(ctx context.Context, h cluster, c client.Client) (string, error) {
	ns := &corev1.Namespace{}
	if err := c.Get(ctx, client.ObjectKey{Name: metav1.NamespaceSystem}, ns); err != nil {
		return "", h.wrap("get namespace "+metav1.NamespaceSystem+" (its UID identifies the hub in the member-side names)", err)
	}
	return string(ns.UID), nil
}

// readRegistration reads the MemberCluster and Secret the hub already has for the member and
// asks before replacing a registration that points at another API URL.
func (s *setup) readRegistration(ctx context.Context) (replaced bool, err error) {
	o := s.o
	mcObj := &fleetv1.MemberCluster{}
	err = s.hc.Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: o.Name}, mcObj)
	switch {
	case err == nil:
		s.existing, s.previousSA = mcObj, mcObj.Spec.ServiceAccount
	case isMissingAPI(err):
		return false, missingCRDError(s.hub)
	case !apierrors.IsNotFound(err):
		return false, s.hub.wrap("get membercluster "+o.Namespace+"/"+o.Name, err)
	}
	if s.existing != nil && s.existing.Spec.APIURL != s.access.Server {
		if !o.Yes {
			if o.In == nil {
				return false, fmt.Errorf("member %s is already registered with API URL %s; rerun with -y to replace it with %s",
					o.Name, s.existing.Spec.APIURL, s.access.Server)
			}
			q := fmt.Sprintf("Member %s is registered with API URL %s. Replace it with %s?", o.Name, s.existing.Spec.APIURL, s.access.Server)
			if !confirm(o.In, o.Out, q) {
				return false, fmt.Errorf("%w: member %s still points at %s", ErrAborted, o.Name, s.existing.Spec.APIURL)
			}
		}
		replaced = true
	}

	secret := &corev1.Secret{}
	err = s.hc.Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: SecretName(o.Name)}, secret)
	switch {
	case apierrors.IsNotFound(err):
		return replaced, nil
	case err != nil:
		return false, s.hub.wrap("get secret "+o.Namespace+"/"+SecretName(o.Name), err)
	}
	if stored, err := parseStoredKubeconfig(secret.Data[SecretKey]); err == nil {
		s.stored = &stored
	}
	return replaced, nil
}

// isMissingAPI tells a 404 for the whole resource (the CRD is not installed) from a 404 for
// one object. The apiserver answers an unknown path with a plain-text 404, which client-go
// turns into "the server could not find the requested resource"; a missing object gets a
// Status naming it ("... \"x\" not found").
func isMissingAPI(err error) bool {
	var se apierrors.APIStatus
	if !apierrors.IsNotFound(err) || !errors.As(err, &se) {
		return false
	}
	st := se.Status()
	return st.Details == nil || st.Details.Name == "" ||
		strings.HasPrefix(st.Message, "the server could not find the requested resource")
}

func missingCRDError(hub cluster) error {
	return fmt.Errorf("the hub cluster at %s does not serve memberclusters.%s: install fleetscale's CRDs (config/crd/bases) first",
		hub.host, fleetv1.GroupVersion.Group)
}

func (s *setup) setupMemberSide(ctx context.Context) error {
	o, m := s.o, s.member
	for _, ns := range o.TargetNamespaces {
		if _, err := s.mc.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("target namespace %q does not exist in the member cluster at %s: create it first or drop it from --target-namespaces", ns, m.host)
			}
			return m.wrap("get namespace "+ns, err)
		}
	}
	if err := ensureNamespace(ctx, m, s.mc, o.Namespace, s.rec); err != nil {
		return err
	}

	reg := s.reg
	nsAPI := s.mc.CoreV1().ServiceAccounts(o.Namespace)
	want := memberLabels(reg, o.Name)
	sa, action, err := ensure(ctx, m, object("serviceaccount", o.Namespace, reg.ServiceAccount),
		func(ctx context.Context) (*corev1.ServiceAccount, error) {
			return nsAPI.Get(ctx, reg.ServiceAccount, metav1.GetOptions{})
		},
		func(ctx context.Context) (*corev1.ServiceAccount, error) {
			return nsAPI.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: reg.ServiceAccount, Namespace: o.Namespace, Labels: want}}, metav1.CreateOptions{})
		},
		func(sa *corev1.ServiceAccount) bool { return mergeLabels(&sa.Labels, want) },
		func(ctx context.Context, sa *corev1.ServiceAccount) (*corev1.ServiceAccount, error) {
			return nsAPI.Update(ctx, sa, metav1.UpdateOptions{})
		})
	if err != nil {
		return err
	}
	s.sa, s.saCreated = sa, action == actionCreated
	s.note("member", object("serviceaccount", o.Namespace, reg.ServiceAccount), action)

	if err := s.ensureMemberRBAC(ctx); err != nil {
		return err
	}
	// Renewing the token needs create on serviceaccounts/token for this ServiceAccount only.
	if err := s.ensureRole(ctx, o.Namespace, reg.TokenRole, TokenRules(reg.ServiceAccount)); err != nil {
		return err
	}
	return nil
}

func (s *setup) note(side, what, action string) {
	if action != "" {
		s.rec.add("%s: %s %s", side, what, action)
	}
}

// ensureNamespace creates ns when missing, labelled as fleetscale's so delete-member knows it
// may remove it; an existing namespace is left as it is.
func ensureNamespace(ctx context.Context, c cluster, cs kubernetes.Interface, ns string, rec *recorder) error {
	_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return c.wrap("get namespace "+ns, err)
	}
	obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{LabelManagedBy: ManagedByValue}}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, obj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return c.wrap("create namespace "+ns, err)
	}
	rec.add("%s: %s %s", c.role, object("namespace", "", ns), actionCreated)
	return nil
}

func (s *setup) setupHubSide(ctx context.Context) error {
	o, h := s.o, s.hub
	if err := ensureHubNamespace(ctx, h, s.hc, o.Namespace, s.rec); err != nil {
		return err
	}
	if err := s.ensureSecret(ctx); err != nil {
		return err
	}
	return s.ensureMemberCluster(ctx)
}

func ensureHubNamespace(ctx context.Context, h cluster, c client.Client, ns string, rec *recorder) error {
	err := c.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{})
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return h.wrap("get namespace "+ns, err)
	}
	obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{LabelManagedBy: ManagedByValue}}}
	if err := c.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
		return h.wrap("create namespace "+ns, err)
	}
	rec.add("hub: %s %s", object("namespace", "", ns), actionCreated)
	return nil
}

func (s *setup) ensureSecret(ctx context.Context) error {
	o, h := s.o, s.hub
	name := SecretName(o.Name)
	what := object("secret", o.Namespace, name)
	lbl := map[string]string{LabelManagedBy: ManagedByValue, LabelMember: o.Name}
	expiry := s.tokenExpires.Format(time.RFC3339)
	kubeconfig, err := buildMemberKubeconfig(o.Name, o.Namespace, s.access, s.token)
	if err != nil {
		return fmt.Errorf("build the member kubeconfig: %w", err)
	}
	desired := func() *corev1.Secret {
		return &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: o.Namespace, Labels: lbl,
				Annotations: map[string]string{AnnotationTokenExpiration: expiry}},
			Type: corev1.SecretTypeOpaque,
			Data: map[string][]byte{SecretKey: kubeconfig},
		}
	}
	cur := &corev1.Secret{}
	err = s.hc.Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: name}, cur)
	switch {
	case apierrors.IsNotFound(err):
		if err := s.hc.Create(ctx, desired()); err != nil {
			return h.wrap("create "+what, err)
		}
		s.note("hub", what, actionCreated)
		return nil
	case err != nil:
		return h.wrap("get "+what, err)
	case cur.Type != corev1.SecretTypeOpaque:
		// The type is immutable.
		if err := s.hc.Delete(ctx, cur); err != nil && !apierrors.IsNotFound(err) {
			return h.wrap("delete "+what, err)
		}
		if err := s.hc.Create(ctx, desired()); err != nil {
			return h.wrap("create "+what, err)
		}
		s.note("hub", what, actionConfigured)
		return nil
	}
	changed := mergeLabels(&cur.Labels, lbl)
	if cur.Annotations[AnnotationTokenExpiration] != expiry {
		if cur.Annotations == nil {
			cur.Annotations = map[string]string{}
		}
		cur.Annotations[AnnotationTokenExpiration] = expiry
		changed = true
	}
	// Compare what the kubeconfig says, not its bytes: whoever renews the token may format it
	// differently.
	if st, err := parseStoredKubeconfig(cur.Data[SecretKey]); err != nil || st.Token != s.token || !sameAccess(st.Access, s.access) {
		if cur.Data == nil {
			cur.Data = map[string][]byte{}
		}
		cur.Data[SecretKey] = kubeconfig
		changed = true
	}
	if !changed {
		return nil
	}
	if err := s.hc.Update(ctx, cur); err != nil {
		return h.wrap("update "+what, err)
	}
	s.note("hub", what, actionConfigured)
	return nil
}

func sameAccess(a, b memberAccess) bool {
	return a.Server == b.Server && bytes.Equal(a.CAData, b.CAData) && a.Insecure == b.Insecure && a.TLSServerName == b.TLSServerName
}

func (s *setup) ensureMemberCluster(ctx context.Context) error {
	o, h := s.o, s.hub
	what := object("membercluster", o.Namespace, o.Name)
	spec := fleetv1.MemberClusterSpec{
		APIURL:              s.access.Server,
		KubeconfigSecretRef: fleetv1.SecretKeyRef{Name: SecretName(o.Name), Key: SecretKey},
		ServiceAccount:      s.reg.String(),
		TargetNamespaces:    o.TargetNamespaces,
	}
	lbl := map[string]string{LabelManagedBy: ManagedByValue}
	if s.existing == nil {
		obj := &fleetv1.MemberCluster{ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, Labels: lbl}, Spec: spec}
		if err := s.hc.Create(ctx, obj); err != nil {
			if isMissingAPI(err) {
				return missingCRDError(h)
			}
			return h.wrap("create "+what, err)
		}
		s.note("hub", what, actionCreated)
		return nil
	}
	cur := s.existing
	changed := mergeLabels(&cur.Labels, lbl)
	if len(cur.Spec.TargetNamespaces) == 0 {
		cur.Spec.TargetNamespaces = nil
	}
	if !equality.Semantic.DeepEqual(cur.Spec, spec) {
		cur.Spec, changed = spec, true
	}
	if !changed {
		return nil
	}
	if err := s.hc.Update(ctx, cur); err != nil {
		return h.wrap("update "+what, err)
	}
	s.note("hub", what, actionConfigured)
	return nil
}
