package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fleetv1 "github.com/fleetscale/fleetscale/api/v1alpha1"
)

// DeleteOptions are the inputs of DeleteMember.
type DeleteOptions struct {
	Name      string
	Namespace string // hub namespace (default DefaultNamespace)
	Hub       *rest.Config
	// Member, when set, is an admin configuration for the member: what setup-member created
	// there is removed too. Without it only the hub registration goes; the member's
	// ServiceAccount stays, and with it the token until it expires.
	Member *rest.Config
	// Yes skips the confirmation.
	Yes bool
	// In is where the confirmation is read; nil (not a terminal) means no question is asked,
	// as kubectl delete asks none.
	In io.Reader
	// Out receives one line per change and a summary (nil: discarded).
	Out io.Writer
}

// DeleteResult says what DeleteMember did.
type DeleteResult struct {
	// Changes lists what was deleted, one line each, as printed.
	Changes []string
	// NamespaceLeft, when not empty, says why the member namespace was not deleted.
	NamespaceLeft string
}

// DeleteMember removes a member's registration from the hub (MemberCluster and Secret) and,
// given the member's configuration, the ServiceAccount and RBAC that setup-member created in
// the member, and the member namespace when setup-member created it and nothing else is in it.
// Member-side objects go first, so a failure there leaves the registration in place for a
// retry.
func DeleteMember(ctx context.Context, o DeleteOptions) (*DeleteResult, error) {
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Hub == nil {
		return nil, errors.New("the hub client configuration is required")
	}
	if err := ValidateMemberName(o.Name); err != nil {
		return nil, err
	}
	if err := validateNamespaceName("--namespace", o.Namespace); err != nil {
		return nil, err
	}
	hub := clusterOf("hub", o.Hub)
	hc, err := NewHubClient(o.Hub)
	if err != nil {
		return nil, err
	}

	mcKey := client.ObjectKey{Namespace: o.Namespace, Name: o.Name}
	secretKey := client.ObjectKey{Namespace: o.Namespace, Name: SecretName(o.Name)}
	var mcObj *fleetv1.MemberCluster
	obj := &fleetv1.MemberCluster{}
	switch err := hc.Get(ctx, mcKey, obj); {
	case err == nil:
		mcObj = obj
	case isMissingAPI(err):
		return nil, missingCRDError(hub)
	case !apierrors.IsNotFound(err):
		return nil, hub.wrap("get membercluster "+mcKey.String(), err)
	}
	var secret *corev1.Secret
	sobj := &corev1.Secret{}
	switch err := hc.Get(ctx, secretKey, sobj); {
	case err == nil:
		secret = sobj
	case !apierrors.IsNotFound(err):
		return nil, hub.wrap("get secret "+secretKey.String(), err)
	}
	if mcObj == nil && secret == nil {
		return nil, fmt.Errorf("member %s is not registered in namespace %s of the hub cluster at %s (see kubectl fleetscale mc list-members -n %s)",
			o.Name, o.Namespace, hub.host, o.Namespace)
	}

	if !o.Yes && o.In != nil {
		q := fmt.Sprintf("Delete member %s (MemberCluster and Secret in hub namespace %s", o.Name, o.Namespace)
		if o.Member != nil {
			q += fmt.Sprintf("; ServiceAccount and RBAC in the member cluster at %s", strings.TrimSuffix(o.Member.Host, "/"))
		}
		if !confirm(o.In, o.Out, q+")?") {
			return nil, fmt.Errorf("%w: member %s not deleted", ErrAborted, o.Name)
		}
	}

	// The ServiceAccount is the one recorded at setup; its namespace is the hub namespace
	// unless the MemberCluster was written by hand.
	hubID, err := hubIdentity(ctx, hub, hc)
	if err != nil {
		return nil, err
	}
	reg := RegistrationFor(hubID, o.Namespace, o.Name)
	if mcObj != nil {
		if ns, name, ok := strings.Cut(mcObj.Spec.ServiceAccount, "/"); ok && ns != "" && name != "" {
			reg.Namespace, reg.ServiceAccount = ns, name
		}
	}
	rec := &recorder{out: o.Out}
	res := &DeleteResult{}
	if o.Member != nil {
		var stored *storedKubeconfig
		if secret != nil {
			if st, err := parseStoredKubeconfig(secret.Data[SecretKey]); err == nil {
				stored = &st
			}
		}
		left, err := deleteMemberSide(ctx, o.Member, o.Name, reg, stored, rec)
		if err != nil {
			return nil, err
		}
		res.NamespaceLeft = left
	}

	if mcObj != nil {
		if err := hc.Delete(ctx, mcObj); err != nil && !apierrors.IsNotFound(err) {
			return nil, hub.wrap("delete membercluster "+mcKey.String(), err)
		}
		rec.add("hub: %s %s", object("membercluster", o.Namespace, o.Name), actionDeleted)
	}
	if secret != nil {
		if err := hc.Delete(ctx, secret); err != nil && !apierrors.IsNotFound(err) {
			return nil, hub.wrap("delete secret "+secretKey.String(), err)
		}
		rec.add("hub: %s %s", object("secret", o.Namespace, secretKey.Name), actionDeleted)
	}
	res.Changes = rec.changes
	if o.Member == nil {
		note := "its token stays valid until it expires"
		if secret != nil && secret.Annotations[AnnotationTokenExpiration] != "" {
			note = "its token stays valid until " + secret.Annotations[AnnotationTokenExpiration]
		}
		fmt.Fprintf(o.Out, "The member keeps ServiceAccount %s (%s): pass --member-kubeconfig to remove it.\n", reg, note)
	}
	if res.NamespaceLeft != "" {
		fmt.Fprintf(o.Out, "Left namespace %s in the member: %s.\n", reg.Namespace, res.NamespaceLeft)
	}
	fmt.Fprintf(o.Out, "Member %s deleted.\n", o.Name)
	return res, nil
}

