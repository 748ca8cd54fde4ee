package plugin

import (
	"bytes"
	"strings"
	"testing"
)

func TestConfirm(t *testing.T) {
	for in, want := range map[string]bool{"y\n": true, "YES\n": true, " yes ": true, "n\n": false, "\n": false, "": false, "maybe\n": false} {
		var out bytes.Buffer
		if got := confirm(strings.NewReader(in), &out, "Replace?"); got != want {
			t.Errorf("answer %q: got %v", in, got)
		}
		if !strings.HasPrefix(out.String(), "Replace? [y/N]: ") {
			t.Errorf("question %q", out.String())
		}
	}
}
