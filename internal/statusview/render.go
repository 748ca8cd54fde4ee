package statusview

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// DefaultWidth is the width Render fits when Options.Width is 0.
const DefaultWidth = 80

// maxBarWidth is the widest a member's bar gets: with maxReplicaCount 10, two columns a replica.
const maxBarWidth = 20

// Options choose how Render draws.
type Options struct {
	// Width is the most columns a line may take (DefaultWidth when 0).
	Width int
	// Color adds ANSI colours; only for terminals.
	Color bool
	// Unicode draws bars with block characters; else with ASCII (#, +, -), which reads in
	// any log.
	Unicode bool
}

// glyphs are the characters of bars and truncation.
type glyphs struct {
	full, add, remove, stuck, ellipsis string
}

var (
	asciiGlyphs   = glyphs{full: "#", add: "+", remove: "-", stuck: "!", ellipsis: "..."}
	unicodeGlyphs = glyphs{full: "█", add: "░", remove: "▒", stuck: "▚", ellipsis: "…"}
)

type style int

const (
	plain style = iota
	bold
	dim
	green
	yellow
	red
	cyan
)

var ansi = map[style]string{bold: "\x1b[1m", dim: "\x1b[2m", green: "\x1b[32m", yellow: "\x1b[33m", red: "\x1b[31m", cyan: "\x1b[36m"}

// seg is a run of text in one style; a line is a sequence of them. Widths count runes: every
// character Render emits takes one column.
type seg struct {
	text string
	st   style
}

type line []seg

func (l line) width() int {
	n := 0
	for _, s := range l {
		n += utf8.RuneCountInString(s.text)
	}
	return n
}

// fit cuts the line to w columns, ending it with the ellipsis when something was cut.
func (l line) fit(w int, ellipsis string) line {
	if l.width() <= w {
		return l
	}
	keep := w - utf8.RuneCountInString(ellipsis)
	if keep < 0 {
		keep, ellipsis = w, ""
	}
	var out line
	for _, s := range l {
		n := utf8.RuneCountInString(s.text)
		if n <= keep {
			out = append(out, s)
			keep -= n
			continue
		}
		out = append(out, seg{string([]rune(s.text)[:keep]), s.st})
		break
	}
	// Trailing blanks before the ellipsis only look like a gap.
	for len(out) > 0 {
		last := &out[len(out)-1]
		last.text = strings.TrimRight(last.text, " ")
		if last.text != "" {
			break
		}
		out = out[:len(out)-1]
	}
	return append(out, seg{ellipsis, dim})
}

func (l line) render(color bool) string {
	var b strings.Builder
	for _, s := range l {
		if color && s.st != plain && s.text != "" {
			b.WriteString(ansi[s.st])
			b.WriteString(s.text)
			b.WriteString("\x1b[0m")
		} else {
			b.WriteString(s.text)
		}
	}
	return strings.TrimRight(b.String(), " ")
}

func pad(s string, w int) string {
	if n := utf8.RuneCountInString(s); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}

func padLeft(s string, w int) string {
	if n := utf8.RuneCountInString(s); n < w {
		return strings.Repeat(" ", w-n) + s
	}
	return s
}

// cut shortens s to w columns with the ellipsis.
func cut(s string, w int, ellipsis string) string {
	rs := []rune(s)
	if len(rs) <= w {
		return s
	}
	keep := max(w-utf8.RuneCountInString(ellipsis), 0)
	return string(rs[:keep]) + ellipsis
}

// Render draws the view. Every line fits o.Width; the text ends with a newline.
func Render(v View, o Options) string {
	r := renderer{v: v, width: o.Width, g: asciiGlyphs}
	if r.width <= 0 {
		r.width = DefaultWidth
	}
	if o.Unicode {
		r.g = unicodeGlyphs
	}
	r.draw()
	var b strings.Builder
	for _, l := range r.lines {
		b.WriteString(l.fit(r.width, r.g.ellipsis).render(o.Color))
		b.WriteByte('\n')
	}
	return b.String()
}

type renderer struct {
	v     View
	width int
	g     glyphs
	lines []line

	nameW, numW, barW int
	scale             int32
}

func (r *renderer) add(segs ...seg) { r.lines = append(r.lines, line(segs)) }

