package distributedscaledjob

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/jobs"
	"github.com/fleetscale/fleetscale/internal/tenancy"
)

// finalize deletes the DSJ's Jobs from the members, then releases the finalizer. Every
// registered member is cleaned, read from its API server (not a cache, so a Job created a
// moment ago is not missed). A member that fails blocks the deletion (the error retries with
// backoff, status says which member) when it may hold the DSJ's Jobs: it is whitelisted (or
// the whitelist is empty) or listed in status. A member that is no longer registered cannot be
// reached at all and never blocks. Jobs in a namespace the TenantPolicies do not allow the
// DSJ are left alone (a Warning Event lists them) and do not block either.
func (r *Reconciler) finalize(ctx context.Context, dsj *v1alpha1.DistributedScaledJob) error {
	if !controllerutil.ContainsFinalizer(dsj, Finalizer) {
		return nil
	}
	rules, err := r.Tenancy.Rules(ctx, dsj.Namespace)
	if err != nil {
		return err
	}
	failures, left := r.deleteAllJobs(ctx, dsj, rules)
	if len(left) > 0 && r.Recorder != nil {
		sort.Strings(left)
		r.Recorder.Eventf(dsj, nil, corev1.EventTypeWarning, EventJobsLeft, "Delete",
			"Left %d Job(s) the DSJ may not delete (TenantPolicies do not allow their namespace): %s", len(left), strings.Join(left, ", "))
	}
	blocking := map[string]error{}
	for name, err := range failures {
		if mayHoldJobs(dsj, name) {
			blocking[name] = err
			continue
		}
		logf.FromContext(ctx).Info("Could not delete Jobs in a member the DSJ never used; not waiting for it", "member", name, "reason", err.Error())
	}
	if len(blocking) > 0 {
		return r.reportBlockedDeletion(ctx, dsj, blocking)
	}
	r.expect.forget(dsj.UID)
	orig := dsj.DeepCopy()
	controllerutil.RemoveFinalizer(dsj, Finalizer)
	if err := r.Patch(ctx, dsj, client.MergeFrom(orig)); err != nil {
		return client.IgnoreNotFound(fmt.Errorf("remove finalizer: %w", err))
	}
	return nil
}

// deleteAllJobs deletes the DSJ's Jobs in every registered member, in parallel, and returns
// the members where that failed and the Jobs (member:namespace/name) left because rules do
// not allow their namespace.
func (r *Reconciler) deleteAllJobs(ctx context.Context, dsj *v1alpha1.DistributedScaledJob, rules *tenancy.Rules) (map[string]error, []string) {
	sel := jobs.Selector(dsj.UID)
	policy := rolloutPropagation(dsj)
	var mu sync.Mutex
	var wg sync.WaitGroup
	failures := map[string]error{}
	var left []string
	for _, name := range r.Registry.Names() {
		m, ok := r.Registry.Get(name)
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var errs []error
			list, err := m.ListJobs(ctx, sel)
			if err != nil {
				errs = append(errs, err)
			}
			for _, j := range list {
				if j.DeletionTimestamp != nil {
					continue
				}
				if rules.TargetNamespace(j.Namespace) != nil {
					mu.Lock()
					left = append(left, name+":"+j.Namespace+"/"+j.Name)
					mu.Unlock()
					continue
				}
				if err := deleteJob(ctx, m.Client(), m.CallContext, jobs.Job{Namespace: j.Namespace, Name: j.Name}, policy); err != nil {
					errs = append(errs, fmt.Errorf("delete Job %s/%s: %w", j.Namespace, j.Name, err))
				}
			}
			if len(errs) > 0 {
				mu.Lock()
				failures[name] = errors.Join(errs...)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return failures, left
}

func mayHoldJobs(dsj *v1alpha1.DistributedScaledJob, name string) bool {
	if _, ok := dsj.Status.MemberClusterStatuses[name]; ok || len(dsj.Spec.MemberClusters) == 0 {
		return true
	}
	for _, m := range dsj.Spec.MemberClusters {
		if m.Name == name {
			return true
		}
	}
	return false
}

// reportBlockedDeletion says in status and an event which members hold the deletion up, and
// returns the error that retries it.
func (r *Reconciler) reportBlockedDeletion(ctx context.Context, dsj *v1alpha1.DistributedScaledJob, blocking map[string]error) error {
	names := make([]string, 0, len(blocking))
	for name := range blocking {
		names = append(names, name)
	}
	sort.Strings(names)
	var msgs []string
	var errs []error
	orig := dsj.DeepCopy()
	if dsj.Status.MemberClusterStatuses == nil {
		dsj.Status.MemberClusterStatuses = map[string]v1alpha1.JobMemberClusterStatus{}
	}
	for _, name := range names {
		err := blocking[name]
		msgs = append(msgs, name+": "+err.Error())
		errs = append(errs, fmt.Errorf("member %s: %w", name, err))
		ms := dsj.Status.MemberClusterStatuses[name]
		ms.Description = "deleting the DSJ's Jobs failed, retrying: " + err.Error()
		dsj.Status.MemberClusterStatuses[name] = ms
	}
	meta.SetStatusCondition(&dsj.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse,
		Reason: ReasonDeletingJobs, ObservedGeneration: dsj.Generation,
		Message: "waiting to delete the Jobs in member(s) " + strings.Join(names, ", ") + " (deregister a member that is gone for good)"})
	if r.Recorder != nil {
		r.Recorder.Eventf(dsj, nil, corev1.EventTypeWarning, EventJobOperationFailed, "Delete", "Deleting Jobs: %s", strings.Join(msgs, "; "))
	}
	retErr := fmt.Errorf("delete Jobs: %w", errors.Join(errs...))
	if err := r.Status().Patch(ctx, dsj, client.MergeFrom(orig)); err != nil {
		return errors.Join(retErr, client.IgnoreNotFound(fmt.Errorf("patch status: %w", err)))
	}
	return retErr
}
