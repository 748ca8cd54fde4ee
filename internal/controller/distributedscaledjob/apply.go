package distributedscaledjob

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/internal/jobs"
)

// memberOps is what apply does in one member, in order: deletions, then creations.
type memberOps struct {
	mv        *memberView
	deletions []jobs.Deletion
	failovers []jobs.Failover
	newJobs   int
}

// apply carries out the plan: per member, in parallel (each call bounded by that member's
// timeout, so a slow member delays no other), delete what the plan deletes, then create the
// failover copies and the new Jobs. Nothing is created while the spec is invalid; deletions of
// outdated and finished Jobs go on whatever the triggers say. Failures are recorded per member
// in s.applyErrors (status, Event, a retry after applyRetry), not returned.
func (r *Reconciler) apply(ctx context.Context, s *scope) {
	if s.plan == nil {
		return
	}
	ops := map[string]*memberOps{}
	get := func(name string) *memberOps {
		if ops[name] == nil {
			ops[name] = &memberOps{mv: s.memberView(name)}
		}
		return ops[name]
	}
	for _, d := range s.plan.Deletions {
		get(d.Job.Member).deletions = append(get(d.Job.Member).deletions, d)
	}
	if s.specError == "" {
		for _, f := range s.plan.Failovers {
			get(f.Target).failovers = append(get(f.Target).failovers, f)
		}
		for _, name := range s.placements {
			get(name).newJobs++
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for name, op := range ops {
		if op.mv == nil || op.mv.member == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := r.applyMember(ctx, s, op)
			mu.Lock()
			defer mu.Unlock()
			s.deleted = append(s.deleted, res.deleted...)
			s.failedOver = append(s.failedOver, res.failedOver...)
			if res.created > 0 {
				s.created[name] = res.created
			}
			for _, err := range res.errs {
				s.applyErrors[name] = append(s.applyErrors[name], err.Error())
			}
		}()
	}
	wg.Wait()
	made := make([]jobs.Failover, 0, len(s.failedOver))
	for _, f := range s.failedOver {
		made = append(made, f.Failover)
	}
	s.plan.SettleFailovers(made)
}

type memberResult struct {
	deleted    []jobs.Deletion
	failedOver []createdFailover
	created    int
	errs       []error
}

func (r *Reconciler) applyMember(ctx context.Context, s *scope, op *memberOps) memberResult {
	var res memberResult
	m, mv := op.mv.member, op.mv
	for _, d := range op.deletions {
		// A Job left in a namespace the DSJ may no longer act on (it moved, a policy was
		// withdrawn) is not the DSJ's to delete any more.
		if err := s.rules.TargetNamespace(d.Job.Namespace); err != nil {
			res.errs = append(res.errs, fmt.Errorf("not deleting Job %s/%s (%s): %w", d.Job.Namespace, d.Job.Name, d.Reason, err))
			continue
		}
		policy := metav1.DeletePropagationBackground
		if d.Reason == jobs.ReasonRollout {
			policy = rolloutPropagation(s.dsj)
		}
		if err := deleteJob(ctx, m.Client(), m.CallContext, d.Job, policy); err != nil {
			res.errs = append(res.errs, fmt.Errorf("delete Job %s/%s (%s): %w", d.Job.Namespace, d.Job.Name, d.Reason, err))
			continue
		}
		r.expect.delete(s.dsj.UID, d.Job.Key(), s.now)
		res.deleted = append(res.deleted, d)
	}
	create := func(source *jobs.Job) (string, error) {
		job := mv.template.DeepCopy()
		if source != nil {
			jobs.MarkFailover(job, *source)
		}
		cctx, cancel := m.CallContext(ctx)
		defer cancel()
		if err := m.Client().Create(cctx, job); err != nil {
			return "", fmt.Errorf("create Job in %s: %w", job.Namespace, err)
		}
		r.expect.create(s.dsj.UID, expectedFrom(mv.name, job, s.now), s.now)
		return job.Name, nil
	}
	for _, f := range op.failovers {
		name, err := create(&f.Source)
		if err != nil {
			res.errs = append(res.errs, fmt.Errorf("failover of %s: %w", f.Source.Key(), err))
			continue
		}
		res.failedOver = append(res.failedOver, createdFailover{Failover: f, name: name})
	}
	for range op.newJobs {
		if _, err := create(nil); err != nil {
			res.errs = append(res.errs, err)
			break // the same error would repeat for every Job
		}
		res.created++
	}
	return res
}

func deleteJob(ctx context.Context, c client.Client, bound func(context.Context) (context.Context, context.CancelFunc), j jobs.Job, policy metav1.DeletionPropagation) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: j.Namespace, Name: j.Name}}
	if err := c.Delete(ctx, job, client.PropagationPolicy(policy)); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

// expectedFrom is a Job just created, as Observe will see it once the cache has it.
func expectedFrom(member string, job *batchv1.Job, now time.Time) jobs.Job {
	return jobs.Job{Member: member, Namespace: job.Namespace, Name: job.Name, Created: now,
		Hash: job.Labels[jobs.LabelTemplateHash], FailoverOf: job.Annotations[jobs.AnnotationFailoverOf],
		Pending: true, PendingSince: now}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
