package badinput_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
	"github.com/fleetscale/fleetscale/internal/fleettest"
	"github.com/fleetscale/fleetscale/internal/plugin"
)

// The objects every DSO and DSJ row starts from: a kubernetes-resource trigger on ConfigMap
// metric (value 20, target 5: 4 replicas or Jobs) over member 1, target Deployment web (2
// replicas). A row changes some paths of it.
const (
	baseDSO = `apiVersion: keda.kedify.io/v1alpha1
kind: DistributedScaledObject
metadata:
  name: bad
spec:
  memberClusters:
  - name: k3d-member-1
  scaledObjectSpec:
    scaleTargetRef:
      name: web
    minReplicaCount: 1
    maxReplicaCount: 10
    triggers:
    - type: kubernetes-resource
      name: a
      metadata:
        resourceKind: ConfigMap
        resourceName: metric
        key: value
        targetValue: "5"
`
	baseDSJ = `apiVersion: keda.kedify.io/v1alpha1
kind: DistributedScaledJob
metadata:
  name: bad
spec:
  memberClusters:
  - name: k3d-member-1
  scaledJobSpec:
    maxReplicaCount: 10
    triggers:
    - type: kubernetes-resource
      metadata:
        resourceKind: ConfigMap
        resourceName: metric
        key: value
        targetValue: "5"
    jobTargetRef:
      template:
        spec:
          containers:
          - name: c
            image: busybox
          restartPolicy: Never
`
	behaviorPath  = "spec.scaledObjectSpec.advanced.horizontalPodAutoscalerConfig.behavior"
	modifiersPath = "spec.scaledObjectSpec.advanced.scalingModifiers"
	triggerPath   = "spec.scaledObjectSpec.triggers[0]"
)

// objectRow is one DSO or DSJ: the base with edits (path → YAML value, "~" deletes the
// path), and what must come of it.
type objectRow struct {
	name, input string
	dsj         bool
	edits       [][2]string
	// metric is the ConfigMap value (default "20").
	metric string
	// applyErr, when set, is part of the apply error; else the object applies and its Ready
	// condition gets reason and a message containing message.
	applyErr        string
	reason, message string
	// scaled is the replicas of web once a valid row settles (0: must stay 2).
	scaled int32
}

