// Package distributedscaledobject reconciles DistributedScaledObjects: triggers → total (KEDA
// and HPA rules, internal/autoscaling) → shares per member with failover
// (internal/distribution) → each member target's /scale.
package distributedscaledobject

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/member"
	"github.com/fleetscale/fleetscale/internal/metrics"
	"github.com/fleetscale/fleetscale/internal/scalers"
	"github.com/fleetscale/fleetscale/internal/tenancy"
)

// Finalizer restores member workloads on deletion when advanced.restoreToOriginalReplicaCount asks.
const Finalizer = "keda.kedify.io/restore-replicas"

// Reconciler reconciles DistributedScaledObjects.
type Reconciler struct {
	client.Client
	Registry *member.Registry
	Recorder events.EventRecorder
	// Metrics records totals, shares and trigger values (nil: none).
	Metrics *metrics.Recorder
	// Scalers are the options every trigger shares (external scaler adapter, connections).
	Scalers scalers.Options
	// Tenancy reads the hub admin's TenantPolicies; nil applies the defaults (a DSO acts only
	// on its own namespace in every member).
	Tenancy *tenancy.Checker
	// Namespace holds the MemberCluster registrations.
	Namespace string
	// SyncPeriod spaces re-evaluations while a rate limit holds the total back, and
	// rebalancing steps (the HPA's sync period, 15s).
	SyncPeriod time.Duration
	// FirstReadTimeout bounds how long a new DSO waits for a member whose target cannot be
	// read yet (not probed, not connected, read timing out); then that member counts as
	// unhealthy with its reason (0: DefaultFirstReadTimeout).
	FirstReadTimeout time.Duration
	// Now returns the time; nil means time.Now.
	Now func() time.Time

	// triggers caches one scaler per trigger and reads them off the worker.
	triggers  *scalers.Cache
	cacheOnce sync.Once
}

