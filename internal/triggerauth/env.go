package triggerauth

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// envResolver looks environment variables up in the pod specs of an EnvSource, loading them
// once per Resolve.
type envResolver struct {
	source EnvSource
	reader client.Reader
	loaded bool
	specs  []PodSpec
	err    error
	// full caches the resolved environment of a container of a hub pod spec.
	full map[string]map[string]string
}

func (e *envResolver) load(ctx context.Context) ([]PodSpec, error) {
	if !e.loaded {
		e.loaded = true
		if e.source != nil {
			e.specs, e.err = e.source.PodSpecs(ctx)
		}
	}
	return e.specs, e.err
}

// lookup returns variable name of the container (default: the first) of every pod spec, which
// must all agree.
func (e *envResolver) lookup(ctx context.Context, container, name string) (string, error) {
	specs, err := e.load(ctx)
	if err != nil {
		return "", &Error{Problem: fmt.Sprintf("env %s: %v", name, err), err: err}
	}
	if len(specs) == 0 {
		return "", &Error{Problem: fmt.Sprintf("env %s: no pod template of the scale target could be read (no member's target was read)", name)}
	}
	var value, from string
	for i, ps := range specs {
		c, err := pickContainer(ps, container)
		if err != nil {
			return "", err
		}
		var v string
		if ps.Namespace == "" {
			v, err = literalEnv(c, name, ps.Where)
		} else {
			v, err = e.hubEnv(ctx, ps, c, name)
		}
		if err != nil {
			return "", err
		}
		if i == 0 {
			value, from = v, ps.Where
		} else if v != value {
			return "", &Error{Problem: fmt.Sprintf("env %s of container %s differs between %s and %s: every member must set the same value", name, c.Name, from, ps.Where)}
		}
	}
	return value, nil
}

// pickContainer applies KEDA's ResolveContainerEnv rule: the named container, else the first.
func pickContainer(ps PodSpec, name string) (*corev1.Container, error) {
	if ps.Spec == nil || len(ps.Spec.Containers) == 0 {
		return nil, &Error{Problem: ps.Where + " has no containers to read environment values from"}
	}
	if name == "" {
		return &ps.Spec.Containers[0], nil
	}
	for i := range ps.Spec.Containers {
		if ps.Spec.Containers[i].Name == name {
			return &ps.Spec.Containers[i], nil
		}
	}
	return nil, &Error{Problem: fmt.Sprintf("container %q not found in %s", name, ps.Where)}
}

// literalEnv reads a variable set by a literal value (with $(VAR) references to earlier
// literal variables expanded, as the kubelet does). A variable from valueFrom or envFrom is an
// error: those read the member's Secrets and ConfigMaps, which the hub does not read.
func literalEnv(c *corev1.Container, name, where string) (string, error) {
	resolved := map[string]string{}
	notLiteral := map[string]bool{}
	var value string
	found, fromRef := false, false
	var missingRef string
	for _, ev := range c.Env {
		if ev.ValueFrom != nil {
			delete(resolved, ev.Name)
			notLiteral[ev.Name] = true
			if ev.Name == name {
				found, fromRef = true, true
			}
			continue
		}
		v, refs := expand(ev.Value, resolved)
		resolved[ev.Name] = v
		delete(notLiteral, ev.Name)
		if ev.Name == name {
			found, fromRef, value, missingRef = true, false, v, ""
			for _, r := range refs {
				if notLiteral[r] || len(c.EnvFrom) > 0 {
					missingRef = r
				}
			}
		}
	}
	switch {
	case !found && len(c.EnvFrom) > 0:
		return "", &Error{Problem: fmt.Sprintf("env %s is not set by a literal value in container %s of %s (it may come from envFrom, which the hub does not read from member clusters); set it literally or use a TriggerAuthentication secretTargetRef", name, c.Name, where)}
	case !found:
		return "", &Error{Problem: fmt.Sprintf("env %s is not set in container %s of %s", name, c.Name, where)}
	case fromRef:
		return "", &Error{Problem: fmt.Sprintf("env %s of container %s in %s is set with valueFrom: only literal values are read from member clusters; use a TriggerAuthentication secretTargetRef in the hub instead", name, c.Name, where)}
	case missingRef != "":
		return "", &Error{Problem: fmt.Sprintf("env %s of container %s in %s refers to $(%s), which is not a literal value", name, c.Name, where, missingRef)}
	}
	return value, nil
}

