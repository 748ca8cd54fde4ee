package tenancy

import (
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	psaapi "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

// evaluator is the Pod Security admission's own evaluator with its default checks (the ones
// kube-apiserver enforces), built once.
var evaluator = sync.OnceValues(func() (psapolicy.Evaluator, error) {
	return psapolicy.NewEvaluator(psapolicy.DefaultChecks(), nil)
})

// permissiveness orders the levels: a higher one allows more.
var permissiveness = map[string]int{
	v1alpha1.PodSecurityRestricted: 0,
	v1alpha1.PodSecurityBaseline:   1,
	v1alpha1.PodSecurityPrivileged: 2,
}

// PodSecurityLevel is the level Job pod templates are held to, and the policies that set it
// (none: the default, baseline). Of several policies the most permissive level wins.
func (r *Rules) PodSecurityLevel() (level string, from []string) {
	for _, c := range r.policies {
		ps := c.spec.PodSecurity
		if ps == nil {
			continue
		}
		if _, known := permissiveness[ps.Level]; !known {
			continue
		}
		switch {
		case level == "" || permissiveness[ps.Level] > permissiveness[level]:
			level, from = ps.Level, []string{c.name}
		case ps.Level == level:
			from = append(from, c.name)
		}
	}
	if level == "" {
		return v1alpha1.PodSecurityBaseline, nil
	}
	return level, from
}

// PodTemplate checks a Job's pod template against the namespace's Pod Security level, with
// the upstream Pod Security evaluator at its latest version, as kube-apiserver would check
// the pods in a namespace labelled pod-security.kubernetes.io/enforce=<level>.
func (r *Rules) PodTemplate(tpl *corev1.PodTemplateSpec) error {
	level, from := r.PodSecurityLevel()
	if level == v1alpha1.PodSecurityPrivileged {
		return nil
	}
	ev, err := evaluator()
	if err != nil {
		// The upstream checks are compiled in; an error here is a programming error. Refuse
		// rather than let an unchecked template through.
		return &Refusal{Reason: ReasonPodSecurityViolation, Message: "cannot evaluate the Pod Security checks: " + err.Error()}
	}
	lv := psaapi.LevelVersion{Level: psaapi.Level(level), Version: psaapi.LatestVersion()}
	res := psapolicy.AggregateCheckResults(ev.EvaluatePod(lv, &tpl.ObjectMeta, &tpl.Spec))
	if res.Allowed {
		return nil
	}
	source := "the default for every hub namespace"
	if len(from) > 0 {
		source = "set by " + policyWord(from)
	}
	// The least permissive level that would allow the template, for the fix.
	need := v1alpha1.PodSecurityPrivileged
	if level == v1alpha1.PodSecurityRestricted {
		base := psaapi.LevelVersion{Level: psaapi.LevelBaseline, Version: psaapi.LatestVersion()}
		if psapolicy.AggregateCheckResults(ev.EvaluatePod(base, &tpl.ObjectMeta, &tpl.Spec)).Allowed {
			need = v1alpha1.PodSecurityBaseline
		}
	}
	msg := fmt.Sprintf("the Job pod template violates Pod Security level %q (%s): %s", level, source, res.ForbiddenDetail())
	for _, s := range r.brokenSelectors {
		msg += "; " + s
	}
	return &Refusal{Reason: ReasonPodSecurityViolation, Message: msg + fmt.Sprintf(
		"; a hub admin can allow it with a TenantPolicy that selects namespace %q and sets spec.podSecurity.level: %s", r.Namespace, need)}
}