// deleteMemberSide removes the registration's ServiceAccount and RBAC from the member, then
// its namespace when fleetscale created it and it holds nothing else (another registration's
// ServiceAccount included). It returns why the namespace was left, if it was. Only objects
// labelled with this registration are deleted, so another hub's or another name's
// registration of the same member keeps working.
func deleteMemberSide(ctx context.Context, cfg *rest.Config, name string, reg Registration, stored *storedKubeconfig, rec *recorder) (string, error) {
	m := clusterOf("member", cfg)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", fmt.Errorf("member client for %s: %w", cfg.Host, err)
	}
	saNS, saName := reg.Namespace, reg.ServiceAccount
	sa, err := cs.CoreV1().ServiceAccounts(saNS).Get(ctx, saName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		sa = nil
	case err != nil:
		return "", m.wrap("get serviceaccount "+saNS+"/"+saName, err)
	}
	if sa != nil && sa.Labels[LabelRegistration] != reg.ID {
		return "", fmt.Errorf("the member cluster at %s has a ServiceAccount %s/%s without label %s=%s of member %s's registration "+
			"(made by an older setup-member, which shared it between registrations, or not by this hub); refusing to delete it: "+
			"run setup-member again to give the registration its own ServiceAccount, or delete-member without --member-kubeconfig",
			m.host, saNS, saName, LabelRegistration, reg.ID, name)
	}
	// The member kubeconfig could point at the wrong cluster: touch nothing unless its
	// ServiceAccount is the one the stored token was issued for.
	if sa != nil && stored != nil {
		if claims, err := decodeTokenClaims(stored.Token); err == nil && types.UID(claims.K8s.ServiceAccount.UID) != sa.UID {
			return "", fmt.Errorf("the member cluster at %s has a ServiceAccount %s/%s that is not the one member %s was registered with; "+
				"refusing to delete it (is --member-kubeconfig the right cluster? without it only the hub registration is deleted)",
				m.host, saNS, saName, name)
		}
	}

	gone, err := removeClusterGrant(ctx, m, cs, reg)
	if err != nil {
		return "", err
	}
	for _, n := range []string{reg.ServiceAccount, reg.TokenRole} {
		g, err := removeRoleGrants(ctx, m, cs, reg, n, nil)
		if err != nil {
			return "", err
		}
		gone = append(gone, g...)
	}
	for _, what := range gone {
		rec.add("member: %s %s", what, actionDeleted)
	}
	if sa != nil {
		if err := cs.CoreV1().ServiceAccounts(saNS).Delete(ctx, saName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return "", m.wrap("delete serviceaccount "+saNS+"/"+saName, err)
		}
		rec.add("member: %s %s", object("serviceaccount", saNS, saName), actionDeleted)
	}

	ns, err := cs.CoreV1().Namespaces().Get(ctx, saNS, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return "", nil
	case err != nil:
		return "", m.wrap("get namespace "+saNS, err)
	case ns.Labels[LabelManagedBy] != ManagedByValue:
		return "fleetscale did not create it", nil
	case ns.DeletionTimestamp != nil:
		return "", nil
	}
	other, err := firstOtherObject(ctx, cfg, cs.Discovery(), saNS, ignoredInNamespace(reg))
	if err != nil {
		return "", m.wrap("list the objects in namespace "+saNS, err)
	}
	if other != "" {
		return "it still holds other objects (" + other + ")", nil
	}
	if err := cs.CoreV1().Namespaces().Delete(ctx, saNS, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return "", m.wrap("delete namespace "+saNS, err)
	}
	rec.add("member: %s %s", object("namespace", "", saNS), actionDeleted)
	return "", nil
}

