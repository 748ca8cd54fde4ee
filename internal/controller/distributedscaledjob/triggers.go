package distributedscaledjob

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/autoscaling"
	"github.com/fleetscale/fleetscale/internal/jobs"
	"github.com/fleetscale/fleetscale/internal/member"
	"github.com/fleetscale/fleetscale/internal/scalers"
	"github.com/fleetscale/fleetscale/internal/triggerauth"
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
	s.triggerStatus, s.triggerTypes = map[string]v1alpha1.TriggerMetricStatus{}, map[string]string{}
	var problems []string
	for _, rd := range r.triggerCache().Read(ctx, req) {
		t := rd.Trigger
		if !rd.NextChange.IsZero() && (s.nextTriggerChange.IsZero() || rd.NextChange.Before(s.nextTriggerChange)) {
			s.nextTriggerChange = rd.NextChange
		}
		if rd.Err != nil {
			msg := fmt.Sprintf("%s: %v", describeTrigger(rd), rd.Err)
			if scalers.IsSpecError(rd.Err) {
				s.specError = msg
			}
			problems = append(problems, msg)
		}
		if len(rd.Metrics) == 0 {
			name := triggerKey(t.Name, "trigger-"+strconv.Itoa(rd.Index))
			s.triggers = append(s.triggers, autoscaling.JobTrigger{Name: name, Err: rd.Err})
			s.recordTrigger(name, autoscaling.JobTrigger{Err: rd.Err}, false)
			s.triggerTypes[name] = t.Type
			continue
		}
		for _, m := range rd.Metrics {
			jt := autoscaling.JobTrigger{Name: triggerKey(t.Name, m.Name), Target: m.Target, Active: rd.Active, Err: rd.Err, Value: m.Value}
			s.triggers = append(s.triggers, jt)
			s.recordTrigger(jt.Name, jt, m.Sensitive)
			s.triggerTypes[jt.Name] = t.Type
		}
	}
	if len(problems) > 0 {
		s.triggerError = strings.Join(problems, "; ")
	}
}

// describeTrigger names a trigger in messages by its index, type and name.
func describeTrigger(rd scalers.Reading) string {
	if rd.Trigger.Name != "" {
		return fmt.Sprintf("trigger %d (%s %q)", rd.Index, rd.Trigger.Type, rd.Trigger.Name)
	}
	return fmt.Sprintf("trigger %d (%s)", rd.Index, rd.Trigger.Type)
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