func (r *renderer) draw() {
	v := r.v
	r.add(seg{string(v.Kind) + " ", bold}, seg{v.Namespace + "/" + v.Name, bold})
	if !v.HasStatus {
		r.add(seg{"  no status yet: is fleetscale-controller running and watching this namespace?", yellow})
		return
	}
	r.summary()
	r.conditionDetail()
	for _, t := range v.Triggers {
		if t.Error != "" {
			r.add(seg{"  trigger " + t.Name + ": ", plain}, seg{"error: " + oneLine(t.Error), red})
			continue
		}
		s := fmt.Sprintf("  trigger %s: value %s, target %s", t.Name, orDash(t.Value), orDash(t.Target))
		if t.Active {
			s += ", active"
		}
		r.add(seg{s, plain})
	}
	if len(v.Rows) == 0 {
		r.add(seg{"  no members", yellow})
		return
	}
	r.layout()
	unit := "REPLICAS current/desired"
	if v.Kind == KindDSJ {
		unit = "JOBS"
	}
	r.add(seg{"  " + pad("MEMBER", r.nameW) + "  " + pad("STATE", stateW) + "  " + unit, bold})
	for _, row := range v.Rows {
		r.row(row)
	}
	r.legend()
}

// stateW fits the longest state, "Recovering".
const stateW = 10

func (r *renderer) summary() {
	v := r.v
	var segs []seg
	if v.Kind == KindDSJ {
		segs = append(segs, seg{fmt.Sprintf("  jobs %d/%d running/desired", v.Current, v.Desired), plain})
		if v.Pending > 0 {
			segs = append(segs, seg{fmt.Sprintf(", %d pending", v.Pending), yellow})
		}
	} else {
		st := plain
		if v.Current != v.Desired {
			st = yellow
		}
		segs = append(segs, seg{"  replicas ", plain}, seg{fmt.Sprintf("%d/%d", v.Current, v.Desired), st})
	}
	mst := plain
	if v.Healthy < v.Members {
		mst = yellow
	}
	segs = append(segs, seg{"   members ", plain}, seg{fmt.Sprintf("%d/%d", v.Healthy, v.Members), mst}, seg{" healthy", plain})
	var conds []seg
	for _, c := range v.Conditions {
		conds = append(conds, seg{"   ", plain}, conditionSeg(c))
	}
	if line(append(segs, conds...)).width() <= r.width {
		r.add(append(segs, conds...)...)
		return
	}
	r.add(segs...)
	if len(conds) > 0 {
		conds[0].text = "  "
		r.add(conds...)
	}
}

func conditionSeg(c Condition) seg {
	switch {
	case c.Type == "Ready" && c.Status == "True":
		return seg{"Ready", green}
	case c.Type == "Ready" && c.Status == "False":
		return seg{"not Ready", red}
	case c.Type == "Active" && c.Status == "True":
		return seg{"Active", green}
	case c.Type == "Active" && c.Status == "False":
		return seg{"inactive", dim}
	case c.Status == "True":
		return seg{c.Type, yellow}
	}
	return seg{c.Type + "?", yellow}
}

// conditionDetail says why the object is not Ready.
func (r *renderer) conditionDetail() {
	for _, c := range r.v.Conditions {
		if c.Type != "Ready" || c.Status == "True" || (c.Reason == "" && c.Message == "") {
			continue
		}
		s := "  " + c.Reason
		if c.Message != "" {
			s += ": " + oneLine(c.Message)
		}
		r.add(seg{s, yellow})
	}
}

// layout sizes the columns: names as long as the longest (6 to 24), the bar as wide as fits
// next to the longest tail (at most maxBarWidth, at least 5), and the scale so that the
// largest value fills at most the bar.
func (r *renderer) layout() {
	r.nameW = len("MEMBER")
	r.numW = len("10/10")
	tailW := 0
	most := r.v.Max
	for _, row := range r.v.Rows {
		r.nameW = max(r.nameW, utf8.RuneCountInString(row.Name))
		r.numW = max(r.numW, len(fmt.Sprintf("%d/%d", row.Current, row.Desired)))
		most = max(most, row.Current, row.Desired, row.Running+row.Pending+row.Stuck)
		if r.v.Kind == KindDSJ {
			tailW = max(tailW, utf8.RuneCountInString(jobTail(row)))
		}
	}
	r.nameW = min(r.nameW, 24)
	if r.v.Kind != KindDSJ {
		tailW = r.numW + len("  excluded")
	}
	// indent, name, state, bar and tail, two blanks between each.
	fixed := 2 + r.nameW + 2 + stateW + 2 + 2 + tailW
	r.barW = min(maxBarWidth, max(5, r.width-fixed))
	r.scale = max(most, 1)
}