func objectRows() []objectRow {
	b, m, tr := behaviorPath, modifiersPath, triggerPath
	return []objectRow{
		// Manifests refused at apply time (OpenAPI and CEL).
		{name: "min above max", input: "manifest", edits: [][2]string{{"spec.scaledObjectSpec.minReplicaCount", "11"}},
			applyErr: "minReplicaCount must be less than or equal to maxReplicaCount"},
		{name: "idle not below min", input: "manifest", edits: [][2]string{{"spec.scaledObjectSpec.idleReplicaCount", "1"}},
			applyErr: "idleReplicaCount must be less than minReplicaCount"},
		{name: "polling interval 0", input: "manifest", edits: [][2]string{{"spec.scaledObjectSpec.pollingInterval", "0"}},
			applyErr: "spec.scaledObjectSpec.pollingInterval: Invalid value: 0: spec.scaledObjectSpec.pollingInterval in body should be greater than or equal to 1"},
		{name: "negative max", input: "manifest", edits: [][2]string{{"spec.scaledObjectSpec.maxReplicaCount", "-1"}},
			applyErr: "maxReplicaCount in body should be greater than or equal to 0"},
		{name: "no triggers", input: "manifest", edits: [][2]string{{"spec.scaledObjectSpec.triggers", "[]"}},
			applyErr: "spec.scaledObjectSpec.triggers: Invalid value: 0: spec.scaledObjectSpec.triggers in body should have at least 1 items"},
		{name: "member name not a DNS label", input: "manifest", edits: [][2]string{{"spec.memberClusters[0].name", "Bad_Name"}},
			applyErr: "spec.memberClusters[0].name in body should match"},
		{name: "negative weight", input: "manifest", edits: [][2]string{{"spec.memberClusters[0].weight", "-1"}},
			applyErr: "spec.memberClusters[0].weight in body should be greater than or equal to 0"},
		{name: "target namespace not a DNS label", input: "manifest", edits: [][2]string{{"spec.memberClusters[0].targetNamespace", "Kube_System"}},
			applyErr: "spec.memberClusters[0].targetNamespace in body should match"},
		{name: "malformed apiVersion", input: "manifest", edits: [][2]string{{"spec.scaledObjectSpec.scaleTargetRef.apiVersion", "apps/v1/extra"}},
			applyErr: "spec.scaledObjectSpec.scaleTargetRef.apiVersion in body should match"},
		{name: "malformed kind", input: "manifest", edits: [][2]string{{"spec.scaledObjectSpec.scaleTargetRef.kind", "Deploy ment"}},
			applyErr: "spec.scaledObjectSpec.scaleTargetRef.kind in body should match"},
		{name: "empty target name", input: "manifest", edits: [][2]string{{"spec.scaledObjectSpec.scaleTargetRef.name", `""`}},
			applyErr: "spec.scaledObjectSpec.scaleTargetRef.name in body should be at least 1 chars long"},
		{name: "overflowing grace period", input: "manifest", edits: [][2]string{{"spec.rebalancingPolicy.gracePeriod", "99999999999h"}},
			applyErr: `spec.rebalancingPolicy.gracePeriod: Invalid value: "99999999999h": must be a duration of at most 999999h`},
		{name: "grace period in words", input: "manifest", edits: [][2]string{{"spec.rebalancingPolicy.gracePeriod", "1 minute"}},
			applyErr: "spec.rebalancingPolicy.gracePeriod in body should match"},
		{name: "scale-up window above an hour", input: "manifest", edits: [][2]string{{b, "{scaleUp: {stabilizationWindowSeconds: 3601}}"}},
			applyErr: "behavior.scaleUp.stabilizationWindowSeconds must be between 0 and 3600"},
		{name: "negative scale-down window", input: "manifest", edits: [][2]string{{b, "{scaleDown: {stabilizationWindowSeconds: -1}}"}},
			applyErr: "behavior.scaleDown.stabilizationWindowSeconds must be between 0 and 3600"},
		{name: "policy period 0", input: "manifest", edits: [][2]string{{b, "{scaleUp: {policies: [{type: Pods, value: 4, periodSeconds: 0}]}}"}},
			applyErr: "behavior.scaleUp.policies: type must be Pods or Percent, value greater than 0, periodSeconds between 1 and 1800"},
		{name: "policy period above 30 minutes", input: "manifest", edits: [][2]string{{b, "{scaleDown: {policies: [{type: Percent, value: 10, periodSeconds: 1801}]}}"}},
			applyErr: "behavior.scaleDown.policies: type must be Pods or Percent, value greater than 0, periodSeconds between 1 and 1800"},
		{name: "policy value 0", input: "manifest", edits: [][2]string{{b, "{scaleDown: {policies: [{type: Pods, value: 0, periodSeconds: 15}]}}"}},
			applyErr: "behavior.scaleDown.policies: type must be Pods or Percent"},
		{name: "policy type unknown", input: "manifest", edits: [][2]string{{b, "{scaleUp: {policies: [{type: Nodes, value: 1, periodSeconds: 15}]}}"}},
			applyErr: "behavior.scaleUp.policies: type must be Pods or Percent"},
		{name: "select policy unknown", input: "manifest", edits: [][2]string{{b, "{scaleUp: {selectPolicy: Largest}}"}},
			applyErr: "behavior.scaleUp.selectPolicy must be Max, Min or Disabled"},
		{name: "empty policies list", input: "manifest", edits: [][2]string{{b, "{scaleDown: {policies: []}}"}},
			applyErr: "behavior.scaleDown.policies must list at least one policy when set"},
		{name: "negative tolerance", input: "manifest", edits: [][2]string{{b, `{scaleUp: {tolerance: "-0.1"}}`}},
			applyErr: "behavior.scaleUp.tolerance must not be negative"},
		{name: "modifier target rounds to zero", input: "manifest", edits: [][2]string{{m, `{formula: "a", target: "0.0001"}`}},
			applyErr: "scalingModifiers.target must be a number of at least 0.001"},
		{name: "formula without target", input: "manifest", edits: [][2]string{{m, `{formula: "a"}`}},
			applyErr: "scalingModifiers.target is required with a formula"},
		{name: "activation target not a number", input: "manifest", edits: [][2]string{{m, `{formula: "a", target: "2", activationTarget: "high"}`}},
			applyErr: "scalingModifiers.activationTarget must be a number"},
		{name: "modifier metric type unknown", input: "manifest", edits: [][2]string{{m, `{formula: "a", target: "2", metricType: Utilization}`}},
			applyErr: `scalingModifiers.metricType: Unsupported value: "Utilization"`},
		{name: "fallback behavior unknown", input: "manifest", edits: [][2]string{{"spec.scaledObjectSpec.fallback", "{failureThreshold: 3, replicas: 2, behavior: sometimes}"}},
			applyErr: `spec.scaledObjectSpec.fallback.behavior: Unsupported value: "sometimes"`},
		{name: "trigger metric type unknown", input: "manifest", edits: [][2]string{{tr + ".metricType", "Percent"}},
			applyErr: `spec.scaledObjectSpec.triggers[0].metricType: Unsupported value: "Percent"`},
		{name: "DSJ grace period units out of order", input: "manifest", dsj: true, edits: [][2]string{{"spec.clusterScheduling.failoverPolicy.gracePeriod", "30s1m"}},
			applyErr: `spec.clusterScheduling.failoverPolicy.gracePeriod: Invalid value: "30s1m": must be a duration of at most 999999h with its units in decreasing order`},
		{name: "DSJ overflowing hard taint", input: "manifest", dsj: true, edits: [][2]string{{"spec.clusterScheduling.failoverPolicy.hardTaintDuration", "99999999999h"}},
			applyErr: `spec.clusterScheduling.failoverPolicy.hardTaintDuration: Invalid value: "99999999999h": must be a duration of at most 999999h`},
		{name: "DSJ negative max", input: "manifest", dsj: true, edits: [][2]string{{"spec.scaledJobSpec.maxReplicaCount", "-5"}},
			applyErr: "spec.scaledJobSpec.maxReplicaCount in body should be greater than or equal to 0"},
		{name: "DSJ rollout strategy unknown", input: "manifest", dsj: true, edits: [][2]string{{"spec.scaledJobSpec.rollout.strategy", "fast"}},
			applyErr: `spec.scaledJobSpec.rollout.strategy: Unsupported value: "fast"`},
		{name: "DSJ scaling strategy unknown", input: "manifest", dsj: true, edits: [][2]string{{"spec.scaledJobSpec.scalingStrategy.strategy", "greedy"}},
			applyErr: `spec.scaledJobSpec.scalingStrategy.strategy: Unsupported value: "greedy"`},
		{name: "DSJ without job template", input: "manifest", dsj: true, edits: [][2]string{{"spec.scaledJobSpec.jobTargetRef", "~"}},
			applyErr: "spec.scaledJobSpec.jobTargetRef: Required value"},

		// Applied, and reported as a condition (and an Event) without touching the member.
		{name: "trigger without targetValue", input: "trigger metadata", edits: [][2]string{{tr + ".metadata.targetValue", "~"}},
			reason: "InvalidSpec", message: "targetValue is required"},
		{name: "json format without valueLocation", input: "trigger metadata", edits: [][2]string{{tr + ".metadata.format", "json"}},
			reason: "InvalidSpec", message: "valueLocation is required with format json"},
		{name: "targetValue not a number", input: "trigger metadata", edits: [][2]string{{tr + ".metadata.targetValue", "five"}},
			reason: "InvalidSpec", message: "targetValue"},
		{name: "unknown trigger type without adapter", input: "trigger metadata", edits: [][2]string{{tr + ".type", "rabbitmq"}},
			reason: "InvalidSpec", message: `unsupported trigger type "rabbitmq"`},
		{name: "cron timezone unknown", input: "trigger metadata", edits: [][2]string{{tr, `{type: cron, name: a, metadata: {timezone: Mars/Olympus, start: "0 8 * * *", end: "0 18 * * *", desiredReplicas: "3"}}`}},
			reason: "InvalidSpec", message: `timezone "Mars/Olympus" is not a known IANA time zone`},
		{name: "cron schedule not cron", input: "trigger metadata", edits: [][2]string{{tr, `{type: cron, name: a, metadata: {timezone: UTC, start: "at eight", end: "0 18 * * *", desiredReplicas: "3"}}`}},
			reason: "InvalidSpec", message: `start "at eight" is not a cron schedule`},
		{name: "paused-replicas not a number", input: "annotation", edits: [][2]string{{"metadata.annotations", `{"autoscaling.keda.sh/paused-replicas": "lots"}`}},
			reason: "InvalidSpec", message: `annotation autoscaling.keda.sh/paused-replicas="lots"`},
		{name: "paused-replicas negative", input: "annotation", edits: [][2]string{{"metadata.annotations", `{"autoscaling.keda.sh/paused-replicas": "-3"}`}},
			reason: "InvalidSpec", message: "must not be negative"},
		{name: "formula names an unknown trigger", input: "manifest", edits: [][2]string{{m, `{formula: "a + nope", target: "2"}`}},
			reason: "InvalidSpec", message: "scalingModifiers.formula"},
		{name: "ConfigMap value not a number", input: "ConfigMap value", metric: "twenty",
			reason: "TriggerError", message: `value "twenty" of key value in ConfigMap`},
		{name: "ConfigMap value not JSON", input: "ConfigMap value", metric: "{not json",
			edits:  [][2]string{{tr + ".metadata.format", "json"}, {tr + ".metadata.valueLocation", "x"}},
			reason: "TriggerError", message: "the value is not valid JSON"},
		{name: "ConfigMap value not a quantity", input: "ConfigMap value", metric: "5 apples",
			edits:  [][2]string{{tr + ".metadata.valueType", "quantity"}},
			reason: "TriggerError", message: "is not a quantity"},
		{name: "DSJ trigger metadata wrong", input: "trigger metadata", dsj: true, edits: [][2]string{{"spec.scaledJobSpec.triggers[0].metadata.resourceKind", "Pod"}},
			reason: "InvalidSpec", message: "resourceKind"},

		// Valid edge cases stay valid.
		{name: "a rules block with only a stabilisation window", input: "manifest", edits: [][2]string{{b, "{scaleDown: {stabilizationWindowSeconds: 60}}"}},
			reason: "ScaledObjectReady", scaled: 4},
		{name: "the longest grace period and smallest modifier target", input: "manifest",
			edits:  [][2]string{{"spec.rebalancingPolicy.gracePeriod", "999999h59m59s"}, {m, `{formula: "a", target: "0.001"}`}},
			reason: "ScaledObjectReady", scaled: 10},
	}
}

