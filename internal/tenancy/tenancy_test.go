package tenancy

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

func policy(name string, spec v1alpha1.TenantPolicySpec) v1alpha1.TenantPolicy {
	return v1alpha1.TenantPolicy{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
}

// check runs one question and compares the answer: want "" is allowed, otherwise every
// "|"-separated part must be in the refusal's message, and the reason must be reason.
func check(t *testing.T, err error, reason, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("refused, want allowed: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("allowed, want a refusal containing %q", want)
	}
	if got := ReasonOf(err); got != reason {
		t.Errorf("reason %q, want %q (%v)", got, reason, err)
	}
	for _, part := range strings.Split(want, "|") {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("message %q lacks %q", err.Error(), part)
		}
	}
}

func TestTargetNamespace(t *testing.T) {
	teamA := policy("team-a-extra", v1alpha1.TenantPolicySpec{Namespaces: []string{"team-a"}, TargetNamespaces: []string{"kube-system", "shared-*"}})
	byLabel := policy("labelled", v1alpha1.TenantPolicySpec{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "platform"}},
		TargetNamespaces:  []string{"*"},
	})
	broken := policy("broken", v1alpha1.TenantPolicySpec{
		NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "bad key!", Operator: metav1.LabelSelectorOpExists}}},
		TargetNamespaces:  []string{"*"},
	})
	for _, tc := range []struct {
		name     string
		policies []v1alpha1.TenantPolicy
		ns       string
		labels   map[string]string
		target   string
		want     string
	}{
		{name: "own namespace, no policy", ns: "team-a", target: "team-a"},
		{name: "other namespace, no policy", ns: "team-a", target: "kube-system",
			want: `member namespace "kube-system" is not allowed for objects in hub namespace "team-a"|act only on member namespace "team-a"|TenantPolicy that selects namespace "team-a" and lists "kube-system" in spec.targetNamespaces`},
		{name: "allowed by name", policies: []v1alpha1.TenantPolicy{teamA}, ns: "team-a", target: "kube-system"},
		{name: "allowed by prefix", policies: []v1alpha1.TenantPolicy{teamA}, ns: "team-a", target: "shared-cache"},
		{name: "prefix is not a substring match", policies: []v1alpha1.TenantPolicy{teamA}, ns: "team-a", target: "not-shared-x",
			want: `"not-shared-x" is not allowed|TenantPolicy team-a-extra allows kube-system, shared-*`},
		{name: "policy for another namespace", policies: []v1alpha1.TenantPolicy{teamA}, ns: "team-b", target: "kube-system",
			want: `hub namespace "team-b"`},
		{name: "selector matches", policies: []v1alpha1.TenantPolicy{byLabel}, ns: "ops", labels: map[string]string{"tier": "platform"}, target: "anything"},
		{name: "selector does not match", policies: []v1alpha1.TenantPolicy{byLabel}, ns: "ops", labels: map[string]string{"tier": "apps"}, target: "anything",
			want: `"anything" is not allowed`},
		{name: "union of two policies", policies: []v1alpha1.TenantPolicy{byLabel, teamA}, ns: "team-a", labels: map[string]string{"tier": "platform"}, target: "x"},
		{name: "an invalid selector selects nothing, and says so", policies: []v1alpha1.TenantPolicy{broken}, ns: "team-a", target: "kube-system",
			want: `TenantPolicy broken selects nothing by label: its namespaceSelector is invalid`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Compile(tc.policies).For(tc.ns, tc.labels)
			check(t, r.TargetNamespace(tc.target), ReasonNamespaceNotAllowed, tc.want)
		})
	}
}

