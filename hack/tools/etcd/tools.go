//go:build tools

// Package tools pins etcd's server command (its module root is package main) for hack/k8s-bins.sh.
package tools

import _ "go.etcd.io/etcd/server/v3"
