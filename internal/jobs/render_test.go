package jobs

import (
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

var testID = Identity{UID: "0b9f4f1e-4a43-4d47-9a6a-6f3c1c7f2a10", Namespace: "team-a", Name: "dsj-example"}

func busybox() *batchv1.JobSpec {
	return &batchv1.JobSpec{
		BackoffLimit: ptr.To[int32](0),
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "worker"}},
			Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "busybox", Image: "busybox"}},
			},
		},
	}
}

func TestRender(t *testing.T) {
	spec := busybox()
	job, hash := Render(testID, spec, nil, "team-b")

	if job.Namespace != "team-b" || job.GenerateName != "dsj-example-" || job.Name != "" {
		t.Errorf("namespace %q, generateName %q, name %q", job.Namespace, job.GenerateName, job.Name)
	}
	if len(hash) != 10 {
		t.Errorf("hash %q: want 10 hex digits", hash)
	}
	wantPod := map[string]string{"app": "worker", LabelDSJUID: string(testID.UID), LabelDSJName: "dsj-example", LabelTemplateHash: hash}
	if !labels.Equals(job.Spec.Template.Labels, wantPod) {
		t.Errorf("pod template labels %v, want %v", job.Spec.Template.Labels, wantPod)
	}
	wantJob := map[string]string{"app": "worker", LabelDSJUID: string(testID.UID), LabelDSJName: "dsj-example", LabelTemplateHash: hash, LabelManagedBy: ManagedBy}
	if !labels.Equals(job.Labels, wantJob) {
		t.Errorf("job labels %v, want %v", job.Labels, wantJob)
	}
	if got := job.Annotations[AnnotationDSJ]; got != "team-a/dsj-example" {
		t.Errorf("annotation %s = %q", AnnotationDSJ, got)
	}
	if !Selector(testID.UID).Matches(labels.Set(job.Spec.Template.Labels)) || !Selector(testID.UID).Matches(labels.Set(job.Labels)) {
		t.Errorf("Selector does not match the Job or its pods")
	}
	if spec.Template.Labels[LabelDSJUID] != "" || len(spec.Template.Labels) != 1 {
		t.Errorf("Render modified the spec it was given: %v", spec.Template.Labels)
	}
}

func TestRenderHash(t *testing.T) {
	_, base := Render(testID, busybox(), nil, "ns")
	tests := []struct {
		name   string
		id     Identity
		mutate func(*batchv1.JobSpec)
		ov     *v1alpha1.PodOverrides
		ns     string
		same   bool
	}{
		{name: "same spec again", id: testID, mutate: func(*batchv1.JobSpec) {}, ns: "ns", same: true},
		{name: "namespace is not part of the hash", id: testID, mutate: func(*batchv1.JobSpec) {}, ns: "other", same: true},
		{name: "DSJ generation is not an input: same spec, same hash", id: testID, mutate: func(s *batchv1.JobSpec) { s.BackoffLimit = ptr.To[int32](0) }, ns: "ns", same: true},
		{name: "command changed", id: testID, mutate: func(s *batchv1.JobSpec) { s.Template.Spec.Containers[0].Command = []string{"sleep", "1"} }, ns: "ns"},
		{name: "pod label changed", id: testID, mutate: func(s *batchv1.JobSpec) { s.Template.Labels["app"] = "other" }, ns: "ns"},
		{name: "backoffLimit changed", id: testID, mutate: func(s *batchv1.JobSpec) { s.BackoffLimit = ptr.To[int32](2) }, ns: "ns"},
		{name: "member override", id: testID, mutate: func(*batchv1.JobSpec) {}, ov: &v1alpha1.PodOverrides{NodeSelector: map[string]string{"zone": "a"}}, ns: "ns"},
		{name: "another DSJ", id: Identity{UID: "other", Name: testID.Name, Namespace: testID.Namespace}, mutate: func(*batchv1.JobSpec) {}, ns: "ns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := busybox()
			tt.mutate(spec)
			_, got := Render(tt.id, spec, tt.ov, tt.ns)
			if (got == base) != tt.same {
				t.Errorf("hash %s vs base %s: same = %v, want %v", got, base, got == base, tt.same)
			}
		})
	}
}

func TestRenderOverrides(t *testing.T) {
	spec := busybox()
	spec.Template.Spec.NodeSelector = map[string]string{"zone": "a", "disk": "ssd"}
	spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "base", Operator: corev1.TolerationOpExists}}
	spec.Template.Annotations = map[string]string{"keep": "1", "replace": "old"}
	ov := &v1alpha1.PodOverrides{
		NodeSelector: map[string]string{"zone": "b"},
		Tolerations:  []corev1.Toleration{{Key: "gpu", Operator: corev1.TolerationOpExists}},
		Labels:       map[string]string{"tier": "batch", LabelDSJUID: "spoofed"},
		Annotations:  map[string]string{"replace": "new"},
	}
	job, _ := Render(testID, spec, ov, "ns")
	pod := job.Spec.Template
	if !labels.Equals(pod.Spec.NodeSelector, map[string]string{"zone": "b", "disk": "ssd"}) {
		t.Errorf("nodeSelector %v", pod.Spec.NodeSelector)
	}
	if len(pod.Spec.Tolerations) != 2 || pod.Spec.Tolerations[1].Key != "gpu" {
		t.Errorf("tolerations %v", pod.Spec.Tolerations)
	}
	if pod.Labels["tier"] != "batch" || pod.Labels[LabelDSJUID] != string(testID.UID) {
		t.Errorf("labels %v: the override is merged, the identity wins", pod.Labels)
	}
	if !labels.Equals(pod.Annotations, map[string]string{"keep": "1", "replace": "new"}) {
		t.Errorf("annotations %v", pod.Annotations)
	}
}

func TestRenderLongName(t *testing.T) {
	id := Identity{UID: "u", Namespace: "ns", Name: strings.Repeat("a", 70)}
	job, _ := Render(id, busybox(), nil, "ns")
	if len(job.GenerateName) != maxGenerateNamePrefix || !strings.HasSuffix(job.GenerateName, "-") {
		t.Errorf("generateName %q (%d characters)", job.GenerateName, len(job.GenerateName))
	}
	if _, ok := job.Labels[LabelDSJName]; ok {
		t.Errorf("a name longer than a label value must not become a label")
	}
}

func TestMarkFailover(t *testing.T) {
	job, _ := Render(testID, busybox(), nil, "ns")
	MarkFailover(job, Job{Member: "k3d-member-2", Namespace: "ns", Name: "dsj-example-abcde"})
	if got := job.Annotations[AnnotationFailoverOf]; got != "k3d-member-2/ns/dsj-example-abcde" {
		t.Errorf("failover-of = %q", got)
	}
}

func TestPaused(t *testing.T) {
	tests := []struct {
		annotations map[string]string
		want        bool
	}{
		{nil, false},
		{map[string]string{v1alpha1.AnnotationPaused: "true"}, true},
		{map[string]string{v1alpha1.AnnotationPaused: "false"}, false},
		{map[string]string{v1alpha1.AnnotationPaused: "yes please"}, true},
		{map[string]string{v1alpha1.AnnotationPausedReplicas: "0"}, false},
	}
	for _, tt := range tests {
		if got := Paused(tt.annotations); got != tt.want {
			t.Errorf("Paused(%v) = %v, want %v", tt.annotations, got, tt.want)
		}
	}
}
