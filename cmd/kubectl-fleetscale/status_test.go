package main

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fleetv1 "github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/plugin"
)

// `kubectl fleetscale status` against a real hub: the object is found by kind or by name
// alone, in the namespace of -n, and rendered member by member.
func TestStatusCommand(t *testing.T) {
	env := envFor(t)
	hub := env.Hub.KubeconfigPath
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	ctx := context.Background()
	c, err := client.New(env.Hub.Config, client.Options{Scheme: plugin.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "status-"}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	dso := &fleetv1.DistributedScaledObject{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "nginx"},
		Spec: fleetv1.DistributedScaledObjectSpec{ScaledObjectSpec: fleetv1.ScaledObjectSpec{
			ScaleTargetRef: &fleetv1.ScaleTarget{Name: "nginx", Kind: "Deployment"}, MaxReplicaCount: ptr.To[int32](10),
			Triggers: []fleetv1.ScaleTriggers{{Type: "kubernetes-resource", Metadata: map[string]string{
				"resourceKind": "ConfigMap", "resourceName": "mock-metric", "key": "metric-value", "targetValue": "5"}}},
		}},
	}
	if err := c.Create(ctx, dso); err != nil {
		t.Fatal(err)
	}
	dso.Status = fleetv1.DistributedScaledObjectStatus{
		TotalCurrentReplicas: 10, TotalDesiredReplicas: 10, MembersHealthyCount: 2, MembersTotalCount: 3,
		Conditions: []metav1.Condition{{Type: "Ready", Status: "True", Reason: "Ready", LastTransitionTime: metav1.Now()}},
		MemberClusterStatuses: map[string]fleetv1.ScaledMemberStatus{
			"k3d-member-1": {CurrentReplicas: 5, DesiredReplicas: 5, State: "Ready"},
			"k3d-member-2": {CurrentReplicas: 5, DesiredReplicas: 5, State: "Ready"},
			"k3d-member-3": {CurrentReplicas: 3, State: "Excluded", Excluded: true, Description: "member unreachable"},
		},
	}
	if err := c.Status().Update(ctx, dso); err != nil {
		t.Fatal(err)
	}
	dsj := &fleetv1.DistributedScaledJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "dsj-example"}}
	dsj.Spec.ScaledJobSpec.JobTargetRef = &batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}
	dsj.Spec.ScaledJobSpec.Triggers = dso.Spec.ScaledObjectSpec.Triggers
	if err := c.Create(ctx, dsj); err != nil {
		t.Fatal(err)
	}

	for _, args := range [][]string{
		{"status", "dso", "nginx", "-n", ns.Name, "--keda-kubeconfig", hub},
		{"status", "nginx", "--namespace", ns.Name, "--kubeconfig", hub},
		{"status", "DistributedScaledObject", "nginx", "-n", ns.Name, "--keda-kubeconfig", hub},
	} {
		r := kfs(t, "", false, args...)
		if r.code != 0 || r.errOut != "" {
			t.Fatalf("%q: %+v", args, r)
		}
		for _, w := range []string{"DistributedScaledObject " + ns.Name + "/nginx", "replicas 10/10   members 2/3 healthy   Ready",
			"k3d-member-1  Ready       ##########", "k3d-member-3  Excluded    ------", "3/0  excluded", "member unreachable"} {
			if !strings.Contains(r.out, w) {
				t.Errorf("%q: output lacks %q:\n%s", args, w, r.out)
			}
		}
		if strings.ContainsRune(r.out, '\x1b') {
			t.Errorf("escape sequences without a terminal: %q", r.out)
		}
	}

	r := kfs(t, "", false, "status", "dsj-example", "-n", ns.Name, "--keda-kubeconfig", hub)
	if r.code != 0 || !strings.Contains(r.out, "DistributedScaledJob "+ns.Name+"/dsj-example") || !strings.Contains(r.out, "no status yet") {
		t.Errorf("DSJ by name: %+v", r)
	}
	expectFailure(t, kfs(t, "", false, "status", "dsj", "nginx", "-n", ns.Name, "--keda-kubeconfig", hub),
		`no DistributedScaledJob "nginx" in namespace `+ns.Name+" of the hub at "+env.Hub.APIURL)
	expectFailure(t, kfs(t, "", false, "status", "nginx", "--keda-kubeconfig", hub),
		`no DistributedScaledObject or DistributedScaledJob "nginx" in namespace default`)
	expectFailure(t, kfs(t, "", false, "status", "--keda-kubeconfig", hub), "status takes NAME or KIND NAME")
	expectFailure(t, kfs(t, "", false, "status", "pods", "x", "--keda-kubeconfig", hub), `unknown kind "pods"`)

	// -w ends cleanly when its context does (Ctrl-C).
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan result, 1)
	out := &syncBuffer{}
	go func() {
		code := run(wctx, []string{"status", "dso", "nginx", "-w", "-n", ns.Name, "--keda-kubeconfig", hub, "--interval", "100ms"},
			streams{In: strings.NewReader(""), Out: out, ErrOut: out})
		done <- result{code: code}
	}()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), "k3d-member-3"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("status -w printed nothing in 30s: %q", out.String())
		}
	}
	cancel()
	if r := <-done; r.code != 0 {
		t.Errorf("status -w after cancel: exit %d", r.code)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
