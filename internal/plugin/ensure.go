package plugin

import (
	"context"
	"fmt"
	"io"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Actions reported for an object, in kubectl apply's words.
const (
	actionCreated    = "created"
	actionConfigured = "configured"
	actionDeleted    = "deleted"
)

// recorder collects and prints the changes a command makes, one line each.
type recorder struct {
	out     io.Writer
	changes []string
}

func (r *recorder) add(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	r.changes = append(r.changes, line)
	fmt.Fprintln(r.out, line)
}

// object names one object in messages: "serviceaccount keda/fleetscale".
func object(kind, namespace, name string) string {
	if namespace == "" {
		return kind + " " + name
	}
	return kind + " " + namespace + "/" + name
}

// ensure makes one object match what the plugin wants: get it; create it when missing;
// otherwise let sync bring the fetched copy in line (it returns whether it changed anything)
// and update it. It returns the object as stored and the action taken ("" when unchanged).
func ensure[T any](ctx context.Context, c cluster, what string,
	get func(context.Context) (T, error),
	create func(context.Context) (T, error),
	sync func(T) bool,
	update func(context.Context, T) (T, error),
) (T, string, error) {
	cur, err := get(ctx)
	if apierrors.IsNotFound(err) {
		created, err := create(ctx)
		if err != nil {
			return created, "", c.wrap("create "+what, err)
		}
		return created, actionCreated, nil
	}
	if err != nil {
		return cur, "", c.wrap("get "+what, err)
	}
	if !sync(cur) {
		return cur, "", nil
	}
	updated, err := update(ctx, cur)
	if err != nil {
		return updated, "", c.wrap("update "+what, err)
	}
	return updated, actionConfigured, nil
}

// mergeLabels adds want to *labels and reports whether that changed anything.
func mergeLabels(labels *map[string]string, want map[string]string) bool {
	changed := false
	for k, v := range want {
		if (*labels)[k] != v {
			if *labels == nil {
				*labels = map[string]string{}
			}
			(*labels)[k] = v
			changed = true
		}
	}
	return changed
}
