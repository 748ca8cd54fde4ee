package plugin

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// confirm asks question on out and reads one answer line from in: "y" or "yes" (any case)
// means yes; anything else, an empty line or end of input means no.
func confirm(in io.Reader, out io.Writer, question string) bool {
	fmt.Fprintf(out, "%s [y/N]: ", question)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(out)
		return false
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}