// ignoredInNamespace lists the objects that every namespace gets or that say nothing about its
// use, and reg's own (being deleted). Another registration's ServiceAccount is not ignored: it
// keeps the namespace.
func ignoredInNamespace(reg Registration) map[schema.GroupResource]func(name string) bool {
	own := func(n string) bool { return n == reg.ServiceAccount || n == reg.TokenRole }
	return map[schema.GroupResource]func(name string) bool{
		{Resource: "events"}:                                           func(string) bool { return true },
		{Group: "events.k8s.io", Resource: "events"}:                   func(string) bool { return true },
		{Resource: "serviceaccounts"}:                                  func(n string) bool { return n == "default" || n == reg.ServiceAccount },
		{Resource: "configmaps"}:                                       func(n string) bool { return n == "kube-root-ca.crt" },
		{Group: "rbac.authorization.k8s.io", Resource: "roles"}:        own,
		{Group: "rbac.authorization.k8s.io", Resource: "rolebindings"}: own,
	}
}

// firstOtherObject returns "resource/name" of some object in ns that neither the cluster nor
// fleetscale put there, or "" when there is none.
func firstOtherObject(ctx context.Context, cfg *rest.Config, disco discovery.DiscoveryInterface, ns string,
	ignored map[schema.GroupResource]func(name string) bool) (string, error) {
	lists, err := disco.ServerPreferredNamespacedResources()
	if err != nil && len(lists) == 0 {
		return "", err
	}
	// A group that failed discovery (an aggregated API that is down) is skipped.
	quiet := rest.CopyConfig(cfg)
	quiet.WarningHandler = rest.NoWarnings{} // "v1 Endpoints is deprecated" and the like
	mdc, err := metadata.NewForConfig(quiet)
	if err != nil {
		return "", err
	}
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !hasVerb(r.Verbs, "list") {
				continue
			}
			gr := schema.GroupResource{Group: gv.Group, Resource: r.Name}
			ignore := ignored[gr]
			items, err := mdc.Resource(gv.WithResource(r.Name)).Namespace(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
					continue
				}
				return "", err
			}
			for _, it := range items.Items {
				if ignore != nil && ignore(it.Name) {
					continue
				}
				return gr.String() + "/" + it.Name, nil
			}
		}
	}
	return "", nil
}

func hasVerb(verbs metav1.Verbs, v string) bool {
	for _, x := range verbs {
		if x == v {
			return true
		}
	}
	return false
}