// hubEnv resolves the container's environment as KEDA's resolveEnv does, reading envFrom and
// valueFrom references from the hub namespace of the pod spec.
func (e *envResolver) hubEnv(ctx context.Context, ps PodSpec, c *corev1.Container, name string) (string, error) {
	key := ps.Where + "\x00" + c.Name
	env, ok := e.full[key]
	if !ok {
		var err error
		if env, err = e.resolveContainer(ctx, ps.Namespace, c, ps.Where); err != nil {
			return "", err
		}
		if e.full == nil {
			e.full = map[string]map[string]string{}
		}
		e.full[key] = env
	}
	v, ok := env[name]
	if !ok {
		return "", &Error{Problem: fmt.Sprintf("env %s is not set in container %s of %s", name, c.Name, ps.Where)}
	}
	return v, nil
}

func (e *envResolver) resolveContainer(ctx context.Context, namespace string, c *corev1.Container, where string) (map[string]string, error) {
	r := &Resolver{Reader: e.reader}
	resolved := map[string]string{}
	in := fmt.Sprintf("container %s of %s", c.Name, where)
	for _, src := range c.EnvFrom {
		switch {
		case src.ConfigMapRef != nil:
			var cm corev1.ConfigMap
			err := e.reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: src.ConfigMapRef.Name}, &cm)
			if err != nil {
				if optional(src.ConfigMapRef.Optional) {
					continue
				}
				return nil, withContext(readError("ConfigMap "+namespace+"/"+src.ConfigMapRef.Name, err), "", "envFrom of "+in+": ")
			}
			for k, v := range cm.Data {
				resolved[src.Prefix+k] = v
			}
		case src.SecretRef != nil:
			var s corev1.Secret
			err := e.reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: src.SecretRef.Name}, &s)
			if err != nil {
				if optional(src.SecretRef.Optional) {
					continue
				}
				return nil, withContext(readError("Secret "+namespace+"/"+src.SecretRef.Name, err), "", "envFrom of "+in+": ")
			}
			for k, v := range s.Data {
				resolved[src.Prefix+k] = string(v)
			}
		}
	}
	for _, ev := range c.Env {
		var value string
		switch {
		case ev.Value != "":
			value, _ = expand(ev.Value, resolved)
		case ev.ValueFrom == nil:
		case ev.ValueFrom.SecretKeyRef != nil:
			ref := ev.ValueFrom.SecretKeyRef
			v, err := r.secretKey(ctx, namespace, ref.Name, ref.Key)
			if err != nil {
				if optional(ref.Optional) {
					continue
				}
				return nil, withContext(err, "", fmt.Sprintf("env %s of %s: ", ev.Name, in))
			}
			value = v
		case ev.ValueFrom.ConfigMapKeyRef != nil:
			ref := ev.ValueFrom.ConfigMapKeyRef
			v, err := r.configMapKey(ctx, namespace, ref.Name, ref.Key)
			if err != nil {
				if optional(ref.Optional) {
					continue
				}
				return nil, withContext(err, "", fmt.Sprintf("env %s of %s: ", ev.Name, in))
			}
			value = v
		default:
			// fieldRef and resourceFieldRef have no value outside a pod; KEDA skips them too.
			continue
		}
		resolved[ev.Name] = value
	}
	return resolved, nil
}

func optional(b *bool) bool { return b != nil && *b }

// expand replaces $(VAR) with the value of an already defined variable and $$ with $, leaving
// references to unknown variables as written: the kubelet's rule for env values
// (third_party/forked/golang/expansion), which KEDA's resolveEnvValue reproduces. It also
// returns the names it could not resolve.
func expand(s string, env map[string]string) (string, []string) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	var unresolved []string
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String(), unresolved
			}
			ref := s[i+2 : i+2+end]
			if v, ok := env[ref]; ok {
				b.WriteString(v)
			} else {
				b.WriteString("$(" + ref + ")")
				unresolved = append(unresolved, ref)
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String(), unresolved
}
