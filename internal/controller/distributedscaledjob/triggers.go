package distributedscaledjob

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/autoscaling"
	"github.com/fleetscale/fleetscale/internal/jobs"
	"github.com/fleetscale/fleetscale/internal/member"
	"github.com/fleetscale/fleetscale/internal/scalers"
	"github.com/fleetscale/fleetscale/internal/triggerauth"
	"github.com/fleetscale/fleetscale/internal/triggereval"
)

// readTriggers reads every trigger through the reconciler's scaler cache (in parallel, within
// the read budget). A trigger that cannot be built or read becomes an autoscaling.JobTrigger
// with Err set, which DecideJobs skips: a broken trigger creates no Jobs and deletes none.
func (r *Reconciler) readTriggers(ctx context.Context, s *scope) {
	spec := s.dsj.Spec.ScaledJobSpec
	req := scalers.ReadRequest{
		Object:                 client.ObjectKeyFromObject(s.dsj),
		Triggers:               spec.Triggers,
		EnvSourceContainerName: spec.EnvSourceContainerName,
		Pods:                   s.memberPods(),
	}
	if t := spec.JobTargetRef; t != nil {
		// The Jobs' template is in the hub: environment values resolve there, with valueFrom
		// and envFrom read from the DSJ's namespace, as KEDA resolves a ScaledJob's.
		req.Env = triggerauth.PodSpecs{{Where: "jobTargetRef", Spec: &t.Template.Spec, Namespace: s.dsj.Namespace}}
	}
	res := triggereval.Read(ctx, r.triggerCache(), req, nil)
	if res.SpecError != "" {
		s.specError = res.SpecError
	}
	s.triggerError, s.nextTriggerChange = res.Problems, res.NextChange
	s.triggerStatus, s.triggerTypes = map[string]v1alpha1.TriggerMetricStatus{}, map[string]string{}
	for _, m := range res.Metrics {
		jt := autoscaling.JobTrigger{Name: m.Key, Target: m.Target, Active: m.Active, Err: m.Err, Value: m.Value}
		s.triggers = append(s.triggers, jt)
		s.recordTrigger(m.Key, jt, m.Sensitive)
		s.triggerTypes[m.Key] = m.TriggerType
	}
}

// triggerCache is the reconciler's scaler cache; SetupWithManager makes it, this makes one
// for a reconciler used without a manager.
func (r *Reconciler) triggerCache() *scalers.Cache {
	r.cacheOnce.Do(func() {
		if r.triggers == nil {
			r.triggers = scalers.NewCache(scalers.CacheOptions{Options: r.Scalers, HubReader: r.Client,
				ObjectKind: "DistributedScaledJob", ClusterNamespace: r.Namespace, Now: r.Now})
		}
	})
	return r.triggers
}

// memberPods is where kubernetes-workload counts for a DSJ: the target namespace of every
// member whose Jobs are observed now. A DSJ never deletes running Jobs on a lower value, so a
// member that cannot be read is left out rather than holding every creation back.
func (s *scope) memberPods() member.Pods {
	var pods member.Pods
	for _, mv := range s.members {
		if mv.access == jobs.Observed && mv.member != nil {
			pods = append(pods, member.PodScope{Name: mv.name, Member: mv.member, Namespace: mv.namespace})
		}
	}
	return pods
}
