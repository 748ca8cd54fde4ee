package v1alpha1_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/scale"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/clusterenv"
	"github.com/fleetscale/fleetscale/internal/manager"
)

// One hub with the generated CRDs, shared by every test in the package.
var shared = clusterenv.NewShared(clusterenv.Options{CRDDir: crdDir()})

func crdDir() string {
	root, err := clusterenv.RepoRoot()
	if err != nil {
		return ""
	}
	return filepath.Join(root, "config", "crd", "bases")
}

func TestMain(m *testing.M) { os.Exit(shared.Main(m)) }

func hubClient(t *testing.T) client.Client {
	t.Helper()
	env := shared.Env(t)
	c, err := client.New(env.Hub.Config, client.Options{Scheme: manager.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func namespace(t *testing.T, c client.Client) string {
	t.Helper()
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetGenerateName("crd-test-")
	if err := c.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.GetName()
}

func decodeAll(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if err == io.EOF {
				return out
			}
			t.Fatal(err)
		}
		if obj != nil {
			out = append(out, &unstructured.Unstructured{Object: obj})
		}
	}
}

// The walkthrough's manifests apply unchanged (server-side apply, as kubectl apply --server-side would).
func TestWalkthroughManifestsApply(t *testing.T) {
	g := NewWithT(t)
	c := hubClient(t)
	ns := namespace(t, c)
	files, err := filepath.Glob("../../internal/demo/manifests/walkthrough-*.yaml")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(files).To(HaveLen(4))
	kinds := map[string]int{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		g.Expect(err).NotTo(HaveOccurred())
		for _, obj := range decodeAll(t, data) {
			obj.SetNamespace(ns)
			g.Expect(c.Apply(context.Background(), client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner("test"), client.ForceOwnership)).
				To(Succeed(), "%s: %s %s", f, obj.GetKind(), obj.GetName())
			kinds[obj.GetKind()]++
		}
	}
	g.Expect(kinds).To(Equal(map[string]int{"ConfigMap": 3, "DistributedScaledObject": 2, "DistributedScaledJob": 1}))

	// Defaults from the schema are what the reference documents.
	var dso v1alpha1.DistributedScaledObject
	g.Expect(c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "nginx"}, &dso)).To(Succeed())
	g.Expect(dso.Spec.MemberClusters).To(HaveLen(2))
	g.Expect(*dso.Spec.MemberClusters[0].Weight).To(BeEquivalentTo(3))
	g.Expect(dso.Spec.ScaledObjectSpec.Triggers[0].Metadata).To(HaveKeyWithValue("targetValue", "5"))
	var dsj v1alpha1.DistributedScaledJob
	g.Expect(c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "dsj-example"}, &dsj)).To(Succeed())
	g.Expect(*dsj.Spec.MemberClusters[1].Weight).To(BeEquivalentTo(1), "weight defaults to 1")
	g.Expect(dsj.Spec.ScaledJobSpec.JobTargetRef.Template.Spec.Containers[0].Command).To(ContainElement(ContainSubstring("sleep 33")))
	g.Expect(dsj.Spec.ScaledJobSpec.Rollout.Strategy).To(Equal("gradual"))
}

const validDSO = `
apiVersion: keda.kedify.io/v1alpha1
kind: DistributedScaledObject
metadata:
  name: bad
spec:
  scaledObjectSpec:
    scaleTargetRef:
      name: nginx
    triggers:
    - type: kubernetes-resource
      metadata:
        resourceKind: ConfigMap
        resourceName: mock-metric
        key: metric-value
        targetValue: "5"
`

const validDSJ = `
apiVersion: keda.kedify.io/v1alpha1
kind: DistributedScaledJob
metadata:
  name: bad
spec:
  scaledJobSpec:
    jobTargetRef:
      template:
        spec:
          containers:
          - name: c
            image: busybox
          restartPolicy: Never
    triggers:
    - type: kubernetes-resource
      metadata:
        targetValue: "5"
`

// mutate parses a manifest and applies a change to its map form.
func mutate(t *testing.T, manifest string, change func(spec map[string]any)) *unstructured.Unstructured {
	t.Helper()
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(manifest), &obj); err != nil {
		t.Fatal(err)
	}
	change(obj["spec"].(map[string]any))
	return &unstructured.Unstructured{Object: obj}
}

func soSpec(spec map[string]any) map[string]any { return spec["scaledObjectSpec"].(map[string]any) }

