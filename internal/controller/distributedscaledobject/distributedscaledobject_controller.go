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
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/autoscaling"
	"github.com/fleetscale/fleetscale/internal/member"
	"github.com/fleetscale/fleetscale/internal/metrics"
	"github.com/fleetscale/fleetscale/internal/quiet"
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
	// MaxConcurrentReconciles is the number of workers (0: controller-runtime's 1).
	MaxConcurrentReconciles int

	// triggers caches one scaler per trigger and reads them off the worker.
	triggers  *scalers.Cache
	cacheOnce sync.Once
	// memory holds the status computed but not written (only bookkeeping moved).
	memory quiet.Memory[v1alpha1.DistributedScaledObjectStatus]
	// errorsSeen keeps a failing trigger's status text while its failure alternates wordings.
	errorsSeen errorsSeen
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
			r.memory.Forget(req.NamespacedName)
			r.errorsSeen.forget(req.NamespacedName)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !dso.DeletionTimestamp.IsZero() {
		r.triggerCache().Forget(req.NamespacedName)
		r.memory.Forget(req.NamespacedName)
		r.errorsSeen.forget(req.NamespacedName)
		return reconcile.Result{}, r.finalize(ctx, &dso)
	}
	if err := r.syncFinalizer(ctx, &dso); err != nil {
		return reconcile.Result{}, err
	}

	s := newScope(&dso, r.now())
	r.recall(s)
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
	if err := r.observeMembers(ctx, s); err != nil {
		return reconcile.Result{}, err
	}
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
	// A member whose write fails is reported in its status line and by a ScaleFailed Event,
	// and retried after the sync period (requeueAfter): returning the error would make
	// controller-runtime drop the RequeueAfter and back off exponentially, slowing the cadence
	// for the healthy members too.
	r.apply(ctx, s)
	mirrorErr := r.mirrorTotal(ctx, s)
	s.summarize()
	r.emitEvents(s)
	r.recordMetrics(s)
	if mirrorErr != nil {
		return reconcile.Result{}, mirrorErr
	}
	return reconcile.Result{RequeueAfter: s.requeueAfter(r.syncPeriod())}, nil
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
	return autoscaling.HPASyncPeriod
}

// patchStatus writes the status the scope computed as a merge patch against the status as
// read, so members that left the map are removed (null) and nothing else is touched.
//
// Nothing is written when only bookkeeping moved (bookkeeping): what was computed is kept in
// memory and is the next evaluation's previous status, so a settled DSO is never rewritten.
func (r *Reconciler) patchStatus(ctx context.Context, s *scope) error {
	s.dso.Status.ObservedGeneration = s.observedGeneration()
	key := client.ObjectKeyFromObject(s.dso)
	if quiet.SameJSON(bookkeeping(s.dso.Status), bookkeeping(s.orig.Status)) {
		r.memory.Remember(key, &s.orig.Status, *s.dso.Status.DeepCopy())
		return nil
	}
	if err := r.Status().Patch(ctx, s.dso, client.MergeFrom(s.orig)); err != nil {
		r.memory.Forget(key)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("patch status: %w", err)
	}
	r.memory.Remember(key, &s.dso.Status, *s.dso.Status.DeepCopy())
	return nil
}

// bookkeeping returns st without the fields that move on evaluations that decide nothing new:
// lastEvaluationTime, lastActiveTime (refreshed on every active evaluation; it only matters
// once the triggers go inactive, which changes the Active condition and so writes it), the HPA
// history (its timestamps move on every evaluation; a new scale event comes with a new total)
// and the members' lastScalingProgressTime (refreshed while ready replicas keep up). These are
// written with the next real change.
func bookkeeping(st v1alpha1.DistributedScaledObjectStatus) v1alpha1.DistributedScaledObjectStatus {
	st = *st.DeepCopy()
	st.LastEvaluationTime, st.LastActiveTime, st.ScalingHistory = nil, nil, nil
	for name, ms := range st.MemberClusterStatuses {
		ms.LastScalingProgressTime = nil
		st.MemberClusterStatuses[name] = ms
	}
	return st
}

// recall makes the status computed by the last evaluation that was not written the previous
// status, when the stored one is still what it was computed from. Without it (a new process,
// or someone else wrote status) the stored bookkeeping may be older than the truth, so it is
// read conservatively: a DSO stored as active counts as active at least until this process
// started (its cooldown cannot start earlier than KEDA's would), and no member's progress
// grace period starts before this process could observe it.
func (r *Reconciler) recall(s *scope) {
	key := client.ObjectKeyFromObject(s.dso)
	if prev, ok := r.memory.Recall(key, &s.orig.Status); ok {
		s.prev = *prev.DeepCopy()
		s.dso.Status = *prev.DeepCopy()
		return
	}
	started := metav1.NewTime(r.memory.Started())
	later := func(t *metav1.Time) *metav1.Time {
		if t == nil || !t.Before(&started) {
			return t
		}
		return started.DeepCopy()
	}
	if meta.IsStatusConditionTrue(s.prev.Conditions, v1alpha1.ConditionScaledObjectActive) {
		s.prev.LastActiveTime = later(s.prev.LastActiveTime)
	}
	for name, ms := range s.prev.MemberClusterStatuses {
		ms.LastScalingProgressTime = later(ms.LastScalingProgressTime)
		s.prev.MemberClusterStatuses[name] = ms
	}
	s.dso.Status = *s.prev.DeepCopy()
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
	written := s.dso.DeepCopy()
	if err := r.Patch(ctx, written, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return client.IgnoreNotFound(fmt.Errorf("write spec.totalTargetReplicas: %w", err))
	}
	// The watch does not evaluate this change again (evaluatedSpecChanged), so status
	// observes the generation it produced.
	s.mirroredGeneration = written.Generation
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