func TestClusterTriggerAuthentication(t *testing.T) {
	named := policy("a", v1alpha1.TenantPolicySpec{Namespaces: []string{"team-a"}, ClusterTriggerAuthentications: []string{"shared-redis"}})
	all := policy("b", v1alpha1.TenantPolicySpec{Namespaces: []string{"ops"}, ClusterTriggerAuthentications: []string{"*"}})
	for _, tc := range []struct {
		name, ns, cta, want string
	}{
		{name: "none by default", ns: "team-b", cta: "shared-redis",
			want: `ClusterTriggerAuthentication "shared-redis" is not allowed for objects in hub namespace "team-b"|may use none|lists "shared-redis" in spec.clusterTriggerAuthentications`},
		{name: "named", ns: "team-a", cta: "shared-redis"},
		{name: "another name", ns: "team-a", cta: "aws", want: `"aws" is not allowed|TenantPolicy a allows shared-redis`},
		{name: "wildcard", ns: "ops", cta: "aws"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Compile([]v1alpha1.TenantPolicy{named, all}).For(tc.ns, nil)
			check(t, r.ClusterTriggerAuthentication(tc.cta), ReasonClusterTriggerAuthenticationNotAllowed, tc.want)
		})
	}
}

func TestExternalAddress(t *testing.T) {
	restrict := policy("restrict", v1alpha1.TenantPolicySpec{
		NamespaceSelector: &metav1.LabelSelector{},
		ExternalAddresses: &v1alpha1.ExternalAddresses{Allow: []v1alpha1.AddressRule{
			{Host: "*.team-a.svc.cluster.local", Ports: []int32{9090}},
			{Host: "Scaler.Example.com"},
			{CIDR: "10.1.0.0/16", Ports: []int32{443, 8443}},
			{Host: "fd00::1"},
		}},
	})
	nothing := policy("nothing", v1alpha1.TenantPolicySpec{Namespaces: []string{"locked"}, ExternalAddresses: &v1alpha1.ExternalAddresses{Allow: []v1alpha1.AddressRule{}}})
	silent := policy("silent", v1alpha1.TenantPolicySpec{Namespaces: []string{"team-a"}, TargetNamespaces: []string{"x"}})
	const refused = "none of the rules matches"
	for _, tc := range []struct {
		name     string
		policies []v1alpha1.TenantPolicy
		ns       string
		address  string
		want     string
	}{
		{name: "any address without a restricting policy", policies: []v1alpha1.TenantPolicy{silent}, ns: "team-a", address: "anything.example:1"},
		{name: "even a gRPC target when nothing restricts", ns: "team-a", address: "unix:///var/run/x.sock"},
		{name: "wildcard host and port", policies: []v1alpha1.TenantPolicy{restrict}, ns: "team-a", address: "keda-scalers.team-a.svc.cluster.local:9090"},
		{name: "wildcard does not match the domain itself", policies: []v1alpha1.TenantPolicy{restrict}, ns: "team-a", address: "team-a.svc.cluster.local:9090", want: refused},
		{name: "wildcard, other port", policies: []v1alpha1.TenantPolicy{restrict}, ns: "team-a", address: "x.team-a.svc.cluster.local:9091",
			want: refused + `|TenantPolicy restrict restricts|{host: "x.team-a.svc.cluster.local", ports: [9091]}`},
		{name: "suffix trick", policies: []v1alpha1.TenantPolicy{restrict}, ns: "team-a", address: "evil-team-a.svc.cluster.local:9090", want: refused},
		{name: "host, case and trailing dot", policies: []v1alpha1.TenantPolicy{restrict}, ns: "team-a", address: "scaler.example.COM.:1234"},
		{name: "CIDR", policies: []v1alpha1.TenantPolicy{restrict}, ns: "team-a", address: "10.1.2.3:8443"},
		{name: "CIDR, IPv4-mapped IPv6", policies: []v1alpha1.TenantPolicy{restrict}, ns: "team-a", address: "[::ffff:10.1.2.3]:443"},
		{name: "outside the CIDR", policies: []v1alpha1.TenantPolicy{restrict}, ns: "team-a", address: "10.2.0.1:443", want: refused},
		{name: "a name never matches a CIDR", policies: []v1alpha1.TenantPolicy{restrict}, ns: "team-a", address: "ten.internal:443", want: refused},
		{name: "IPv6 host", policies: []v1alpha1.TenantPolicy{restrict}, ns: "team-a", address: "[fd00:0::1]:80"},
		{name: "no port", policies: []v1alpha1.TenantPolicy{restrict}, ns: "team-a", address: "scaler.example.com", want: "not a host:port address"},
		{name: "gRPC scheme", policies: []v1alpha1.TenantPolicy{restrict}, ns: "team-a", address: "dns:///scaler.example.com:443", want: "not a host:port address"},
		{name: "port out of range", policies: []v1alpha1.TenantPolicy{restrict}, ns: "team-a", address: "scaler.example.com:70000", want: "port is not a number"},
		{name: "an empty allow list allows none", policies: []v1alpha1.TenantPolicy{nothing}, ns: "locked", address: "scaler.example.com:443", want: "TenantPolicy nothing restricts"},
		{name: "union over the restricting policies", policies: []v1alpha1.TenantPolicy{nothing, restrict}, ns: "locked", address: "scaler.example.com:443"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Compile(tc.policies).For(tc.ns, nil)
			check(t, r.ExternalAddress(tc.address), ReasonExternalAddressNotAllowed, tc.want)
		})
	}
}

