package scalers

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	autoscalingv2 "k8s.io/api/autoscaling/v2"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

// validCron is KEDA's validCronMetadata: every Thursday, all day, 10 replicas.
func validCron(changes ...string) map[string]string {
	md := map[string]string{"timezone": "Etc/UTC", "start": "0 0 * * Thu", "end": "59 23 * * Thu", "desiredReplicas": "10"}
	for i := 0; i+1 < len(changes); i += 2 {
		if changes[i+1] == "" {
			delete(md, changes[i])
			continue
		}
		md[changes[i]] = changes[i+1]
	}
	return md
}

func TestParseCronMetadata(t *testing.T) {
	tests := []struct {
		name     string
		metadata map[string]string
		wantErr  string // full message; empty means valid
	}{
		// KEDA's cases (cron_scaler_test.go).
		{name: "valid", metadata: validCron()},
		{name: "every two hours", metadata: validCron("start", "0 */2 * * *", "end", "0 1-23/2 * * *")},
		{name: "lists", metadata: validCron("start", "0,30 * * * *", "end", "15,45 * * * *")},
		{name: "range in start", metadata: validCron("timezone", "Asia/Kolkata", "start", "30-33 * * * *", "end", "45 * * * *")},
		{name: "range in end", metadata: validCron("timezone", "Asia/Kolkata", "start", "30 * * * *", "end", "45-50 * * * *")},
		{name: "CRON_TZ prefix", metadata: validCron("start", "CRON_TZ=Asia/Tokyo 0 9 * * *", "end", "CRON_TZ=Asia/Tokyo 0 17 * * *")},
		{name: "negative desiredReplicas is accepted, as in KEDA", metadata: validCron("desiredReplicas", "-1")},
		{name: "empty", metadata: map[string]string{}, wantErr: "invalid cron trigger metadata: timezone is required; start is required; end is required; desiredReplicas is required"},
		{name: "no desiredReplicas", metadata: validCron("desiredReplicas", ""), wantErr: "invalid cron trigger metadata: desiredReplicas is required"},
		{name: "no timezone", metadata: validCron("timezone", ""), wantErr: "invalid cron trigger metadata: timezone is required"},
		{name: "negative minute in start", metadata: validCron("start", "-30 * * * *"), wantErr: `invalid cron trigger metadata: start "-30 * * * *" is not a cron schedule (minute hour day-of-month month day-of-week): failed to parse int from : strconv.Atoi: parsing "": invalid syntax`},
		{name: "negative minute in end", metadata: validCron("end", "-50 * * * *"), wantErr: `invalid cron trigger metadata: end "-50 * * * *" is not a cron schedule (minute hour day-of-month month day-of-week): failed to parse int from : strconv.Atoi: parsing "": invalid syntax`},
		{name: "negative month", metadata: validCron("end", "50 * * -3 *"), wantErr: `invalid cron trigger metadata: end "50 * * -3 *" is not a cron schedule (minute hour day-of-month month day-of-week): failed to parse int from : strconv.Atoi: parsing "": invalid syntax`},
		{name: "same start and end", metadata: validCron("start", "30 * * * *", "end", "30 * * * *"), wantErr: `invalid cron trigger metadata: start and end are the same schedule "30 * * * *"`},
		{name: "seconds field", metadata: validCron("start", "0 0 0 * * Thu"), wantErr: `invalid cron trigger metadata: start "0 0 0 * * Thu" is not a cron schedule (minute hour day-of-month month day-of-week): expected exactly 5 fields, found 6: [0 0 0 * * Thu]`},
		{name: "descriptor", metadata: validCron("start", "@hourly"), wantErr: `invalid cron trigger metadata: start "@hourly" is not a cron schedule (minute hour day-of-month month day-of-week): parser does not accept descriptors: @hourly`},
		{name: "desiredReplicas 0", metadata: validCron("desiredReplicas", "0"), wantErr: "invalid cron trigger metadata: desiredReplicas must not be 0"},
		{name: "desiredReplicas 2.5", metadata: validCron("desiredReplicas", "2.5"), wantErr: `invalid cron trigger metadata: desiredReplicas "2.5" is not an integer`},
		{name: "unknown timezone", metadata: validCron("timezone", "Mars/Olympus"), wantErr: `invalid cron trigger metadata: timezone "Mars/Olympus" is not a known IANA time zone`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseCronMetadata(tt.metadata)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
				t.Fatalf("error\n got %v\nwant %s", err, tt.wantErr)
			case tt.wantErr != "" && !errors.Is(err, ErrInvalidMetadata):
				t.Fatalf("error %v does not wrap ErrInvalidMetadata", err)
			}
		})
	}
}

