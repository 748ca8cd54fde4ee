package demo

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// width is the narration's width.
const width = 80

// printer writes the narration. On a terminal it uses colours and redraws the live view in
// place; otherwise it writes plain lines that read in a log.
type printer struct {
	w         io.Writer
	term      bool
	liveLines int // lines of the live view currently on screen (terminal only)
}

const (
	escBold  = "\x1b[1m"
	escDim   = "\x1b[2m"
	escCyan  = "\x1b[36m"
	escGreen = "\x1b[32m"
	escRed   = "\x1b[31m"
	escReset = "\x1b[0m"
)

func (p *printer) style(esc, s string) string {
	if !p.term {
		return s
	}
	return esc + s + escReset
}

func (p *printer) raw(s string) {
	p.commitLive()
	fmt.Fprint(p.w, s)
}

func (p *printer) say(s string) { p.raw(s + "\n") }

func (p *printer) blank() { p.raw("\n") }

// para writes prefix+text wrapped to the width, continuation lines indented by two.
func (p *printer) para(prefix, text string) {
	if text == "" {
		return
	}
	lines := wrap(prefix+text, width, "  ")
	if p.term && prefix != "" {
		lines[0] = p.style(escBold, prefix) + strings.TrimPrefix(lines[0], prefix)
	}
	p.say(strings.Join(lines, "\n"))
}

func (p *printer) heading(s Step) {
	title := fmt.Sprintf("== Step %s of 9: %s ", s.ID, s.Title)
	if n := width - len([]rune(title)); n > 0 {
		title += strings.Repeat("=", n)
	}
	p.blank()
	p.say(p.style(escBold, title))
}

// command shows a command as it runs: "$ " then the command, a here-document indented.
func (p *printer) command(c Command) {
	lines := strings.Split(c.String(), "\n")
	for i, l := range lines {
		prefix := "  "
		if i == 0 {
			prefix = "$ "
		}
		lines[i] = p.style(escBold+escCyan, prefix+l)
	}
	p.say(strings.Join(lines, "\n"))
}

// output shows one line of a command's output.
func (p *printer) output(line string) { p.say(p.style(escDim, "    "+line)) }

func (p *printer) expect(what string, timeout time.Duration) {
	p.say(fmt.Sprintf("Expect: %s (waiting up to %s)", what, timeout))
}

func (p *printer) ok(what string, after time.Duration) {
	mark := "OK"
	if p.term {
		mark = p.style(escGreen, "✓")
	}
	p.say(fmt.Sprintf("%s %s (after %s)", mark, what, after.Round(time.Second)))
}

func (p *printer) stepDone(s Step, took time.Duration) {
	p.say(fmt.Sprintf("Step %s done in %s.", s.ID, took.Round(time.Second)))
}

// live replaces the live view on screen with text (terminal only).
func (p *printer) live(text string) {
	if p.liveLines > 0 {
		// Up to the first line of the view, then clear to the end of the screen.
		fmt.Fprintf(p.w, "\x1b[%dF\x1b[J", p.liveLines)
	}
	fmt.Fprint(p.w, text)
	p.liveLines = strings.Count(text, "\n")
}

// commitLive leaves the live view on screen as it is: what follows is printed below it.
func (p *printer) commitLive() { p.liveLines = 0 }

// wrap breaks text into lines of at most w columns at blanks; continuation lines start
// with indent. Words longer than a line stay whole.
func wrap(text string, w int, indent string) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		switch {
		case line == "":
			line = word
		case len([]rune(line))+1+len([]rune(word)) <= w:
			line += " " + word
		default:
			lines = append(lines, line)
			line = indent + word
		}
	}
	return append(lines, line)
}