func pod(mutate func(*corev1.PodTemplateSpec)) *corev1.PodTemplateSpec {
	p := &corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever,
		Containers:    []corev1.Container{{Name: "main", Image: "busybox"}},
	}}
	if mutate != nil {
		mutate(p)
	}
	return p
}

// restrictedPod meets the restricted level.
func restrictedPod(p *corev1.PodTemplateSpec) {
	p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false),
		Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
}

func TestPodTemplate(t *testing.T) {
	level := func(name, l string, namespaces ...string) v1alpha1.TenantPolicy {
		return policy(name, v1alpha1.TenantPolicySpec{Namespaces: namespaces, PodSecurity: &v1alpha1.PodSecurity{Level: l}})
	}
	privileged := func(p *corev1.PodTemplateSpec) {
		p.Spec.HostPID = true
		p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true)}
	}
	for _, tc := range []struct {
		name     string
		policies []v1alpha1.TenantPolicy
		pod      *corev1.PodTemplateSpec
		want     string
	}{
		{name: "plain pod under the default baseline", pod: pod(nil)},
		{name: "privileged hostPID under the default", pod: pod(privileged),
			want: `violates Pod Security level "baseline" (the default for every hub namespace)|host namespaces (hostPID=true)|privileged (container "main" must not set securityContext.privileged=true)|sets spec.podSecurity.level: privileged`},
		{name: "hostNetwork and host port", pod: pod(func(p *corev1.PodTemplateSpec) {
			p.Spec.HostNetwork = true
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 80}}
		}), want: "hostNetwork=true|hostPort"},
		{name: "hostPath volume", pod: pod(func(p *corev1.PodTemplateSpec) {
			p.Spec.Volumes = []corev1.Volume{{Name: "root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}
		}), want: `hostPath volumes (volume "root")`},
		{name: "added capability", pod: pod(func(p *corev1.PodTemplateSpec) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN"}}}
		}), want: "SYS_ADMIN"},
		{name: "AppArmor unconfined by annotation", pod: pod(func(p *corev1.PodTemplateSpec) {
			p.Annotations = map[string]string{corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix + "main": "unconfined"}
		}), want: "AppArmor"},
		{name: "init container hostIPC", pod: pod(func(p *corev1.PodTemplateSpec) {
			p.Spec.HostIPC = true
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox"}}
		}), want: "hostIPC=true"},
		{name: "privileged allowed by a policy", policies: []v1alpha1.TenantPolicy{level("ops", v1alpha1.PodSecurityPrivileged, "team-a")}, pod: pod(privileged)},
		{name: "privileged policy for another namespace", policies: []v1alpha1.TenantPolicy{level("ops", v1alpha1.PodSecurityPrivileged, "team-b")}, pod: pod(privileged),
			want: "the default for every hub namespace"},
		{name: "restricted refuses a plain pod, baseline would do", policies: []v1alpha1.TenantPolicy{level("strict", v1alpha1.PodSecurityRestricted, "team-a")}, pod: pod(nil),
			want: `level "restricted" (set by TenantPolicy strict)|runAsNonRoot|sets spec.podSecurity.level: baseline`},
		{name: "restricted pod under restricted", policies: []v1alpha1.TenantPolicy{level("strict", v1alpha1.PodSecurityRestricted, "team-a")}, pod: pod(restrictedPod)},
		{name: "most permissive of several", policies: []v1alpha1.TenantPolicy{
			level("strict", v1alpha1.PodSecurityRestricted, "team-a"), level("ops", v1alpha1.PodSecurityPrivileged, "team-a")}, pod: pod(privileged)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Compile(tc.policies).For("team-a", nil)
			check(t, r.PodTemplate(tc.pod), ReasonPodSecurityViolation, tc.want)
		})
	}
}

