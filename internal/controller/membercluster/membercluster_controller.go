// Package membercluster reconciles MemberCluster registrations into the member registry.
package membercluster

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/member"
)

// secretRefIndex indexes MemberClusters by the Secret they read.
const secretRefIndex = "spec.kubeconfigSecretRef.name"

// Event reasons.
const (
	// EventInvalidCredentials: the kubeconfig Secret was refused (the message names the field).
	EventInvalidCredentials = v1alpha1.MemberReasonInvalid
	// EventInsecureTransport: the registration works but the hub does not verify the member's
	// certificate, or talks plain http.
	EventInsecureTransport = "InsecureTransport"
)

// Reconciler keeps the registry in step with MemberCluster objects and their Secrets.
// Health status is written by the registry's probes, not here.
type Reconciler struct {
	client.Client
	Registry *member.Registry
	// Recorder emits Events on the MemberCluster (nil: none).
	Recorder events.EventRecorder
	// Namespace is where registrations live; objects elsewhere are ignored.
	Namespace string
	// ReadOnly registers members but writes no status (a shard that does not manage the
	// registrations, docs/sharding.md): the managing shard reports a refused registration.
	ReadOnly bool
}

// +kubebuilder:rbac:groups=keda.kedify.io,resources=memberclusters,verbs=get;list;watch
// +kubebuilder:rbac:groups=keda.kedify.io,resources=memberclusters/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// (list/watch: the metadata-only Secret watch; get: the direct read of a kubeconfig.)
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile registers, re-registers or unregisters one member.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var mc v1alpha1.MemberCluster
	if err := r.Get(ctx, req.NamespacedName, &mc); err != nil {
		if client.IgnoreNotFound(err) == nil {
			r.Registry.Unregister(req.Name)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("get MemberCluster: %w", err)
	}
	if !mc.DeletionTimestamp.IsZero() {
		r.Registry.Unregister(mc.Name)
		return ctrl.Result{}, nil
	}
	kubeconfig, problem, err := r.readKubeconfig(ctx, &mc)
	if err != nil {
		return ctrl.Result{}, err
	}
	if problem == "" {
		// Checked before Register so that nothing of a refused kubeconfig is ever used.
		warnings, err := member.CheckRegistration(mc.Spec.APIURL, kubeconfig)
		if err != nil {
			problem = fmt.Sprintf("Secret %s/%s: %v", mc.Namespace, mc.Spec.KubeconfigSecretRef.Name, err)
		}
		for _, w := range warnings {
			r.event(&mc, corev1.EventTypeWarning, EventInsecureTransport, w)
		}
	}
	if problem == "" {
		if err := r.Registry.Register(&mc, kubeconfig); err != nil {
			problem = err.Error()
		}
	}
	if problem != "" {
		// A registration that cannot work is a status, not a retry loop: the Secret watch
		// brings us back when it is fixed.
		r.Registry.Unregister(mc.Name)
		if readyMessage(&mc) != problem && !r.ReadOnly {
			r.event(&mc, corev1.EventTypeWarning, EventInvalidCredentials, problem)
		}
		if r.ReadOnly {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, r.setInvalid(ctx, &mc, problem)
	}
	return ctrl.Result{}, nil
}

func (r *Reconciler) event(mc *v1alpha1.MemberCluster, eventType, reason, note string) {
	if r.Recorder != nil {
		r.Recorder.Eventf(mc, nil, eventType, reason, "Register", "%s", note)
	}
}

func readyMessage(mc *v1alpha1.MemberCluster) string {
	for _, c := range mc.Status.Conditions {
		if c.Type == v1alpha1.ConditionReady {
			return c.Message
		}
	}
	return ""
}

func (r *Reconciler) readKubeconfig(ctx context.Context, mc *v1alpha1.MemberCluster) ([]byte, string, error) {
	key := mc.Spec.KubeconfigSecretRef.Key
	if key == "" {
		key = "kubeconfig"
	}
	var secret corev1.Secret
	err := r.Get(ctx, types.NamespacedName{Namespace: mc.Namespace, Name: mc.Spec.KubeconfigSecretRef.Name}, &secret)
	if client.IgnoreNotFound(err) != nil {
		return nil, "", fmt.Errorf("get Secret %s/%s: %w", mc.Namespace, mc.Spec.KubeconfigSecretRef.Name, err)
	}
	if err != nil {
		return nil, fmt.Sprintf("Secret %s/%s not found", mc.Namespace, mc.Spec.KubeconfigSecretRef.Name), nil
	}
	data, ok := secret.Data[key]
	if !ok || len(data) == 0 {
		return nil, fmt.Sprintf("Secret %s/%s has no key %q", mc.Namespace, secret.Name, key), nil
	}
	return data, "", nil
}

func (r *Reconciler) setInvalid(ctx context.Context, mc *v1alpha1.MemberCluster, message string) error {
	st := v1alpha1.MemberClusterStatus{
		ObservedGeneration: mc.Generation,
		State:              v1alpha1.MemberStateNotReady,
		Conditions:         mc.Status.Conditions,
	}
	setReady(&st.Conditions, metav1.ConditionFalse, v1alpha1.MemberReasonInvalid, message, mc.Generation)
	patch, err := json.Marshal(map[string]any{"status": st})
	if err != nil {
		return fmt.Errorf("status patch: %w", err)
	}
	if err := r.Status().Patch(ctx, mc, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("patch MemberCluster status: %w", err)
	}
	return nil
}

func setReady(conds *[]metav1.Condition, status metav1.ConditionStatus, reason, message string, gen int64) {
	for i := range *conds {
		c := &(*conds)[i]
		if c.Type != v1alpha1.ConditionReady {
			continue
		}
		if c.Status != status {
			c.LastTransitionTime = metav1.Now()
		}
		c.Status, c.Reason, c.Message, c.ObservedGeneration = status, reason, message, gen
		return
	}
	*conds = append(*conds, metav1.Condition{Type: v1alpha1.ConditionReady, Status: status, Reason: reason,
		Message: message, ObservedGeneration: gen, LastTransitionTime: metav1.Now()})
}

// SetupWithManager watches MemberClusters and the Secrets they name, in r.Namespace.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.MemberCluster{}, secretRefIndex,
		func(o client.Object) []string {
			return []string{o.(*v1alpha1.MemberCluster).Spec.KubeconfigSecretRef.Name}
		}); err != nil {
		return fmt.Errorf("index MemberCluster secrets: %w", err)
	}
	inNamespace := predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetNamespace() == r.Namespace })
	return ctrl.NewControllerManagedBy(mgr).
		Named("membercluster").
		For(&v1alpha1.MemberCluster{}, builder.WithPredicates(inNamespace, predicate.GenerationChangedPredicate{})).
		// Metadata only: the kubeconfig is read directly (manager.Run keeps Secrets out of
		// the cache), so no Secret's data is ever cached.
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.membersForSecret), builder.WithPredicates(inNamespace), builder.OnlyMetadata).
		Complete(r)
}

func (r *Reconciler) membersForSecret(ctx context.Context, o client.Object) []reconcile.Request {
	var list v1alpha1.MemberClusterList
	if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{secretRefIndex: o.GetName()}); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, mc := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&mc)})
	}
	return reqs
}