func TestInvalidManifestsAreRejectedNamingTheField(t *testing.T) {
	c := hubClient(t)
	ns := namespace(t, c)
	cases := []struct {
		name string
		obj  *unstructured.Unstructured
		want []string // every string must be in the error
	}{
		{"min above max", mutate(t, validDSO, func(s map[string]any) {
			soSpec(s)["minReplicaCount"], soSpec(s)["maxReplicaCount"] = 5, 2
		}), []string{"spec.scaledObjectSpec", "minReplicaCount must be less than or equal to maxReplicaCount"}},
		{"min above default max", mutate(t, validDSO, func(s map[string]any) { soSpec(s)["minReplicaCount"] = 150 }),
			[]string{"spec.scaledObjectSpec", "maxReplicaCount (default 100)"}},
		{"idle not below min", mutate(t, validDSO, func(s map[string]any) {
			soSpec(s)["minReplicaCount"], soSpec(s)["idleReplicaCount"] = 1, 1
		}), []string{"idleReplicaCount must be less than minReplicaCount"}},
		{"negative weight", mutate(t, validDSO, func(s map[string]any) {
			s["memberClusters"] = []any{map[string]any{"name": "m1", "weight": -1}}
		}), []string{"spec.memberClusters[0].weight", "greater than or equal to 0"}},
		{"member name not a DNS label", mutate(t, validDSO, func(s map[string]any) {
			s["memberClusters"] = []any{map[string]any{"name": "Member_1"}}
		}), []string{"spec.memberClusters[0].name", "should match"}},
		{"duplicate member", mutate(t, validDSO, func(s map[string]any) {
			s["memberClusters"] = []any{map[string]any{"name": "m1"}, map[string]any{"name": "m1"}}
		}), []string{"spec.memberClusters[1]", "Duplicate value"}},
		{"grace period not a duration", mutate(t, validDSO, func(s map[string]any) {
			s["rebalancingPolicy"] = map[string]any{"gracePeriod": "one minute"}
		}), []string{"spec.rebalancingPolicy.gracePeriod", "should match"}},
		{"rebalance percentage 0", mutate(t, validDSO, func(s map[string]any) {
			s["rebalancingPolicy"] = map[string]any{"maxRebalancePercentage": 0}
		}), []string{"spec.rebalancingPolicy.maxRebalancePercentage", "greater than or equal to 1"}},
		{"rebalance percentage 101", mutate(t, validDSO, func(s map[string]any) {
			s["rebalancingPolicy"] = map[string]any{"maxRebalancePercentage": 101}
		}), []string{"spec.rebalancingPolicy.maxRebalancePercentage", "less than or equal to 100"}},
		{"no triggers", mutate(t, validDSO, func(s map[string]any) { soSpec(s)["triggers"] = []any{} }),
			[]string{"spec.scaledObjectSpec.triggers", "at least 1 items"}},
		{"trigger without type", mutate(t, validDSO, func(s map[string]any) {
			soSpec(s)["triggers"] = []any{map[string]any{"metadata": map[string]any{"a": "b"}}}
		}), []string{"spec.scaledObjectSpec.triggers[0].type", "Required value"}},
		{"scale target without name", mutate(t, validDSO, func(s map[string]any) {
			soSpec(s)["scaleTargetRef"] = map[string]any{"kind": "Deployment"}
		}), []string{"spec.scaledObjectSpec.scaleTargetRef.name", "Required value"}},
		{"fallback behavior unknown", mutate(t, validDSO, func(s map[string]any) {
			soSpec(s)["fallback"] = map[string]any{"failureThreshold": 3, "replicas": 2, "behavior": "sometimes"}
		}), []string{"spec.scaledObjectSpec.fallback.behavior", "Unsupported value"}},
		{"DSJ without jobTargetRef", mutate(t, validDSJ, func(s map[string]any) {
			delete(s["scaledJobSpec"].(map[string]any), "jobTargetRef")
		}), []string{"spec.scaledJobSpec.jobTargetRef", "Required value"}},
		{"DSJ unknown duplication policy", mutate(t, validDSJ, func(s map[string]any) {
			s["clusterScheduling"] = map[string]any{"failoverPolicy": map[string]any{"duplicationPolicy": "all"}}
		}), []string{"spec.clusterScheduling.failoverPolicy.duplicationPolicy", "Unsupported value"}},
		{"DSJ unknown scaling strategy", mutate(t, validDSJ, func(s map[string]any) {
			s["scaledJobSpec"].(map[string]any)["scalingStrategy"] = map[string]any{"strategy": "fastest"}
		}), []string{"spec.scaledJobSpec.scalingStrategy.strategy", "Unsupported value"}},
		{"DSJ priorityFailover without workloadAffinity", mutate(t, validDSJ, func(s map[string]any) {
			priorityFailover(s)
			delete(s["clusterScheduling"].(map[string]any), "workloadAffinity")
		}), []string{"spec.clusterScheduling", "clusterScheduling.workloadAffinity is required when clusterScheduling.strategy=priorityFailover"}},
		{"DSJ workloadAffinity with weightedRoundRobin", mutate(t, validDSJ, func(s map[string]any) {
			s["clusterScheduling"] = map[string]any{"workloadAffinity": map[string]any{"class": "gpu", "size": 1}}
		}), []string{"clusterScheduling.workloadAffinity must be omitted when clusterScheduling.strategy=weightedRoundRobin"}},
		{"DSJ priorityFailover member without a priority", mutate(t, validDSJ, func(s map[string]any) {
			priorityFailover(s)
			s["memberClusters"] = append(s["memberClusters"].([]any), map[string]any{"name": "m2"})
		}), []string{"memberClusters[].scheduling.priority is required when clusterScheduling.strategy=priorityFailover"}},
		{"DSJ priorityFailover without members", mutate(t, validDSJ, func(s map[string]any) {
			priorityFailover(s)
			delete(s, "memberClusters")
		}), []string{"memberClusters must be non-empty when clusterScheduling.strategy=priorityFailover"}},
		{"DSJ priorityFailover with another scaling strategy", mutate(t, validDSJ, func(s map[string]any) {
			priorityFailover(s)
			s["scaledJobSpec"].(map[string]any)["scalingStrategy"] = map[string]any{"strategy": "accurate"}
		}), []string{"scaledJobSpec.scalingStrategy.strategy must be pendingAware (or omitted) when clusterScheduling.strategy=priorityFailover"}},
		{"DSJ priority above 1000", mutate(t, validDSJ, func(s map[string]any) {
			priorityFailover(s)
			s["memberClusters"].([]any)[0].(map[string]any)["scheduling"] = map[string]any{"priority": 1001}
		}), []string{"spec.memberClusters[0].scheduling.priority", "less than or equal to 1000"}},
		{"DSJ negative workload size", mutate(t, validDSJ, func(s map[string]any) {
			priorityFailover(s)
			s["clusterScheduling"].(map[string]any)["workloadAffinity"] = map[string]any{"size": -1}
		}), []string{"spec.clusterScheduling.workloadAffinity.size", "greater than or equal to 0"}},
		{"DSJ workloadAffinity without size", mutate(t, validDSJ, func(s map[string]any) {
			priorityFailover(s)
			s["clusterScheduling"].(map[string]any)["workloadAffinity"] = map[string]any{"class": "gpu"}
		}), []string{"spec.clusterScheduling.workloadAffinity.size", "Required value"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			tc.obj.SetNamespace(ns)
			err := c.Create(context.Background(), tc.obj)
			g.Expect(err).To(HaveOccurred(), "the apiserver accepted an invalid manifest")
			for _, w := range tc.want {
				g.Expect(err.Error()).To(ContainSubstring(w))
			}
		})
	}
}

