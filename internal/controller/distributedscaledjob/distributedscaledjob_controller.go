// Package distributedscaledjob reconciles DistributedScaledJobs: triggers → how many Jobs
// (KEDA's ScaledJob rules over the Jobs of every member, internal/autoscaling) → where they go
// (smooth weighted round-robin over healthy, untainted members) with failover of stuck Jobs,
// history limits and rollout (internal/jobs) → Jobs created and deleted in the members.
package distributedscaledjob

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/jobs"
	"github.com/fleetscale/fleetscale/internal/member"
	"github.com/fleetscale/fleetscale/internal/metrics"
	"github.com/fleetscale/fleetscale/internal/quiet"
	"github.com/fleetscale/fleetscale/internal/scalers"
	"github.com/fleetscale/fleetscale/internal/tenancy"
)

// Finalizer makes deletion wait until the DSJ's Jobs are deleted from the members.
const Finalizer = "keda.kedify.io/delete-jobs"

// Reconciler reconciles DistributedScaledJobs.
type Reconciler struct {
	client.Client
	Registry *member.Registry
	Recorder events.EventRecorder
	// Metrics records Job counts and trigger values (nil: none).
	Metrics *metrics.Recorder
	// Scalers are the options every trigger shares (external scaler adapter, connections).
	Scalers scalers.Options
	// Tenancy reads the hub admin's TenantPolicies; nil applies the defaults (Jobs only in the
	// DSJ's own namespace of every member, pod templates held to Pod Security baseline).
	Tenancy *tenancy.Checker
	// Namespace holds the MemberCluster registrations.
	Namespace string
	// Now returns the time; nil means time.Now.
	Now func() time.Time
	// MaxConcurrentReconciles is the number of workers (0: controller-runtime's 1).
	MaxConcurrentReconciles int
	// Jobs caches the DSJs' Jobs and pods in the members (label jobs.LabelDSJUID);
	// SetupWithManager makes one when nil.
	Jobs *member.JobWatcher
	// MaxJobsPerEvaluation caps the Jobs (failover copies included) one evaluation of one DSJ
	// creates; the rest follow in the next evaluations, a second apart (0:
	// DefaultMaxJobsPerEvaluation).
	MaxJobsPerEvaluation int

	expect *expectations
	// triggers caches one scaler per trigger and reads them off the worker.
	triggers  *scalers.Cache
	cacheOnce sync.Once
	// memory holds the status computed but not written (only bookkeeping moved).
	memory quiet.Memory[v1alpha1.DistributedScaledJobStatus]
}