func TestBadObjects(t *testing.T) {
	f := fleet(t)
	for _, row := range objectRows() {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			g := NewWithT(t)
			ns := f.Namespace(t, "bad-")
			createWeb(t, f.Member(1), ns, 2)
			metric := row.metric
			if metric == "" {
				metric = "20"
			}
			fleettest.Apply(t, f.Hub, ns, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: metric\ndata:\n  value: %q\n", metric))
			base, kind := baseDSO, "DistributedScaledObject"
			if row.dsj {
				base, kind = baseDSJ, "DistributedScaledJob"
			}
			manifest := edit(t, base, row.edits)
			err := applyManifest(f.Hub, ns, manifest)
			if row.applyErr != "" {
				g.Expect(err).To(MatchError(ContainSubstring(row.applyErr)), "manifest:\n%s", manifest)
			} else {
				g.Expect(err).NotTo(HaveOccurred(), "manifest:\n%s", manifest)
				g.Eventually(func(g Gomega) {
					c := condition(g, f.Hub, kind, ns, "bad", v1alpha1.ConditionReady)
					g.Expect(c).NotTo(BeNil())
					g.Expect(c.Reason).To(Equal(row.reason), c.Message)
					g.Expect(c.Message).To(ContainSubstring(row.message))
				}, timeout, poll).Should(Succeed())
				if row.reason == "InvalidSpec" {
					g.Eventually(func(g Gomega) { g.Expect(events(g, f.Hub, ns, "bad", "InvalidSpec")).NotTo(BeEmpty()) }, timeout, poll).Should(Succeed())
				}
			}
			if row.scaled > 0 {
				g.Eventually(func(g Gomega) { g.Expect(webReplicas(g, f.Member(1), ns)).To(Equal(row.scaled)) }, timeout, poll).Should(Succeed())
				return
			}
			// Nothing changed in the member, now or a little later.
			g.Consistently(func(g Gomega) {
				g.Expect(webReplicas(g, f.Member(1), ns)).To(Equal(int32(2)))
				g.Expect(jobCount(g, f.Member(1), ns)).To(BeZero())
			}, 2*time.Second, poll).Should(Succeed())
		})
	}
}

