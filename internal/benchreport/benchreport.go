// Package benchreport is what the benchmarks share to report: nearest-rank percentiles, the
// machine they ran on, the samples file the plot tool (hack/tools/benchplot) reads, and
// docs/benchmarks.md, where every benchmark owns one section between markers and rewrites
// only its own.
package benchreport

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SamplesEnv names the directory the benchmarks write their samples to (make bench sets
// it; unset: none are written). One JSON file per scenario.
const SamplesEnv = "FLEETSCALE_BENCH_SAMPLES"

// Samples are one scenario's reaction times, as the plot tool reads them.
type Samples struct {
	// Scenario names the curve in the plot.
	Scenario string `json:"scenario"`
	// Order sorts the curves (ascending).
	Order int `json:"order"`
	// DelaysMS are the reaction times in milliseconds, in the order they were measured.
	DelaysMS []float64 `json:"delaysMs"`
	// Failed counts changes that did not arrive within the benchmark's bound.
	Failed int `json:"failed,omitempty"`
}

// WriteSamples writes s to $FLEETSCALE_BENCH_SAMPLES/<file>.json when that variable is set.
func WriteSamples(file string, s Samples) error {
	dir := os.Getenv(SamplesEnv)
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, file+".json"), data, 0o644)
}

// Millis converts delays for Samples.
func Millis(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d.Microseconds()) / 1000
	}
	return out
}

// Stats are nearest-rank percentiles of a set of delays.
type Stats struct {
	N                       int
	P50, P90, P99, Max, Min time.Duration
	Mean                    time.Duration
}

// Summarize computes Stats (zero for no delays). Nearest rank: p99 of 40 is the 40th smallest.
func Summarize(ds []time.Duration) Stats {
	if len(ds) == 0 {
		return Stats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return Stats{N: len(s), P50: Percentile(s, 50), P90: Percentile(s, 90), P99: Percentile(s, 99),
		Max: s[len(s)-1], Min: s[0], Mean: sum / time.Duration(len(s))}
}

// Percentile is the nearest-rank p-th percentile of sorted (non-empty).
func Percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(p/100*float64(len(sorted)) + 0.999999)
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

// MS formats a delay for a table: milliseconds below 10 s, seconds above.
func MS(d time.Duration) string {
	if d >= 10*time.Second {
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

// Machine describes where a benchmark ran.
func Machine() string {
	cpu, kernel, mem := "?", "?", 0.0
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(data))
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
				mem = kb / (1 << 20)
			}
		}
	}
	return fmt.Sprintf("%s, %s; %d cores, %.0f GiB, Linux %s, %s; load average at the start %s",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), cpu, runtime.NumCPU(), mem, kernel, runtime.Version(), LoadAverage())
}

// LoadAverage is the 1, 5 and 15 minute load average.
func LoadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// DocPath is docs/benchmarks.md under the repository root.
func DocPath(root string) string { return filepath.Join(root, "docs", "benchmarks.md") }

// WriteSection replaces the section name of the Markdown file at path (between
// "<!-- BEGIN name -->" and "<!-- END name -->") with body, appending it when absent and
// creating the file with header when it does not exist.
func WriteSection(path, header, name, body string) error {
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	doc := string(data)
	if doc == "" {
		doc = header
	}
	return os.WriteFile(path, []byte(ReplaceSection(doc, name, body)), 0o644)
}

// ReplaceSection is WriteSection on a string.
func ReplaceSection(doc, name, body string) string {
	begin, end := "<!-- BEGIN "+name+" -->\n", "<!-- END "+name+" -->\n"
	section := begin + strings.TrimRight(body, "\n") + "\n" + end
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	if i < 0 || j < i {
		return strings.TrimRight(doc, "\n") + "\n\n" + section
	}
	return doc[:i] + section + doc[j+len(end):]
}

// Demote adds one # to every Markdown heading of md outside code blocks, so a document can
// become a section of another.
func Demote(md string) string {
	lines := strings.Split(md, "\n")
	fence := false
	for i, l := range lines {
		if strings.HasPrefix(l, "```") {
			fence = !fence
		}
		if !fence && strings.HasPrefix(l, "#") {
			lines[i] = "#" + l
		}
	}
	return strings.Join(lines, "\n")
}