// +kubebuilder:rbac:groups=keda.kedify.io,resources=distributedscaledjobs,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=keda.kedify.io,resources=distributedscaledjobs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=keda.kedify.io,resources=distributedscaledjobs/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=configmaps;secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=keda.sh,resources=triggerauthentications;clustertriggerauthentications,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile evaluates one DSJ: read the members' Jobs, decide, create and delete, report.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (_ reconcile.Result, retErr error) {
	var dsj v1alpha1.DistributedScaledJob
	if err := r.Get(ctx, req.NamespacedName, &dsj); err != nil {
		if apierrors.IsNotFound(err) {
			r.Metrics.ForgetDSJ(req.Namespace, req.Name)
			r.triggerCache().Forget(req.NamespacedName)
			r.memory.Forget(req.NamespacedName)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !dsj.DeletionTimestamp.IsZero() {
		r.triggerCache().Forget(req.NamespacedName)
		r.memory.Forget(req.NamespacedName)
		return reconcile.Result{}, r.finalize(ctx, &dsj)
	}
	if err := r.addFinalizer(ctx, &dsj); err != nil {
		return reconcile.Result{}, err
	}

	s := newScope(&dsj, r.now())
	if prev, ok := r.memory.Recall(req.NamespacedName, &s.orig.Status); ok {
		s.prev, s.dsj.Status = *prev.DeepCopy(), *prev.DeepCopy()
	}
	defer func() {
		retErr = errors.Join(retErr, r.patchStatus(ctx, s))
	}()

	if admitted, err := r.admit(ctx, s); !admitted || err != nil {
		return reconcile.Result{}, err
	}
	if err := r.observeMembers(ctx, s); err != nil {
		return reconcile.Result{}, err
	}
	if len(s.waitingFor) > 0 {
		// Counting a member whose Jobs are not listed yet as empty would create them again.
		s.setWaiting()
		return reconcile.Result{RequeueAfter: time.Second}, nil
	}
	r.evaluate(ctx, s)
	// A member whose Job operations fail is reported in its status line and by a
	// JobOperationFailed Event and retried soon (requeueAfter); returning the error would make
	// controller-runtime drop the RequeueAfter and back off, slowing the healthy members too.
	r.apply(ctx, s)
	s.summarize()
	mirrorErr := r.mirrorDesired(ctx, s)
	r.emitEvents(s)
	st := &s.dsj.Status
	r.Metrics.ObserveDSJ(dsj.Namespace, dsj.Name, st.RunningJobs, st.PendingJobs, st.DesiredJobs)
	for name, t := range st.TriggerMetricsStatus {
		if t.Value == scalers.SensitiveValue && t.Error == "" {
			continue // a value read from a Secret is never exported
		}
		value, _ := strconv.ParseFloat(t.Value, 64)
		r.Metrics.Trigger("dsj", dsj.Namespace, dsj.Name, name, value, t.Error != "")
	}
	if mirrorErr != nil {
		return reconcile.Result{}, mirrorErr
	}
	return reconcile.Result{RequeueAfter: s.requeueAfter()}, nil
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// setDefaults fills in what SetupWithManager needs and tests may leave out.
func (r *Reconciler) setDefaults() {
	if r.Jobs == nil {
		r.Jobs = member.NewJobWatcher(jobs.LabelDSJUID)
	}
	if r.expect == nil {
		r.expect = newExpectations()
	}
}

// patchStatus writes the status the scope computed as a merge patch against the status as
// read (members that left the map are removed), and nothing when it did not change.
func (r *Reconciler) patchStatus(ctx context.Context, s *scope) error {
	s.dsj.Status.ObservedGeneration = s.dsj.Generation
	key := client.ObjectKeyFromObject(s.dsj)
	if quiet.SameJSON(bookkeeping(s.dsj.Status), bookkeeping(s.orig.Status)) {
		// Only bookkeeping moved: remember it for the next evaluation, write nothing.
		r.memory.Remember(key, &s.orig.Status, *s.dsj.Status.DeepCopy())
		return nil
	}
	if err := r.Status().Patch(ctx, s.dsj, client.MergeFrom(s.orig)); err != nil {
		r.memory.Forget(key)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("patch status: %w", err)
	}
	r.memory.Remember(key, &s.dsj.Status, *s.dsj.Status.DeepCopy())
	return nil
}

// bookkeeping returns st without the fields that move on evaluations that decide nothing new:
// lastActiveTime (refreshed while a trigger stays active) and the members'
// lastScalingProgressTime (refreshed while no Job is stuck). They are written with the next
// real change; neither decides anything.
func bookkeeping(st v1alpha1.DistributedScaledJobStatus) v1alpha1.DistributedScaledJobStatus {
	st = *st.DeepCopy()
	st.LastActiveTime = nil
	for name, ms := range st.MemberClusterStatuses {
		ms.LastScalingProgressTime = nil
		st.MemberClusterStatuses[name] = ms
	}
	return st
}

// mirrorDesired writes status.desiredJobs into spec.desiredJobs (the DSJ's /scale), as the DSO
// mirrors its total. It bumps metadata.generation, which is why a rollout is defined by the
// template hash. Nothing is written while the triggers cannot be evaluated.
func (r *Reconciler) mirrorDesired(ctx context.Context, s *scope) error {
	if !s.decided || s.frozen() {
		return nil
	}
	want := s.dsj.Status.DesiredJobs
	if cur := s.dsj.Spec.DesiredJobs; cur != nil && *cur == want {
		return nil
	}
	patch := []byte(fmt.Sprintf(`{"spec":{"desiredJobs":%d}}`, want))
	if err := r.Patch(ctx, s.dsj.DeepCopy(), client.RawPatch(types.MergePatchType, patch)); err != nil {
		return client.IgnoreNotFound(fmt.Errorf("write spec.desiredJobs: %w", err))
	}
	return nil
}

func (r *Reconciler) addFinalizer(ctx context.Context, dsj *v1alpha1.DistributedScaledJob) error {
	if controllerutil.ContainsFinalizer(dsj, Finalizer) {
		return nil
	}
	orig := dsj.DeepCopy()
	controllerutil.AddFinalizer(dsj, Finalizer)
	if err := r.Patch(ctx, dsj, client.MergeFrom(orig)); err != nil {
		return fmt.Errorf("add finalizer: %w", err)
	}
	return nil
}
