// Package triggereval is the one trigger-reading path of both reconcilers: it turns what the
// scaler cache read for an object's triggers (internal/scalers) into the per-metric values,
// error messages and next-change time that the DSO's ScaledObject rules and the DSJ's
// ScaledJob rules (internal/autoscaling) decide from. The two differ only in what they build
// from a Metric (autoscaling.Trigger or autoscaling.JobTrigger), as KEDA's ScaledObject and
// ScaledJob paths differ; naming, errors, secrecy and time are decided here.
package triggereval

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"

	"github.com/fleetscale/fleetscale/internal/scalers"
)

// Metric is one metric of one trigger, or a trigger that gave none (its scaler could not be
// built: HasMetric is false and Err is set).
type Metric struct {
	// Name is the trigger's name, else the metric's (KEDA's external metric name); empty for
	// an unnamed trigger without metrics.
	Name string
	// Key names the metric in status and metrics: Name, else trigger-<index in spec>.
	Key string
	// TriggerIndex and TriggerType are the trigger's position in spec and its type.
	TriggerIndex int
	TriggerType  string
	HasMetric    bool
	MetricType   autoscalingv2.MetricTargetType
	Value        float64
	Target       float64
	// ActivationTarget is informational: Active already applies it.
	ActivationTarget float64
	// Active is the scaler's activity verdict for the whole trigger.
	Active bool
	// Sensitive: the value was read from a Secret and is never shown.
	Sensitive bool
	Err       error
}

// Result is everything one read of an object's triggers gave.
type Result struct {
	Metrics []Metric
	// SpecError is the message of a trigger that only a spec or policy change fixes (the
	// last one); empty when none.
	SpecError string
	// Problems names every failing trigger with its error, "; "-joined; empty when none.
	Problems string
	// NextChange is the earliest time a time-based trigger (cron) changes value; zero when
	// none will. Reconcilers requeue by then so a boundary is not noticed only at the next
	// polling interval.
	NextChange time.Time
}

// Reader reads an object's triggers: *scalers.Cache.
type Reader interface {
	Read(ctx context.Context, req scalers.ReadRequest) []scalers.Reading
}

// Read reads req's triggers through r and summarises them; keep (nil: none) is as for
// SummarizeKeeping.
func Read(ctx context.Context, r Reader, req scalers.ReadRequest, keep KeepError) Result {
	return SummarizeKeeping(r.Read(ctx, req), keep)
}

// KeepError returns, for a trigger's key and the text of this read's error, the error text
// its status already shows when that text should stay.
type KeepError func(key, text string) (string, bool)

// Summarize turns the readings of an object's triggers into its Result. Pure.
func Summarize(readings []scalers.Reading) Result { return SummarizeKeeping(readings, nil) }

// SummarizeKeeping is Summarize, except that a failing trigger for which keep gives a text
// reports that text (the error itself is still wrapped, for errors.Is): a trigger whose
// failure alternates between wordings (a hanging scaler: a timeout, then a closed connection)
// then changes neither status nor Events on every poll. Pure.
func SummarizeKeeping(readings []scalers.Reading, keep KeepError) Result {
	var res Result
	var problems []string
	for _, rd := range readings {
		t := rd.Trigger
		if !rd.NextChange.IsZero() && (res.NextChange.IsZero() || rd.NextChange.Before(res.NextChange)) {
			res.NextChange = rd.NextChange
		}
		if rd.Err != nil && keep != nil && !scalers.IsSpecError(rd.Err) {
			if text, ok := keep(readingKey(rd), rd.Err.Error()); ok && text != rd.Err.Error() {
				rd.Err = &keptError{text: text, err: rd.Err}
			}
		}
		if rd.Err != nil {
			msg := fmt.Sprintf("%s: %v", Describe(rd), rd.Err)
			if scalers.IsSpecError(rd.Err) {
				res.SpecError = msg
			}
			problems = append(problems, msg)
		}
		if len(rd.Metrics) == 0 {
			res.Metrics = append(res.Metrics, Metric{Name: t.Name, Key: key(t.Name, rd.Index),
				TriggerIndex: rd.Index, TriggerType: t.Type, MetricType: t.MetricType, Err: rd.Err})
			continue
		}
		for _, m := range rd.Metrics {
			name := t.Name
			if name == "" {
				name = m.Name
			}
			res.Metrics = append(res.Metrics, Metric{Name: name, Key: key(name, rd.Index),
				TriggerIndex: rd.Index, TriggerType: t.Type, HasMetric: true, MetricType: m.Type,
				Value: m.Value, Target: m.Target, ActivationTarget: m.ActivationTarget,
				Active: rd.Active, Sensitive: m.Sensitive, Err: rd.Err})
		}
	}
	res.Problems = strings.Join(problems, "; ")
	return res
}

func key(name string, index int) string {
	if name != "" {
		return name
	}
	return "trigger-" + strconv.Itoa(index)
}

// Describe names a trigger in messages by its index, type and name:
// `trigger 0 (redis "orders")`.
func Describe(rd scalers.Reading) string {
	if rd.Trigger.Name != "" {
		return fmt.Sprintf("trigger %d (%s %q)", rd.Index, rd.Trigger.Type, rd.Trigger.Name)
	}
	return fmt.Sprintf("trigger %d (%s)", rd.Index, rd.Trigger.Type)
}

// readingKey is the status key of a reading's first metric (what storeState keys by).
func readingKey(rd scalers.Reading) string {
	name := rd.Trigger.Name
	if name == "" && len(rd.Metrics) > 0 {
		name = rd.Metrics[0].Name
	}
	return key(name, rd.Index)
}

// keptError shows the text already in status and unwraps to the error of this read.
type keptError struct {
	text string
	err  error
}

func (e *keptError) Error() string { return e.text }
func (e *keptError) Unwrap() error { return e.err }

// ReadText is the text of the read's own error, also where SummarizeKeeping shows a kept one.
func ReadText(err error) string {
	if k, ok := err.(*keptError); ok {
		return k.err.Error()
	}
	return err.Error()
}
