//go:build tools

// Package tools pins the Kubernetes control-plane commands that hack/k8s-bins.sh builds.
// It lives in its own module so k8s.io/kubernetes never enters the project's module graph.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
