// Package clusterenv runs real Kubernetes control planes on 127.0.0.1 for tests and for
// fleetscale-dev: one etcd shared by a hub and N member clusters, each an apiserver under its
// own etcd prefix, and in a "full" cluster also kube-controller-manager, kube-scheduler and
// kwok with one fake Node, so Deployments become Available and Jobs Complete without a
// kubelet or containers.
//
// A member can be stopped and restarted with its data (Cluster.Stop, Cluster.Start) or hung
// (Cluster.Hang, Cluster.Resume), which is how tests produce member outages. The shared etcd
// can be stopped and restarted under all of them (Env.StopEtcd, Env.StartEtcd, RestartEtcd).
//
// Every process is started in its own process group and is stopped by PID. Processes started
// for tests (StartForTest, Shared) also get SIGKILL as parent-death signal, so nothing
// survives a test binary killed by a timeout. With Options.Detach (fleetscale-dev up) they
// run in their own session instead, recorded in Dir/state.json for Load.
//
// The binaries come from $FLEETSCALE_K8S_BINS or hack/k8s-bins.sh (make k8s-bins).
package clusterenv