// edit returns the YAML document with each (path, YAML value) set, "~" deleting the path.
// Paths are dotted keys with an optional [index]: spec.scaledObjectSpec.triggers[0].type.
func edit(t *testing.T, doc string, edits [][2]string) string {
	t.Helper()
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
		t.Fatal(err)
	}
	for _, e := range edits {
		var value any
		if e[1] != "~" {
			if err := yaml.Unmarshal([]byte(e[1]), &value); err != nil {
				t.Fatalf("value %q: %v", e[1], err)
			}
		}
		setPath(t, obj, strings.Split(e[0], "."), value, e[1] == "~")
	}
	out, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func setPath(t *testing.T, obj map[string]any, path []string, value any, del bool) {
	t.Helper()
	key, index := path[0], -1
	if i := strings.Index(key, "["); i >= 0 {
		n, err := strconv.Atoi(strings.TrimSuffix(key[i+1:], "]"))
		if err != nil {
			t.Fatalf("path segment %q", key)
		}
		key, index = key[:i], n
	}
	if len(path) == 1 && index < 0 {
		if del {
			delete(obj, key)
		} else {
			obj[key] = value
		}
		return
	}
	if index >= 0 {
		list, _ := obj[key].([]any)
		if index >= len(list) {
			t.Fatalf("no %s[%d]", key, index)
		}
		if len(path) == 1 {
			list[index] = value
			return
		}
		child, _ := list[index].(map[string]any)
		setPath(t, child, path[1:], value, del)
		return
	}
	child, ok := obj[key].(map[string]any)
	if !ok {
		child = map[string]any{}
		obj[key] = child
	}
	setPath(t, child, path[1:], value, del)
}

