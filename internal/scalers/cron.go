package scalers

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// The cron trigger reproduces KEDA's cron_scaler.go: between start and end (in timezone) the
// metric is desiredReplicas, outside it is 0; the target is 1, so with AverageValue the
// trigger asks for desiredReplicas replicas while the window is open.
const cronType = "cron"

// cronParser accepts the five standard fields, as KEDA's does (no seconds, no descriptors such
// as @hourly; a CRON_TZ= prefix is understood by the library).
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// cronMetadata is the parsed metadata of a cron trigger.
type cronMetadata struct {
	Timezone        string
	Start           string
	End             string
	DesiredReplicas int64
	location        *time.Location
	start, end      cron.Schedule
}

// parseCronMetadata checks the metadata as KEDA does. One difference: KEDA loads the timezone at
// every read and fails there; here an unknown timezone is a metadata error, because no read
// can succeed until the spec changes.
func parseCronMetadata(values map[string]string) (cronMetadata, error) {
	m := newMetadata(values)
	var md cronMetadata
	var startOK, endOK bool
	md.Timezone, _ = m.required("timezone")
	md.Start, startOK = m.required("start")
	md.End, endOK = m.required("end")
	desired, desiredOK := m.int64("desiredReplicas")
	md.DesiredReplicas = desired

	if md.Timezone != "" {
		loc, err := time.LoadLocation(md.Timezone)
		if err != nil {
			m.problem("timezone %q is not a known IANA time zone", md.Timezone)
		}
		md.location = loc
	}
	var err error
	if startOK {
		if md.start, err = cronParser.Parse(md.Start); err != nil {
			m.problem("start %q is not a cron schedule (minute hour day-of-month month day-of-week): %v", md.Start, err)
		}
	}
	if endOK {
		if md.end, err = cronParser.Parse(md.End); err != nil {
			m.problem("end %q is not a cron schedule (minute hour day-of-month month day-of-week): %v", md.End, err)
		}
	}
	if startOK && endOK && md.Start == md.End {
		m.problem("start and end are the same schedule %q", md.Start)
	}
	if desiredOK && desired == 0 {
		m.problem("desiredReplicas must not be 0")
	}
	return md, m.err(cronType)
}

type cronScaler struct {
	md   cronMetadata
	now  func() time.Time
	spec MetricSpec
}

func newCronScaler(_ context.Context, cfg Config) (Scaler, error) {
	md, err := parseCronMetadata(cfg.Trigger.Metadata)
	metricType, problem := metricTargetType(cfg.Trigger.MetricType)
	if problem != "" {
		var merr *MetadataError
		if !errors.As(err, &merr) {
			merr = &MetadataError{TriggerType: cronType}
		}
		merr.Problems = append(merr.Problems, problem)
		err = merr
	}
	if err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &cronScaler{
		md:  md,
		now: now,
		spec: MetricSpec{
			Name:   metricName(cfg, "cron-"+md.Timezone+"-"+cronNameFormat(md.Start)+"-"+cronNameFormat(md.End)),
			Target: 1,
			Type:   metricType,
		},
	}, nil
}

// cronNameFormat spells a schedule the way KEDA puts it in the metric name ("0 */2 * * *" is
// "0xSl2xxx").
func cronNameFormat(s string) string {
	return strings.NewReplacer(" ", "", "*", "x", "/", "Sl", "?", "Qm", ",", "Cm").Replace(s)
}

func (s *cronScaler) MetricSpecs() []MetricSpec { return []MetricSpec{s.spec} }

func (s *cronScaler) Close(context.Context) error { return nil }

// GetMetricsAndActivity decides as KEDA does, from the next start and the next end: when the
// next end comes before the next start, the window is open.
func (s *cronScaler) GetMetricsAndActivity(context.Context) ([]MetricValue, bool, error) {
	now := s.now().In(s.md.location)
	nextStart, nextEnd := s.md.start.Next(now), s.md.end.Next(now)
	var within bool
	if nextStart.Before(nextEnd) {
		within = now.After(nextStart) && now.Before(nextEnd)
	} else {
		within = now.After(nextStart) || now.Before(nextEnd)
	}
	value := 0.0
	if within {
		value = float64(s.md.DesiredReplicas)
	}
	return []MetricValue{{Name: s.spec.Name, Value: asMilli(value)}}, within, nil
}

// NextChange returns the next start or end, whichever comes first.
func (s *cronScaler) NextChange(now time.Time) time.Time {
	now = now.In(s.md.location)
	next := s.md.start.Next(now)
	if end := s.md.end.Next(now); next.IsZero() || (!end.IsZero() && end.Before(next)) {
		next = end
	}
	return next
}

// Compile-time checks.
var (
	_ Scaler = (*cronScaler)(nil)
	_ Timed  = (*cronScaler)(nil)
)
