package distributedscaledobject

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/autoscaling"
	"github.com/fleetscale/fleetscale/internal/member"
	"github.com/fleetscale/fleetscale/internal/scalers"
	"github.com/fleetscale/fleetscale/internal/triggerauth"
	"github.com/fleetscale/fleetscale/internal/triggereval"
)

// readTriggers reads every trigger through the reconciler's scaler cache (in parallel, within
// the read budget). A trigger that cannot be built or read becomes an autoscaling.Trigger with
// Err set: the autoscaler keeps the current total (or applies the fallback), so a broken
// trigger never scales anything down.
func (r *Reconciler) readTriggers(ctx context.Context, s *scope) []autoscaling.Trigger {
	spec := s.dso.Spec.ScaledObjectSpec
	req := scalers.ReadRequest{
		Object:         client.ObjectKeyFromObject(s.dso),
		Triggers:       spec.Triggers,
		AsMetricSource: spec.Advanced != nil && spec.Advanced.ScalingModifiers.Formula != "",
		Env:            &memberTemplates{r: r, s: s},
		Pods:           r.memberPods(s),
	}
	if spec.ScaleTargetRef != nil {
		req.EnvSourceContainerName = spec.ScaleTargetRef.EnvSourceContainerName
	}
	key := client.ObjectKeyFromObject(s.dso)
	res := triggereval.Read(ctx, r.triggerCache(), req, r.errorsSeen.keep(key, s.prev.Triggers))
	r.errorsSeen.record(key, res.Metrics)
	if res.SpecError != "" {
		s.specError = res.SpecError
	}
	s.triggerError, s.nextTriggerChange = res.Problems, res.NextChange
	s.sensitive, s.triggerTypes = map[string]bool{}, map[string]string{}
	out := make([]autoscaling.Trigger, 0, len(res.Metrics))
	for _, m := range res.Metrics {
		out = append(out, autoscaling.Trigger{Name: m.Name, MetricType: m.MetricType, Target: m.Target,
			ActivationTarget: m.ActivationTarget, Value: m.Value, Err: m.Err})
		// Keyed as storeState keys status: by name, an unnamed one by its position here.
		key := m.Name
		if key == "" {
			key = "trigger-" + strconv.Itoa(len(out)-1)
		}
		s.triggerTypes[key] = m.TriggerType
		if m.Sensitive {
			s.sensitive[m.Name] = true
		}
	}
	return out
}

// triggerCache is the reconciler's scaler cache; SetupWithManager makes it, this makes one
// for a reconciler used without a manager.
func (r *Reconciler) triggerCache() *scalers.Cache {
	r.cacheOnce.Do(func() {
		if r.triggers == nil {
			r.triggers = scalers.NewCache(scalers.CacheOptions{Options: r.Scalers, HubReader: r.Client,
				ObjectKind: "DistributedScaledObject", ClusterNamespace: r.Namespace, Now: r.Now})
		}
	})
	return r.triggers
}

// memberPods is where kubernetes-workload counts: the target namespace of every member the
// DSO uses (not excluded by failover). A member within its grace period that cannot be read
// fails the count, which keeps the total: a count without it would scale the others down.
func (r *Reconciler) memberPods(s *scope) member.Pods {
	var pods member.Pods
	for _, mv := range s.members {
		if mv.prevExcluded {
			continue
		}
		m, _ := r.Registry.Get(mv.name)
		pods = append(pods, member.PodScope{Name: mv.name, Member: m, Namespace: mv.namespace})
	}
	return pods
}

// memberTemplates reads the scale target's pod template from every member whose target was
// read (only literal env values count there; see internal/triggerauth).
type memberTemplates struct {
	r *Reconciler
	s *scope
}

func (t *memberTemplates) PodSpecs(ctx context.Context) ([]triggerauth.PodSpec, error) {
	gvk := targetGVK(t.s.dso)
	name := t.s.dso.Spec.ScaledObjectSpec.ScaleTargetRef.Name
	var members []*memberView
	for _, mv := range t.s.members {
		if mv.healthy() {
			members = append(members, mv)
		}
	}
	specs := make([]triggerauth.PodSpec, len(members))
	errs := make([]error, len(members))
	var wg sync.WaitGroup
	for i, mv := range members {
		m, ok := t.r.Registry.Get(mv.name)
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			where := fmt.Sprintf("member %s (%s %s/%s)", mv.name, gvk.Kind, mv.namespace, name)
			tpl, err := m.PodTemplate(ctx, gvk, mv.namespace, name)
			switch {
			case err != nil:
				errs[i] = err
			case tpl == nil:
				errs[i] = fmt.Errorf("%s has no pod template to read environment values from", where)
			default:
				specs[i] = triggerauth.PodSpec{Where: where, Spec: &tpl.Spec}
			}
		}()
	}
	wg.Wait()
	var out []triggerauth.PodSpec
	for i := range specs {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if specs[i].Spec != nil {
			out = append(out, specs[i])
		}
	}
	return out, nil
}

// errorsSeen remembers, per DSO and trigger, the error texts seen while the trigger keeps
// failing (at most maxErrorsSeen): a text seen before in this failure keeps the one status
// shows, so a failure that alternates between wordings (a hanging external scaler: a timeout,
// then a closed connection) rewrites status and Events once, not on every poll. A text not
// seen yet is a new problem and is shown at once.
type errorsSeen struct {
	mu    sync.Mutex
	texts map[types.NamespacedName]map[string][]string
}

const maxErrorsSeen = 4

// keep is triggereval's KeepError for one evaluation of obj, with status as read.
func (e *errorsSeen) keep(obj types.NamespacedName, prev map[string]v1alpha1.TriggerMetricStatus) triggereval.KeepError {
	return func(key, text string) (string, bool) {
		p, ok := prev[key]
		if !ok || p.State != v1alpha1.TriggerStateError || p.Error == "" {
			return "", false
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		return p.Error, slices.Contains(e.texts[obj][key], text)
	}
}

// record notes this evaluation's errors (and forgets the triggers that read fine).
func (e *errorsSeen) record(obj types.NamespacedName, metrics []triggereval.Metric) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.texts == nil {
		e.texts = map[types.NamespacedName]map[string][]string{}
	}
	seen := e.texts[obj]
	for _, m := range metrics {
		if m.Err == nil {
			delete(seen, m.Key)
			continue
		}
		if seen == nil {
			seen = map[string][]string{}
			e.texts[obj] = seen
		}
		if t := triggereval.ReadText(m.Err); !slices.Contains(seen[m.Key], t) {
			seen[m.Key] = append(seen[m.Key], t)
			if len(seen[m.Key]) > maxErrorsSeen {
				seen[m.Key] = seen[m.Key][1:]
			}
		}
	}
	if len(seen) == 0 {
		delete(e.texts, obj)
	}
}

func (e *errorsSeen) forget(obj types.NamespacedName) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.texts, obj)
}
