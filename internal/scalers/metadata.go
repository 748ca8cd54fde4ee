package scalers

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// metadata reads trigger metadata the way KEDA's typed config does (scalersconfig.TypedConfig):
// values are trimmed, an empty value counts as absent, numbers are parsed as JSON numbers.
// Problems are collected rather than returned one by one, as KEDA joins them.
type metadata struct {
	values map[string]string
	// env and auth are the resolved environment and authentication parameters (withAuth).
	env, auth map[string]string
	problems  []string
}

func newMetadata(values map[string]string) *metadata {
	return &metadata{values: values}
}

func (m *metadata) problem(format string, args ...any) {
	m.problems = append(m.problems, fmt.Sprintf(format, args...))
}

// err returns nil or a *MetadataError holding every problem found.
func (m *metadata) err(triggerType string) error {
	if len(m.problems) == 0 {
		return nil
	}
	return &MetadataError{TriggerType: triggerType, Problems: m.problems}
}

// lookup returns the trimmed value of key; empty means absent.
func (m *metadata) lookup(key string) (string, bool) {
	v := strings.TrimSpace(m.values[key])
	return v, v != ""
}

// required returns the value of key, noting a problem when it is absent.
func (m *metadata) required(key string) (string, bool) {
	v, ok := m.lookup(key)
	if !ok {
		m.problem("%s is required", key)
	}
	return v, ok
}

// oneOf returns the value of key (def when absent; required when def is empty), noting a
// problem when it is not one of allowed. Matching is exact, as in KEDA.
func (m *metadata) oneOf(key, def string, allowed ...string) (string, bool) {
	v, ok := m.lookup(key)
	if !ok {
		if def == "" {
			m.problem("%s is required (one of %s)", key, strings.Join(allowed, ", "))
			return "", false
		}
		return def, true
	}
	if !slices.Contains(allowed, v) {
		m.problem("%s %q is not one of %s", key, v, strings.Join(allowed, ", "))
		return "", false
	}
	return v, true
}

// float returns the value of key as a JSON number (def when absent and not required).
func (m *metadata) float(key string, required bool, def float64) (float64, bool) {
	v, ok := m.lookup(key)
	if !ok {
		if required {
			m.problem("%s is required", key)
			return 0, false
		}
		return def, true
	}
	f := def
	if err := json.Unmarshal([]byte(v), &f); err != nil {
		m.problem("%s %q is not a number", key, v)
		return 0, false
	}
	return f, true
}

// int64 returns the value of key as a JSON integer (required).
func (m *metadata) int64(key string) (int64, bool) {
	v, ok := m.required(key)
	if !ok {
		return 0, false
	}
	var i int64
	if err := json.Unmarshal([]byte(v), &i); err != nil {
		m.problem("%s %q is not an integer", key, v)
		return 0, false
	}
	return i, true
}

// Where a parameter may come from, KEDA's TypedConfig parsing orders: the trigger's metadata,
// the resolved environment (metadata <param>FromEnv names the variable), the resolved
// authentication parameters.
type paramSource uint8

const (
	fromMetadata paramSource = 1 << iota
	fromEnv
	fromAuth
)

// withAuth makes a metadata reader that also sees the resolved environment and
// authentication parameters.
func (m *metadata) withAuth(a Auth) *metadata {
	m.env, m.auth = a.Env, a.Params
	return m
}

// get returns the first non-empty value of any of names, looking in the sources in KEDA's
// order (metadata, then environment, then authentication), as scalersconfig.configParamValue
// does: all names in one source before the next.
func (m *metadata) get(from paramSource, names ...string) (string, bool) {
	for _, s := range []paramSource{fromMetadata, fromEnv, fromAuth} {
		if from&s == 0 {
			continue
		}
		for _, name := range names {
			var v string
			switch s {
			case fromMetadata:
				v = m.values[name]
			case fromEnv:
				if ref := strings.TrimSpace(m.values[name+"FromEnv"]); ref != "" {
					v = m.env[ref]
				}
			case fromAuth:
				v = m.auth[name]
			}
			if v = strings.TrimSpace(v); v != "" {
				return v, true
			}
		}
	}
	return "", false
}

// boolean parses key as strconv.ParseBool does (KEDA's rule), def when absent.
func (m *metadata) boolean(from paramSource, key string, def bool) bool {
	v, ok := m.get(from, key)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		m.problem("%s %q is not a boolean (true or false)", key, v)
		return def
	}
	return b
}

// number parses key as a JSON number, def when absent (required: a problem when absent).
func (m *metadata) number(from paramSource, key string, required bool, def float64) (float64, bool) {
	v, ok := m.get(from, key)
	if !ok {
		if required {
			m.problem("%s is required", key)
			return 0, false
		}
		return def, true
	}
	f := def
	if err := json.Unmarshal([]byte(v), &f); err != nil {
		m.problem("%s %q is not a number", key, v)
		return 0, false
	}
	return f, true
}

// keyValues parses key as KEDA parses a map parameter: `k1=v1,k2=v2`, each element exactly one
// `=` (so a value cannot hold `=` or `,`), keys and values trimmed.
func (m *metadata) keyValues(from paramSource, key string) map[string]string {
	v, ok := m.get(from, key)
	if !ok {
		return nil
	}
	out := map[string]string{}
	for _, elem := range strings.Split(v, ",") {
		kv := strings.Split(strings.TrimSpace(elem), "=")
		if len(kv) != 2 {
			m.problem("%s: element %q is not key=value", key, strings.TrimSpace(elem))
			return nil
		}
		out[strings.TrimSpace(kv[0])] = strings.TrimSpace(kv[1])
	}
	return out
}

// duration parses key as KEDA parses a time.Duration parameter: a Go duration ("30s") or a
// whole number of milliseconds, never negative; zero when absent.
func (m *metadata) duration(from paramSource, key string) time.Duration {
	v, ok := m.get(from, key)
	if !ok {
		return 0
	}
	if d, err := time.ParseDuration(v); err == nil {
		if d < 0 {
			m.problem("%s %q must not be negative", key, v)
			return 0
		}
		return d
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms < 0 || ms > math.MaxInt64/int64(time.Millisecond) {
		m.problem("%s %q is not a duration (such as 30s) or a number of milliseconds", key, v)
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}

// enum returns key's value (def when absent) when it is one of allowed.
func (m *metadata) enum(from paramSource, key, def string, allowed ...string) string {
	v, ok := m.get(from, key)
	if !ok {
		return def
	}
	if !slices.Contains(allowed, v) {
		m.problem("%s %q is not one of %s", key, v, strings.Join(allowed, ", "))
		return def
	}
	return v
}
