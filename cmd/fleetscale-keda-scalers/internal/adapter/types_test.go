package adapter

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// kedaDir is where the go command keeps the KEDA module of go.mod.
func kedaDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/kedacore/keda/v2").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/kedacore/keda/v2: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// The module builds KEDA's scalers with the dependency versions KEDA pins: every module KEDA's
// go.mod requires is selected at exactly that version (none forced up by this module), and
// KEDA's replace and exclude lines are copied.
func TestModuleKeepsKEDAVersions(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Path}} {{.Version}}", "all").Output()
	if err != nil {
		t.Fatalf("go list -m all: %v", err)
	}
	selected := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if path, version, ok := strings.Cut(line, " "); ok {
			selected[path] = version
		}
	}
	gomod, err := os.ReadFile(filepath.Join(kedaDir(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	ours, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	required := 0
	for _, line := range strings.Split(string(gomod), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && strings.HasPrefix(line, "\t") && strings.Contains(f[0], "."):
			required++
			if got := selected[f[0]]; got != f[1] {
				t.Errorf("%s: KEDA requires %s, this module selects %q", f[0], f[1], got)
			}
		case len(f) > 0 && (f[0] == "replace" || f[0] == "exclude"):
			if !strings.Contains(string(ours), strings.Join(f, " ")) {
				t.Errorf("KEDA's go.mod line %q is not in this module's go.mod", strings.Join(f, " "))
			}
		}
	}
	if required < 100 {
		t.Fatalf("read only %d requirements from KEDA's go.mod", required)
	}
}

// The type table is KEDA's buildScaler switch (pkg/scaling/scalers_builder.go of the KEDA
// version in go.mod) minus Excluded: every case KEDA has is served or excluded with a reason,
// and nothing else is served. A KEDA upgrade that adds a type fails here until it is added.
func TestTypesMatchKEDA(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(kedaDir(t), "pkg", "scaling", "scalers_builder.go"))
	if err != nil {
		t.Fatal(err)
	}
	body := string(src)
	start, end := strings.Index(body, "// TRIGGERS-START"), strings.Index(body, "// TRIGGERS-END")
	if start < 0 || end < start {
		t.Fatal("scalers_builder.go has no TRIGGERS-START ... TRIGGERS-END block any more")
	}
	var keda []string
	for _, m := range regexp.MustCompile(`case "([a-z0-9-]+)":`).FindAllStringSubmatch(body[start:end], -1) {
		keda = append(keda, m[1])
	}
	slices.Sort(keda)
	if len(keda) < 70 {
		t.Fatalf("found only %d trigger types in KEDA's builder: %v", len(keda), keda)
	}
	var want []string
	for _, typ := range keda {
		if _, excluded := Excluded[typ]; !excluded {
			want = append(want, typ)
		}
	}
	if got := Types(); !slices.Equal(got, want) {
		t.Errorf("served types differ from KEDA's builder minus Excluded:\n got %v\nwant %v", got, want)
	}
	for _, typ := range slices.Sorted(maps.Keys(Excluded)) {
		if !slices.Contains(keda, typ) {
			t.Errorf("excluded type %q is not one of KEDA's", typ)
		}
	}
	t.Logf("KEDA has %d trigger types; %d served here, %d excluded", len(keda), len(Types()), len(Excluded))
}

// A metrics-api trigger that would list a Service's endpoints is refused before KEDA's
// scaler, which would need a client of the member cluster, is built.
func TestMetricsAPIEndpointAggregationRefused(t *testing.T) {
	tr := &trigger{Type: "metrics-api", Metadata: map[string]string{"url": "http://x", "valueLocation": "v", "targetValue": "1", "aggregateFromKubeServiceEndpoints": "True"}}
	if _, err := constructors["metrics-api"](t.Context(), tr.scalerConfig(DefaultHTTPTimeout)); err != errEndpointAggregation {
		t.Fatalf("err = %v, want %v", err, errEndpointAggregation)
	}
	tr.Metadata["aggregateFromKubeServiceEndpoints"] = "false"
	s, err := constructors["metrics-api"](t.Context(), tr.scalerConfig(DefaultHTTPTimeout))
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close(t.Context())
}
