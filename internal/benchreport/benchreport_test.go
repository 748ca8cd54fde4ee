package benchreport

import (
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 40; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	s := Summarize(ds)
	if s.P50 != 20*time.Millisecond || s.P90 != 36*time.Millisecond || s.P99 != 40*time.Millisecond || s.Max != 40*time.Millisecond {
		t.Errorf("p50 %v p90 %v p99 %v max %v; want 20, 36, 40, 40 ms", s.P50, s.P90, s.P99, s.Max)
	}
	if one := Summarize([]time.Duration{7}); one.P50 != 7 || one.P99 != 7 {
		t.Errorf("one sample: %+v", one)
	}
}

func TestReplaceSection(t *testing.T) {
	doc := "# Benchmarks\n"
	doc = ReplaceSection(doc, "a", "A1")
	doc = ReplaceSection(doc, "b", "B1\n")
	doc = ReplaceSection(doc, "a", "A2")
	want := "# Benchmarks\n\n<!-- BEGIN a -->\nA2\n<!-- END a -->\n\n<!-- BEGIN b -->\nB1\n<!-- END b -->\n"
	if doc != want {
		t.Errorf("got\n%q\nwant\n%q", doc, want)
	}
}

func TestDemoteSkipsCode(t *testing.T) {
	got := Demote("# T\ntext\n```yaml\n# comment\n```\n## S")
	want := "## T\ntext\n```yaml\n# comment\n```\n### S"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