// +kubebuilder:rbac:groups=keda.kedify.io,resources=distributedscaledobjects,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=keda.kedify.io,resources=distributedscaledobjects/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=keda.kedify.io,resources=distributedscaledobjects/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=configmaps;secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=keda.sh,resources=triggerauthentications;clustertriggerauthentications,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile evaluates one DSO: read members, compute the total, split it, apply it, report.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (_ reconcile.Result, retErr error) {
	var dso v1alpha1.DistributedScaledObject
	if err := r.Get(ctx, req.NamespacedName, &dso); err != nil {
		if apierrors.IsNotFound(err) {
			r.Metrics.ForgetDSO(req.Namespace, req.Name)
			r.triggerCache().Forget(req.NamespacedName)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !dso.DeletionTimestamp.IsZero() {
		r.triggerCache().Forget(req.NamespacedName)
		return reconcile.Result{}, r.finalize(ctx, &dso)
	}
	if err := r.syncFinalizer(ctx, &dso); err != nil {
		return reconcile.Result{}, err
	}

	s := newScope(&dso, r.now())
	defer func() {
		retErr = errors.Join(retErr, r.patchStatus(ctx, s))
	}()

	if admitted, err := r.admit(ctx, s); !admitted || err != nil {
		return reconcile.Result{}, err
	}
	if problem := specProblem(&dso); problem != "" {
		// Nothing can be read or written for a target that cannot be named: report it and
		// leave members and the rest of status as they are until the spec changes.
		s.setInvalidSpec(problem)
		r.emitInvalidSpec(s)
		return reconcile.Result{}, nil
	}
	r.observeMembers(ctx, s)
	if len(s.waitingFor) > 0 {
		// A total computed while a member's replicas are unknown would count them as 0 and
		// could scale the others down: a new DSO must start from what runs.
		s.setWaiting()
		return reconcile.Result{RequeueAfter: time.Second}, nil
	}
	r.evaluateTotal(ctx, s)
	r.distribute(s)
	if err := r.persistShares(ctx, s); err != nil {
		return reconcile.Result{}, err
	}
	applyErr := r.apply(ctx, s)
	mirrorErr := r.mirrorTotal(ctx, s)
	s.summarize()
	r.emitEvents(s)
	r.recordMetrics(s)
	return reconcile.Result{RequeueAfter: s.requeueAfter(r.syncPeriod())}, errors.Join(applyErr, mirrorErr)
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Reconciler) syncPeriod() time.Duration {
	if r.SyncPeriod > 0 {
		return r.SyncPeriod
	}
	return 15 * time.Second
}

// patchStatus writes the status the scope computed as a merge patch against the status as
// read, so members that left the map are removed (null) and nothing else is touched.
func (r *Reconciler) patchStatus(ctx context.Context, s *scope) error {
	s.dso.Status.ObservedGeneration = s.dso.Generation
	if err := r.Status().Patch(ctx, s.dso, client.MergeFrom(s.orig)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("patch status: %w", err)
	}
	return nil
}

// mirrorTotal writes the total into spec.totalTargetReplicas (the DSO's /scale), as an HPA
// writes a Deployment's replicas. A manual `kubectl scale dso` is overridden here.
func (r *Reconciler) mirrorTotal(ctx context.Context, s *scope) error {
	if !s.totalDecided {
		return nil
	}
	cur := s.dso.Spec.TotalTargetReplicas
	if cur != nil && *cur == s.total {
		return nil
	}
	patch := []byte(fmt.Sprintf(`{"spec":{"totalTargetReplicas":%d}}`, s.total))
	if err := r.Patch(ctx, s.dso.DeepCopy(), client.RawPatch(types.MergePatchType, patch)); err != nil {
		return client.IgnoreNotFound(fmt.Errorf("write spec.totalTargetReplicas: %w", err))
	}
	return nil
}

// syncFinalizer adds the restore finalizer when restoring is asked for, and drops it otherwise.
func (r *Reconciler) syncFinalizer(ctx context.Context, dso *v1alpha1.DistributedScaledObject) error {
	want := restoreRequested(dso)
	if want == controllerutil.ContainsFinalizer(dso, Finalizer) {
		return nil
	}
	orig := dso.DeepCopy()
	if want {
		controllerutil.AddFinalizer(dso, Finalizer)
	} else {
		controllerutil.RemoveFinalizer(dso, Finalizer)
	}
	if err := r.Patch(ctx, dso, client.MergeFrom(orig)); err != nil {
		return fmt.Errorf("update finalizers: %w", err)
	}
	return nil
}

func restoreRequested(dso *v1alpha1.DistributedScaledObject) bool {
	adv := dso.Spec.ScaledObjectSpec.Advanced
	return adv != nil && adv.RestoreToOriginalReplicaCount
}

// finalize restores each member's workload to the replicas it had before the DSO, when asked.
// Members that cannot be reached are retried; one that is no longer registered is skipped, and
// so is one whose target namespace the TenantPolicies no longer allow (with a Warning Event:
// the DSO may not write there).
func (r *Reconciler) finalize(ctx context.Context, dso *v1alpha1.DistributedScaledObject) error {
	if !controllerutil.ContainsFinalizer(dso, Finalizer) {
		return nil
	}
	rules, err := r.Tenancy.Rules(ctx, dso.Namespace)
	if err != nil {
		return err
	}
	gvk := targetGVK(dso)
	var errs []error
	for name, ms := range dso.Status.MemberClusterStatuses {
		if ms.OriginalReplicas == nil {
			continue
		}
		m, ok := r.Registry.Get(name)
		if !ok {
			continue
		}
		ns := memberTargetNamespace(dso, name)
		if refused := rules.TargetNamespace(ns); refused != nil {
			if r.Recorder != nil {
				r.Recorder.Eventf(dso, nil, corev1.EventTypeWarning, EventRestoreSkipped, "Restore",
					"Not restoring %s %s/%s in member %s to %d replicas: %v", gvk.Kind, ns, dso.Spec.ScaledObjectSpec.ScaleTargetRef.Name, name, *ms.OriginalReplicas, refused)
			}
			continue
		}
		if err := m.SetReplicas(ctx, gvk, ns, dso.Spec.ScaledObjectSpec.ScaleTargetRef.Name, *ms.OriginalReplicas); err != nil && !apierrors.IsNotFound(errors.Unwrap(err)) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("restore original replicas: %w", errors.Join(errs...))
	}
	orig := dso.DeepCopy()
	controllerutil.RemoveFinalizer(dso, Finalizer)
	if err := r.Patch(ctx, dso, client.MergeFrom(orig)); err != nil {
		return client.IgnoreNotFound(fmt.Errorf("remove finalizer: %w", err))
	}
	return nil
}