func TestPodSecurityLevel(t *testing.T) {
	mk := func(name, l string) v1alpha1.TenantPolicy {
		return policy(name, v1alpha1.TenantPolicySpec{Namespaces: []string{"ns"}, PodSecurity: &v1alpha1.PodSecurity{Level: l}})
	}
	for _, tc := range []struct {
		policies []v1alpha1.TenantPolicy
		level    string
		from     string
	}{
		{nil, "baseline", ""},
		{[]v1alpha1.TenantPolicy{mk("a", "restricted")}, "restricted", "a"},
		{[]v1alpha1.TenantPolicy{mk("b", "baseline"), mk("a", "restricted"), mk("c", "baseline")}, "baseline", "b,c"},
		{[]v1alpha1.TenantPolicy{mk("z", "privileged"), mk("a", "restricted")}, "privileged", "z"},
	} {
		level, from := Compile(tc.policies).For("ns", nil).PodSecurityLevel()
		if level != tc.level || strings.Join(from, ",") != tc.from {
			t.Errorf("PodSecurityLevel() = %s from %v, want %s from %s", level, from, tc.level, tc.from)
		}
	}
}

func TestPolicyNamesAndLabels(t *testing.T) {
	p := Compile([]v1alpha1.TenantPolicy{
		policy("z", v1alpha1.TenantPolicySpec{Namespaces: []string{"a"}}),
		policy("m", v1alpha1.TenantPolicySpec{Namespaces: []string{"a", "b"}}),
	})
	if p.NeedsLabels() {
		t.Error("NeedsLabels without any selector")
	}
	if got := strings.Join(p.For("a", nil).PolicyNames(), ","); got != "m,z" {
		t.Errorf("PolicyNames = %s, want m,z (sorted)", got)
	}
	sel := Compile([]v1alpha1.TenantPolicy{policy("s", v1alpha1.TenantPolicySpec{NamespaceSelector: &metav1.LabelSelector{}})})
	if !sel.NeedsLabels() || len(sel.For("any", nil).PolicyNames()) != 1 {
		t.Error("an empty namespaceSelector must select every namespace")
	}
	if Default("a").TargetNamespace("b") == nil {
		t.Error("Default allows a foreign namespace")
	}
}

// A nil Checker answers with the defaults, never with "allow everything".
func TestNilCheckerIsStrict(t *testing.T) {
	var c *Checker
	r, err := c.Rules(t.Context(), "team-a")
	if err != nil {
		t.Fatal(err)
	}
	check(t, r.TargetNamespace("kube-system"), ReasonNamespaceNotAllowed, "kube-system")
	check(t, c.AllowClusterTriggerAuthentication(t.Context(), "team-a", "x"), ReasonClusterTriggerAuthenticationNotAllowed, `"x"`)
	check(t, c.AllowExternalAddress(t.Context(), "team-a", "a:1"), "", "")
}

// What admit costs per reconcile: compile 100 policies, pick a namespace's rules, check a
// target namespace and a pod template.
func BenchmarkAdmit(b *testing.B) {
	var items []v1alpha1.TenantPolicy
	for i := range 100 {
		items = append(items, policy(fmt.Sprintf("p%03d", i), v1alpha1.TenantPolicySpec{
			Namespaces:        []string{fmt.Sprintf("team-%d", i)},
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": fmt.Sprint(i)}},
			TargetNamespaces:  []string{"shared-*", fmt.Sprintf("team-%d-batch", i)},
		}))
	}
	tpl := pod(restrictedPod)
	labels := map[string]string{"team": "42"}
	b.ReportAllocs()
	for b.Loop() {
		r := Compile(items).For("team-42", labels)
		if r.TargetNamespace("team-42-batch") != nil || r.PodTemplate(tpl) != nil {
			b.Fatal("refused")
		}
	}
}