// jobTail is what a DSJ row says after its bar.
func jobTail(row Row) string {
	s := fmt.Sprintf("%d running", row.Running)
	if row.Pending > 0 {
		s += fmt.Sprintf(", %d pending", row.Pending)
	}
	if row.Stuck > 0 {
		s += fmt.Sprintf(", %d stuck", row.Stuck)
	}
	switch {
	case row.HardTainted:
		s += "  hard-tainted"
	case row.SoftTainted:
		s += "  soft-tainted"
	}
	return s
}

// cells is how many columns n of the scale take: two a unit when the whole scale fits twice,
// one when it fits once, else proportionally (rounded up, so nothing non-zero vanishes).
func (r *renderer) cells(n int32) int {
	switch {
	case n <= 0:
		return 0
	case int(r.scale)*2 <= r.barW:
		return int(n) * 2
	case int(r.scale) <= r.barW:
		return int(n)
	}
	return int((int64(n)*int64(r.barW) + int64(r.scale) - 1) / int64(r.scale))
}

type part struct {
	n     int32
	glyph string
	st    style
}

// bar draws the parts one after the other, scaled as a whole so that rounding never makes
// the bar longer than the total it stands for.
func (r *renderer) bar(parts ...part) []seg {
	var segs []seg
	var sum int32
	drawn := 0
	for _, p := range parts {
		if p.n <= 0 {
			continue
		}
		sum += p.n
		c := r.cells(sum)
		if c > drawn {
			segs = append(segs, seg{strings.Repeat(p.glyph, c-drawn), p.st})
			drawn = c
		}
	}
	return append(segs, seg{strings.Repeat(" ", r.barW-drawn), plain})
}

func stateStyle(state string) style {
	switch state {
	case "Ready":
		return green
	case "Unhealthy", "NotReady":
		return yellow
	case "Excluded":
		return red
	case "Recovering":
		return cyan
	}
	return plain
}

func (r *renderer) row(row Row) {
	state := row.State
	if state == "" {
		state = "-"
	}
	segs := []seg{
		{"  " + pad(cut(row.Name, r.nameW, r.g.ellipsis), r.nameW) + "  ", plain},
		{pad(state, stateW), stateStyle(row.State)},
		{"  ", plain},
	}
	if r.v.Kind == KindDSJ {
		segs = append(segs, r.bar(
			part{row.Running, r.g.full, plain},
			part{row.Pending, r.g.add, yellow},
			part{row.Stuck, r.g.stuck, red})...)
		counts, taint, _ := strings.Cut(jobTail(row), "  ")
		segs = append(segs, seg{"  " + counts, plain})
		switch taint {
		case "hard-tainted":
			segs = append(segs, seg{"  ", plain}, seg{taint, red})
		case "soft-tainted":
			segs = append(segs, seg{"  ", plain}, seg{taint, yellow})
		}
	} else {
		common := min(row.Current, row.Desired)
		segs = append(segs, r.bar(
			part{common, r.g.full, plain},
			part{row.Desired - common, r.g.add, yellow},
			part{row.Current - common, r.g.remove, red})...)
		segs = append(segs, seg{"  " + padLeft(fmt.Sprintf("%d/%d", row.Current, row.Desired), r.numW), plain})
		if row.Excluded {
			segs = append(segs, seg{"  ", plain}, seg{"excluded", red})
		}
	}
	r.add(segs...)
	if d := oneLine(row.Description); d != "" && d != "healthy" {
		r.add(seg{strings.Repeat(" ", 2+r.nameW+2) + d, dim})
	}
}

func (r *renderer) legend() {
	unit := "replica"
	if r.v.Kind == KindDSJ {
		unit = "job"
	}
	per := ""
	switch {
	case int(r.scale)*2 <= r.barW:
		per = fmt.Sprintf("1 %s = 2 columns", unit)
	case int(r.scale) <= r.barW:
		per = fmt.Sprintf("1 %s = 1 column", unit)
	default:
		per = fmt.Sprintf("%d %ss = %d columns", r.scale, unit, r.barW)
	}
	if r.v.Kind == KindDSJ {
		r.add(seg{fmt.Sprintf("  %s running  %s pending  %s stuck  (%s)", r.g.full, r.g.add, r.g.stuck, per), dim})
		return
	}
	r.add(seg{fmt.Sprintf("  %s current  %s to add  %s to remove  (%s)", r.g.full, r.g.add, r.g.remove, per), dim})
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
