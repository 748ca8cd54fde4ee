package scalers

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// metadata reads trigger metadata the way KEDA's typed config does (scalersconfig.TypedConfig):
// values are trimmed, an empty value counts as absent, numbers are parsed as JSON numbers.
// Problems are collected rather than returned one by one, as KEDA joins them.
type metadata struct {
	values   map[string]string
	problems []string
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