// priorityFailover makes a valid DSJ spec use priorityFailover with one member.
func priorityFailover(s map[string]any) {
	s["clusterScheduling"] = map[string]any{"strategy": "priorityFailover",
		"workloadAffinity": map[string]any{"class": "gpu", "size": 4}}
	s["memberClusters"] = []any{map[string]any{"name": "m1", "scheduling": map[string]any{"priority": 100}}}
}

// The reference's priorityFailover schema applies unchanged (testdata, built from its CRD),
// and the CEL rules accept what the reference's own rules cannot evaluate: no
// clusterScheduling at all, and a scalingStrategy without a strategy.
func TestPriorityFailoverManifestsApply(t *testing.T) {
	g := NewWithT(t)
	c := hubClient(t)
	ns := namespace(t, c)
	data, err := os.ReadFile("testdata/reference-dsj-priorityfailover.yaml")
	g.Expect(err).NotTo(HaveOccurred())
	for _, obj := range decodeAll(t, data) {
		obj.SetNamespace(ns)
		g.Expect(c.Apply(context.Background(), client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner("test"), client.ForceOwnership)).To(Succeed(), obj.GetName())
	}
	var dsj v1alpha1.DistributedScaledJob
	g.Expect(c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "gpu-batch"}, &dsj)).To(Succeed())
	g.Expect(dsj.Spec.ClusterScheduling.WorkloadAffinity).To(Equal(&v1alpha1.WorkloadAffinity{Class: "gpu", Size: 4}))
	g.Expect(dsj.Spec.MemberClusters[0].GetPriority()).To(BeEquivalentTo(100))
	g.Expect(dsj.Spec.ClusterScheduling.FailoverPolicy.SoftTaintDuration).To(BeEquivalentTo("0s"))

	for name, change := range map[string]func(map[string]any){
		"no-scheduling": func(map[string]any) {},
		"pending-aware": func(s map[string]any) {
			priorityFailover(s)
			s["scaledJobSpec"].(map[string]any)["scalingStrategy"] = map[string]any{"strategy": "pendingAware"}
		},
		"empty-strategy": func(s map[string]any) {
			priorityFailover(s)
			s["scaledJobSpec"].(map[string]any)["scalingStrategy"] = map[string]any{"multipleScalersCalculation": "sum"}
		},
		"basic": func(s map[string]any) {
			s["scaledJobSpec"].(map[string]any)["scalingStrategy"] = map[string]any{"strategy": "basic"}
		},
	} {
		obj := mutate(t, validDSJ, change)
		obj.SetName(name)
		obj.SetNamespace(ns)
		g.Expect(c.Create(context.Background(), obj)).To(Succeed(), name)
	}
}