// kubeconfigRow is a hand-written MemberCluster whose kubeconfig Secret holds a refused field.
type kubeconfigRow struct {
	name string
	// cluster and user are the YAML lines under the kubeconfig's cluster and user entries;
	// secret replaces the whole Secret data when set.
	cluster, user string
	secret        map[string]string
	noSecret      bool
	message       string
}

func kubeconfigRows(marker string) []kubeconfigRow {
	exec := fmt.Sprintf("exec:\n  apiVersion: client.authentication.k8s.io/v1\n  interactiveMode: Never\n  command: /bin/sh\n  args: [-c, \"touch %s\"]\n", marker)
	return []kubeconfigRow{
		{name: "kc-exec", user: exec, message: `users["hub"].exec is not allowed`},
		{name: "kc-auth-provider", user: "auth-provider: {name: oidc, config: {idp-issuer-url: https://issuer}}\n", message: `users["hub"].auth-provider is not allowed`},
		{name: "kc-token-file", user: "tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token\n", message: `users["hub"].tokenFile is not allowed`},
		{name: "kc-client-cert-data", user: "token: abc\nclient-certificate-data: " + base64.StdEncoding.EncodeToString([]byte("cert")) + "\n", message: `users["hub"].client-certificate-data is not allowed`},
		{name: "kc-client-key-file", user: "token: abc\nclient-key: /etc/kubernetes/pki/admin.key\n", message: `users["hub"].client-key is not allowed`},
		{name: "kc-basic-auth", user: "username: admin\npassword: hunter2\n", message: `users["hub"].username is not allowed`},
		{name: "kc-impersonation", user: "token: abc\nas: system:admin\nas-groups: [system:masters]\n", message: `users["hub"].as is not allowed`},
		{name: "kc-proxy", cluster: "proxy-url: http://proxy.example:3128\n", user: "token: abc\n", message: `clusters["member"].proxy-url is not allowed`},
		{name: "kc-ca-file", cluster: "certificate-authority: /etc/kubernetes/pki/ca.crt\n", user: "token: abc\n", message: `clusters["member"].certificate-authority (a file path`},
		{name: "kc-no-token", user: "{}\n", message: `users["hub"] has no token`},
		{name: "kc-not-yaml", secret: map[string]string{"kubeconfig": "{{{ not yaml"}, message: "not a kubeconfig"},
		{name: "kc-wrong-key", secret: map[string]string{"config": "x"}, message: `has no key "kubeconfig"`},
		{name: "kc-no-secret", noSecret: true, message: "not found"},
	}
}

