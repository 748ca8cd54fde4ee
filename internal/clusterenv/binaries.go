package clusterenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BinDirEnv names the environment variable that points at the control-plane binaries. The
// Makefile exports it; without it the harness asks hack/k8s-bins.sh where its cache is.
const BinDirEnv = "FLEETSCALE_K8S_BINS"

// The files the harness runs or reads from the binary directory.
var requiredBinaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok"}

// The kwok v0.8.0 stages used as shipped. Job pods get the harness's own completion stage
// (stages/job-pod-complete.yaml) instead of pod/fast/pod-complete.yaml, which has no delay.
var shippedStages = []string{
	"kwok-stages/node/fast/node-initialize.yaml",
	"kwok-stages/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
	"kwok-stages/pod/fast/pod-ready.yaml",
	"kwok-stages/pod/fast/pod-delete.yaml",
}

// FindBinDir returns the directory holding kube-apiserver, kube-controller-manager,
// kube-scheduler, kubectl, etcd, kwok and the kwok stage manifests: $FLEETSCALE_K8S_BINS, or
// else what `hack/k8s-bins.sh --print-dir` prints, run from the repository root.
func FindBinDir() (string, error) {
	dir := os.Getenv(BinDirEnv)
	if dir == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", fmt.Errorf("%s is not set and %w", BinDirEnv, err)
		}
		out, err := exec.Command(filepath.Join(root, "hack", "k8s-bins.sh"), "--print-dir").Output()
		if err != nil {
			return "", fmt.Errorf("%s is not set and hack/k8s-bins.sh --print-dir failed: %w", BinDirEnv, err)
		}
		dir = strings.TrimSpace(string(out))
	}
	return dir, CheckBinDir(dir)
}

// CheckBinDir reports which of the needed files are missing from dir.
func CheckBinDir(dir string) error {
	var missing []string
	for _, f := range append(append([]string{}, requiredBinaries...), shippedStages...) {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("control-plane binaries not found in %s (missing %s): run make k8s-bins",
			dir, strings.Join(missing, ", "))
	}
	return nil
}

// RepoBinary is bin/name of the repository (what make build writes), or an error when it is
// not there: the packages that run the real binaries need it built first.
func RepoBinary(name string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	path := filepath.Join(root, "bin", name)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%w (make test and make build build it)", err)
	}
	return path, nil
}

// RepoRoot finds the repository: the nearest directory holding the main module's go.mod
// (not a nested module's, such as test/helm's) above the working directory, or else above
// the running executable (bin/fleetscale-dev run from elsewhere).
func RepoRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			starts = append(starts, filepath.Dir(exe))
		}
	}
	for _, dir := range starts {
		for {
			if isRepoRoot(dir) {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("no go.mod found above the working directory or the executable (run from the fleetscale repository)")
}

// mainModule is the repository's go.mod module line.
const mainModule = "module github.com/fleetscale/fleetscale"

func isRepoRoot(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == mainModule {
			return true
		}
	}
	return false
}
