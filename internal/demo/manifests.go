package demo

import (
	"embed"
	"fmt"
)

// manifests are the walkthrough's manifests, verbatim after a first comment line; embedded,
// so the demo binary needs no source tree.
//
//go:embed manifests/*.yaml
var manifests embed.FS

// Manifest returns a walkthrough manifest as shipped (its first line a comment).
func Manifest(name string) (string, error) {
	data, err := manifests.ReadFile("manifests/" + name)
	if err != nil {
		return "", fmt.Errorf("walkthrough manifest: %w", err)
	}
	return string(data), nil
}
