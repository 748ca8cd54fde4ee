// Command benchplot draws the reaction-time percentiles of the benchmarks' samples (the JSON
// files internal/benchreport writes to $FLEETSCALE_BENCH_SAMPLES) as one PNG: for every
// scenario, the delay at each percentile from 1 to 100 (nearest rank), on a log scale. Its
// own module, so gonum's plot never enters the project's module graph. make bench runs it:
//
//	go run . -in DIR -out docs/benchmarks-reaction.png
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// samples is internal/benchreport.Samples (kept apart: this module does not import the project).
type samples struct {
	Scenario string    `json:"scenario"`
	Order    int       `json:"order"`
	DelaysMS []float64 `json:"delaysMs"`
	Failed   int       `json:"failed"`
}

func main() {
	in := flag.String("in", "", "directory of the benchmarks' *.json samples")
	out := flag.String("out", "benchmarks-reaction.png", "PNG to write")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "benchplot:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	files, err := filepath.Glob(filepath.Join(in, "*.json"))
	if err != nil {
		return err
	}
	var all []samples
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var s samples
		if err := json.Unmarshal(data, &s); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if len(s.DelaysMS) > 0 {
			all = append(all, s)
		}
	}
	if len(all) == 0 {
		return fmt.Errorf("no samples in %s", in)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Order < all[j].Order })

	p := plot.New()
	p.Title.Text = "ConfigMap change → all members' /scale"
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "reaction time (ms, log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.X.Min, p.X.Max = 0, 100
	p.Add(plotter.NewGrid())
	for i, s := range all {
		sorted := slices.Clone(s.DelaysMS)
		slices.Sort(sorted)
		pts := make(plotter.XYs, 0, 100)
		for pct := 1; pct <= 100; pct++ {
			rank := int(math.Ceil(float64(pct) / 100 * float64(len(sorted))))
			rank = max(1, min(rank, len(sorted)))
			pts = append(pts, plotter.XY{X: float64(pct), Y: math.Max(sorted[rank-1], 0.1)})
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		line.Color = plotutil.Color(i)
		line.Width = vg.Points(2)
		label := fmt.Sprintf("%s (n=%d)", s.Scenario, len(s.DelaysMS))
		if s.Failed > 0 {
			label += fmt.Sprintf(", %d failed", s.Failed)
		}
		p.Add(line)
		p.Legend.Add(label, line)
	}
	for _, ref := range []struct {
		ms    float64
		label string
	}{{100, "100 ms"}, {1000, "1 s"}} {
		l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: ref.ms}, {X: 100, Y: ref.ms}})
		if err != nil {
			return err
		}
		l.Color = color.Gray{Y: 120}
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
		p.Add(l)
		p.Legend.Add("target "+ref.label, l)
	}
	// Headroom above the slowest curve for the legend.
	top := 1000.0
	for _, s := range all {
		top = math.Max(top, slices.Max(s.DelaysMS))
	}
	p.Y.Max = top * 6
	p.Legend.Top, p.Legend.Left = true, true
	return p.Save(9*vg.Inch, 5*vg.Inch, out)
}