func TestMemberClusterNameMustBeADNSLabel(t *testing.T) {
	g := NewWithT(t)
	c := hubClient(t)
	ns := namespace(t, c)
	mc := &v1alpha1.MemberCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "member.one", Namespace: ns},
		Spec: v1alpha1.MemberClusterSpec{APIURL: "https://127.0.0.1:6443",
			KubeconfigSecretRef: v1alpha1.SecretKeyRef{Name: "s"}},
	}
	err := c.Create(context.Background(), mc)
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring("metadata.name must be a DNS-1123 label"))
	mc.Name = "member-one"
	g.Expect(c.Create(context.Background(), mc)).To(Succeed())
	g.Expect(mc.Spec.KubeconfigSecretRef.Key).To(Equal("kubeconfig"), "key defaults to kubeconfig")
}

// The DSO's /scale subresource reads and writes through client-go's scale client, as an
// HPA or `kubectl scale dso` would.
func TestDSOScaleSubresource(t *testing.T) {
	g := NewWithT(t)
	env := shared.Env(t)
	c := hubClient(t)
	ns := namespace(t, c)
	// The controller writes spec.totalTargetReplicas at its first evaluation; /scale needs
	// the field to exist, as for any CRD whose spec replicas are optional.
	obj := mutate(t, validDSO, func(s map[string]any) { s["totalTargetReplicas"] = 3 })
	obj.SetName("scaled")
	obj.SetNamespace(ns)
	g.Expect(c.Create(context.Background(), obj)).To(Succeed())

	disco, err := discovery.NewDiscoveryClientForConfig(env.Hub.Config)
	g.Expect(err).NotTo(HaveOccurred())
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco))
	scales, err := scale.NewForConfig(env.Hub.Config, mapper, dynamic.LegacyAPIPathResolverFunc, scale.NewDiscoveryScaleKindResolver(disco))
	g.Expect(err).NotTo(HaveOccurred())
	gr := schema.GroupResource{Group: v1alpha1.GroupVersion.Group, Resource: "distributedscaledobjects"}

	s, err := scales.Scales(ns).Get(context.Background(), gr, "scaled", metav1.GetOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(s.Spec.Replicas).To(BeEquivalentTo(3))
	s.Spec.Replicas = 7
	_, err = scales.Scales(ns).Update(context.Background(), gr, s, metav1.UpdateOptions{})
	g.Expect(err).NotTo(HaveOccurred())

	var dso v1alpha1.DistributedScaledObject
	g.Expect(c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "scaled"}, &dso)).To(Succeed())
	g.Expect(dso.Spec.TotalTargetReplicas).To(HaveValue(BeEquivalentTo(7)))

	dso.Status.TotalCurrentReplicas = 5
	dso.Status.Selector = "app=nginx"
	g.Expect(c.Status().Update(context.Background(), &dso)).To(Succeed())
	var got *autoscalingv1.Scale
	got, err = scales.Scales(ns).Get(context.Background(), gr, "scaled", metav1.GetOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got.Status.Replicas).To(BeEquivalentTo(5))
	g.Expect(got.Status.Selector).To(Equal("app=nginx"))
	g.Expect(got.Spec.Replicas).To(BeEquivalentTo(7))
}