func TestBadKubeconfigSecrets(t *testing.T) {
	f := fleet(t)
	m := f.Cluster(1)
	marker := filepath.Join(t.TempDir(), "exec-plugin-ran")
	for _, row := range kubeconfigRows(marker) {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			g := NewWithT(t)
			ctx := context.Background()
			ns := plugin.DefaultNamespace
			data := row.secret
			if data == nil {
				data = map[string]string{"kubeconfig": fmt.Sprintf(`apiVersion: v1
kind: Config
current-context: member
contexts:
- name: member
  context: {cluster: member, user: hub}
clusters:
- name: member
  cluster:
    server: %s
%susers:
- name: hub
  user:
%s`, m.APIURL, indent(row.cluster), indent(row.user))}
			}
			if !row.noSecret {
				s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: row.name, Namespace: ns}, StringData: data}
				g.Expect(f.Hub.Create(ctx, s)).To(Succeed())
				t.Cleanup(func() { _ = f.Hub.Delete(ctx, s) })
			}
			mc := &v1alpha1.MemberCluster{ObjectMeta: metav1.ObjectMeta{Name: row.name, Namespace: ns},
				Spec: v1alpha1.MemberClusterSpec{APIURL: m.APIURL, KubeconfigSecretRef: v1alpha1.SecretKeyRef{Name: row.name}}}
			g.Expect(f.Hub.Create(ctx, mc)).To(Succeed())
			t.Cleanup(func() { _ = f.Hub.Delete(ctx, mc) })
			g.Eventually(func(g Gomega) {
				c := condition(g, f.Hub, "MemberCluster", ns, row.name, v1alpha1.ConditionReady)
				g.Expect(c).NotTo(BeNil())
				g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
				g.Expect(c.Reason).To(Equal(v1alpha1.MemberReasonInvalid))
				g.Expect(c.Message).To(ContainSubstring(row.message))
				g.Expect(c.Message).NotTo(ContainSubstring("hunter2"))
				g.Expect(events(g, f.Hub, ns, row.name, v1alpha1.MemberReasonInvalid)).NotTo(BeEmpty())
			}, timeout, poll).Should(Succeed())
			// It stays refused (no probe ever succeeds), and the exec plugin never ran.
			g.Consistently(func(g Gomega) {
				g.Expect(condition(g, f.Hub, "MemberCluster", ns, row.name, v1alpha1.ConditionReady).Reason).To(Equal(v1alpha1.MemberReasonInvalid))
				_, err := os.Stat(marker)
				g.Expect(os.IsNotExist(err)).To(BeTrue(), "the exec plugin ran")
			}, 3*time.Second, poll).Should(Succeed())
		})
	}
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		b.WriteString("    " + l + "\n")
	}
	return b.String()
}

