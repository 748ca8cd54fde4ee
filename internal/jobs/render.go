package jobs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

// Labels and annotations on the Jobs (and their pods) a DSJ creates.
const (
	// LabelDSJUID is the DSJ's UID: what identifies its Jobs and pods in every member.
	LabelDSJUID = "keda.kedify.io/distributedscaledjob-uid"
	// LabelDSJName is the DSJ's name, for kubectl; left out when the name is not a valid label value.
	LabelDSJName = "keda.kedify.io/distributedscaledjob-name"
	// LabelTemplateHash is the hash of the JobSpec as rendered for the member.
	LabelTemplateHash = "keda.kedify.io/job-template-hash"
	// LabelManagedBy is app.kubernetes.io/managed-by.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedBy is the value of LabelManagedBy.
	ManagedBy = "fleetscale"
	// AnnotationDSJ names the DSJ in the hub as "namespace/name".
	AnnotationDSJ = "keda.kedify.io/distributedscaledjob"
	// AnnotationFailoverOf, on a failover copy, names its source as Key(member, namespace, name).
	AnnotationFailoverOf = "keda.kedify.io/failover-of"
)

// maxGenerateNamePrefix keeps generated Job names within 63 characters (the API server adds 5),
// the limit of the job-name label the Job controller puts on its pods.
const maxGenerateNamePrefix = 57

// Identity is the DSJ a Job belongs to.
type Identity struct {
	UID       types.UID
	Namespace string
	Name      string
}

// Selector matches every Job and pod of the DSJ with this UID.
func Selector(uid types.UID) labels.Selector {
	req, err := labels.NewRequirement(LabelDSJUID, selection.Equals, []string{string(uid)})
	if err != nil {
		return labels.Nothing()
	}
	return labels.NewSelector().Add(*req)
}

// Render returns the Job to create in one member namespace and the hash of its template. The
// Job's spec is spec with the member's pod overrides merged into its pod template (nodeSelector
// and labels/annotations: the override wins per key; tolerations are appended) and the DSJ's
// identity labels added to the pod template, so the pods can be watched by label. The hash
// covers that rendered spec; the Job and its pods carry it as LabelTemplateHash. The Job gets
// the pod template's labels too, as KEDA gives them to its Jobs. Its name is generated from the
// DSJ's name.
func Render(id Identity, spec *batchv1.JobSpec, ov *v1alpha1.PodOverrides, namespace string) (*batchv1.Job, string) {
	js := batchv1.JobSpec{}
	if spec != nil {
		js = *spec.DeepCopy()
	}
	tpl := &js.Template
	if ov != nil {
		tpl.Spec.NodeSelector = merged(tpl.Spec.NodeSelector, ov.NodeSelector)
		tpl.Spec.Tolerations = append(tpl.Spec.Tolerations, ov.Tolerations...)
		tpl.Labels = merged(tpl.Labels, ov.Labels)
		tpl.Annotations = merged(tpl.Annotations, ov.Annotations)
	}
	tpl.Labels = merged(tpl.Labels, identityLabels(id))
	hash := templateHash(&js)
	tpl.Labels[LabelTemplateHash] = hash

	jobLabels := maps.Clone(tpl.Labels)
	jobLabels[LabelManagedBy] = ManagedBy
	job := &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: generateNamePrefix(id.Name),
			Namespace:    namespace,
			Labels:       jobLabels,
			Annotations:  map[string]string{AnnotationDSJ: id.Namespace + "/" + id.Name},
		},
		Spec: js,
	}
	return job, hash
}

// MarkFailover makes job a failover copy of source.
func MarkFailover(job *batchv1.Job, source Job) {
	if job.Annotations == nil {
		job.Annotations = map[string]string{}
	}
	job.Annotations[AnnotationFailoverOf] = source.Key()
}

func identityLabels(id Identity) map[string]string {
	l := map[string]string{LabelDSJUID: string(id.UID)}
	if len(validation.IsValidLabelValue(id.Name)) == 0 {
		l[LabelDSJName] = id.Name
	}
	return l
}

// templateHash is the first 10 hex digits of the SHA-256 of the spec's JSON, which is
// deterministic (fields in declaration order, map keys sorted).
func templateHash(spec *batchv1.JobSpec) string {
	data, err := json.Marshal(spec)
	if err != nil {
		// A JobSpec always marshals; this keeps the hash total anyway.
		data = []byte(strconv.Quote(err.Error()))
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:5])
}

func generateNamePrefix(name string) string {
	if len(name) > maxGenerateNamePrefix-1 {
		name = name[:maxGenerateNamePrefix-1]
	}
	return name + "-"
}

// merged returns base with over's entries added (over wins); never nil.
func merged(base, over map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(over))
	maps.Copy(out, base)
	maps.Copy(out, over)
	return out
}

// Paused reports whether the annotation autoscaling.keda.sh/paused stops creating Jobs. As in
// KEDA, a value that is not a boolean counts as true.
func Paused(annotations map[string]string) bool {
	raw, ok := annotations[v1alpha1.AnnotationPaused]
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(raw)
	return err != nil || b
}
