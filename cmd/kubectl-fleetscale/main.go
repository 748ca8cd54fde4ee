// Command kubectl-fleetscale is the kubectl plugin of fleetscale, used as
// `kubectl fleetscale mc setup-member|list-members|delete-member`. It is a thin cobra layer
// over internal/plugin: it parses flags, loads the kubeconfigs and prints errors, one line
// each, on stderr.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/term"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], streams{
		In:          os.Stdin,
		Out:         os.Stdout,
		ErrOut:      os.Stderr,
		Interactive: term.IsTerminal(int(os.Stdin.Fd())),
	})
	stop()
	os.Exit(code)
}

// streams are the command's standard streams. Interactive says whether In is a terminal
// where someone can answer a question.
type streams struct {
	In          io.Reader
	Out, ErrOut io.Writer
	Interactive bool
}

// run executes the command line and returns the exit code: 0, or 1 after printing the error
// as one line "error: ..." (no usage dump, no stack trace).
func run(ctx context.Context, args []string, s streams) int {
	root := newRootCommand(s)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	msg := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
	if isUsageError(err) {
		msg += fmt.Sprintf(" (see '%s --help')", cmd.CommandPath())
	}
	fmt.Fprintf(s.ErrOut, "error: %s\n", msg)
	return 1
}