// Plugin flags that setup-member refuses before it touches either cluster.
func TestBadPluginFlags(t *testing.T) {
	f := fleet(t)
	m := f.Cluster(1)
	http := strings.Replace(m.APIURL, "https://", "http://", 1)
	withCreds := strings.Replace(m.APIURL, "https://", "https://admin:hunter2@", 1)
	for _, row := range []struct {
		name    string
		o       plugin.SetupOptions
		wantErr string
	}{
		{name: "flag-http", o: plugin.SetupOptions{MemberAPIURL: http}, wantErr: "is plain http: the hub's token would cross the network in clear text; use https, or pass --allow-insecure"},
		{name: "flag-url-with-credentials", o: plugin.SetupOptions{MemberAPIURL: withCreds}, wantErr: "it must not carry credentials"},
		{name: "flag-scale-group", o: plugin.SetupOptions{ScaleAPIGroups: []string{"Not_A_Group"}}, wantErr: `invalid API group "Not_A_Group" in --scale-api-groups`},
		{name: "flag-token-ttl", o: plugin.SetupOptions{TokenTTL: time.Minute}, wantErr: "--token-ttl 1m0s is too short"},
		{name: "flag-target-namespace", o: plugin.SetupOptions{TargetNamespaces: []string{"Bad_NS"}}, wantErr: `invalid namespace "Bad_NS" in --target-namespaces`},
		{name: "flag-missing-target-namespace", o: plugin.SetupOptions{TargetNamespaces: []string{"nowhere"}}, wantErr: `target namespace "nowhere" does not exist in the member cluster`},
		{name: "Flag_Bad_Name", wantErr: `invalid member name "Flag_Bad_Name"`},
		{name: "flag-namespace", o: plugin.SetupOptions{Namespace: "Keda"}, wantErr: `invalid namespace "Keda" in --namespace`},
	} {
		t.Run(row.name, func(t *testing.T) {
			g := NewWithT(t)
			o := row.o
			o.Name, o.Hub, o.Member = row.name, f.Env.Hub.Config, m.Config
			_, err := plugin.SetupMember(context.Background(), o)
			g.Expect(err).To(MatchError(ContainSubstring(row.wantErr)))
			g.Expect(err.Error()).NotTo(ContainSubstring("hunter2"))
			// Nothing was registered in the hub, nothing created in the member.
			var mcs v1alpha1.MemberClusterList
			g.Expect(f.Hub.List(context.Background(), &mcs)).To(Succeed())
			for _, mc := range mcs.Items {
				g.Expect(mc.Name).NotTo(Equal(row.name))
			}
			var sas corev1.ServiceAccountList
			g.Expect(f.Member(1).List(context.Background(), &sas, client.MatchingLabels{plugin.LabelMember: row.name})).To(Succeed())
			g.Expect(sas.Items).To(BeEmpty())
		})
	}
}