func TestCronMetricSpec(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		want  MetricSpec
		error string
	}{
		// KEDA's names (cron_scaler_test.go).
		{name: "thursday", cfg: Config{Trigger: v1alpha1.ScaleTriggers{Metadata: validCron()}}, want: MetricSpec{Name: "s0-cron-Etc-UTC-00xxThu-5923xxThu", Target: 1, Type: autoscalingv2.AverageValueMetricType}},
		{name: "every two hours", cfg: Config{TriggerIndex: 1, Trigger: v1alpha1.ScaleTriggers{Metadata: validCron("start", "0 */2 * * *", "end", "0 1-23/2 * * *")}}, want: MetricSpec{Name: "s1-cron-Etc-UTC-0xSl2xxx-01-23Sl2xxx", Target: 1, Type: autoscalingv2.AverageValueMetricType}},
		{name: "lists", cfg: Config{TriggerIndex: 2, Trigger: v1alpha1.ScaleTriggers{Metadata: validCron("start", "0,30 * * * *", "end", "15,45 * * * *")}}, want: MetricSpec{Name: "s2-cron-Etc-UTC-0Cm30xxxx-15Cm45xxxx", Target: 1, Type: autoscalingv2.AverageValueMetricType}},
		{name: "named, Value", cfg: Config{Trigger: v1alpha1.ScaleTriggers{Name: "office-hours", MetricType: autoscalingv2.ValueMetricType, Metadata: validCron()}}, want: MetricSpec{Name: "office-hours", Target: 1, Type: autoscalingv2.ValueMetricType}},
		{name: "Utilization", cfg: Config{Trigger: v1alpha1.ScaleTriggers{MetricType: autoscalingv2.UtilizationMetricType, Metadata: validCron()}}, error: "invalid cron trigger metadata: metricType Utilization is only for cpu and memory triggers; use Value or AverageValue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Trigger.Type = "cron"
			s, err := New(context.Background(), cfg)
			if tt.error != "" {
				if err == nil || err.Error() != tt.error || !errors.Is(err, ErrInvalidMetadata) {
					t.Fatalf("error\n got %v\nwant %s (wrapping ErrInvalidMetadata)", err, tt.error)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if diff := cmp.Diff([]MetricSpec{tt.want}, s.MetricSpecs()); diff != "" {
				t.Errorf("MetricSpecs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCronActivity(t *testing.T) {
	// 2026-01-01 is a Thursday.
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	evenHours := validCron("start", "0 */2 * * *", "end", "0 1-23/2 * * *")
	// 22:00 to 06:00 in India (UTC+5:30): spans midnight.
	night := validCron("timezone", "Asia/Kolkata", "start", "0 22 * * *", "end", "0 6 * * *", "desiredReplicas", "3")
	tests := []struct {
		name       string
		metadata   map[string]string
		now        string
		wantValue  float64
		wantActive bool
		wantNext   string
	}{
		{name: "thursday noon", metadata: validCron(), now: "2026-01-01T12:00:00Z", wantValue: 10, wantActive: true, wantNext: "2026-01-01T23:59:00Z"},
		{name: "exactly at start", metadata: validCron(), now: "2026-01-01T00:00:00Z", wantValue: 10, wantActive: true, wantNext: "2026-01-01T23:59:00Z"},
		{name: "exactly at end", metadata: validCron(), now: "2026-01-01T23:59:00Z", wantValue: 0, wantActive: false, wantNext: "2026-01-08T00:00:00Z"},
		{name: "after end", metadata: validCron(), now: "2026-01-01T23:59:30Z", wantValue: 0, wantActive: false, wantNext: "2026-01-08T00:00:00Z"},
		{name: "friday", metadata: validCron(), now: "2026-01-02T12:00:00Z", wantValue: 0, wantActive: false, wantNext: "2026-01-08T00:00:00Z"},
		{name: "even hour", metadata: evenHours, now: "2026-01-01T02:30:00Z", wantValue: 10, wantActive: true, wantNext: "2026-01-01T03:00:00Z"},
		{name: "odd hour", metadata: evenHours, now: "2026-01-01T03:30:00Z", wantValue: 0, wantActive: false, wantNext: "2026-01-01T04:00:00Z"},
		{name: "night, after midnight in India", metadata: night, now: "2026-01-01T20:00:00Z", wantValue: 3, wantActive: true, wantNext: "2026-01-02T00:30:00Z"},
		{name: "night, before midnight in India", metadata: night, now: "2026-01-01T17:00:00Z", wantValue: 3, wantActive: true, wantNext: "2026-01-02T00:30:00Z"},
		{name: "daytime in India", metadata: night, now: "2026-01-01T06:00:00Z", wantValue: 0, wantActive: false, wantNext: "2026-01-01T16:30:00Z"},
		{name: "negative desiredReplicas reads 0 but is active", metadata: validCron("desiredReplicas", "-2"), now: "2026-01-01T12:00:00Z", wantValue: 0, wantActive: true, wantNext: "2026-01-01T23:59:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := at(tt.now)
			s, err := New(context.Background(), Config{
				Trigger: v1alpha1.ScaleTriggers{Type: "cron", Metadata: tt.metadata},
				Now:     func() time.Time { return now },
			})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			values, active, err := s.GetMetricsAndActivity(context.Background())
			if err != nil {
				t.Fatalf("GetMetricsAndActivity: %v", err)
			}
			if diff := cmp.Diff([]MetricValue{{Name: s.MetricSpecs()[0].Name, Value: tt.wantValue}}, values); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
			if active != tt.wantActive {
				t.Errorf("active = %v, want %v", active, tt.wantActive)
			}
			timed, ok := s.(Timed)
			if !ok {
				t.Fatal("cron scaler does not implement Timed")
			}
			if next := timed.NextChange(now); !next.Equal(at(tt.wantNext)) {
				t.Errorf("NextChange = %v, want %v", next.UTC(), tt.wantNext)
			}
		})
	}
}
