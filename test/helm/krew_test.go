package helm

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"text/template"

	"sigs.k8s.io/yaml"
)

// krewPlugin is the part of krew's Plugin manifest (v1alpha2) the test reads.
type krewPlugin struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string `json:"version"`
		Homepage         string `json:"homepage"`
		ShortDescription string `json:"shortDescription"`
		Description      string `json:"description"`
		Caveats          string `json:"caveats"`
		Platforms        []struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			URI    string `json:"uri"`
			Sha256 string `json:"sha256"`
			Files  []struct {
				From string `json:"from"`
				To   string `json:"to"`
			} `json:"files"`
			Bin string `json:"bin"`
		} `json:"platforms"`
	} `json:"spec"`
}

// The krew manifest template renders, the way krew-release-bot renders it, into a valid
// manifest for the four platforms; the completion helper it ships calls the plugin.
func TestKrewManifest(t *testing.T) {
	const tag = "v1.2.3"
	const sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tmpl, err := template.New("fleetscale.yaml").Funcs(template.FuncMap{
		// krew-release-bot's addURIAndSha renders the URL with the tag, downloads it and
		// prints uri and sha256 (the second line indented by 4 spaces).
		"addURIAndSha": func(url, tag string) (string, error) {
			var b bytes.Buffer
			if err := template.Must(template.New("url").Parse(url)).Execute(&b, map[string]string{"TagName": tag}); err != nil {
				return "", err
			}
			return fmt.Sprintf("uri: %s\n    sha256: %s", b.String(), sha), nil
		},
	}).ParseFiles("../../hack/krew/fleetscale.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, map[string]string{"TagName": tag}); err != nil {
		t.Fatal(err)
	}
	var p krewPlugin
	if err := yaml.UnmarshalStrict(out.Bytes(), &p); err != nil {
		t.Fatalf("rendered manifest: %v\n%s", err, out.String())
	}
	if p.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || p.Kind != "Plugin" || p.Metadata.Name != "fleetscale" ||
		p.Spec.Version != tag || p.Spec.ShortDescription == "" || !strings.Contains(p.Spec.Description, "mc setup-member") {
		t.Errorf("manifest header: %+v", p)
	}
	var platforms []string
	for _, pl := range p.Spec.Platforms {
		osArch := pl.Selector.MatchLabels["os"] + "_" + pl.Selector.MatchLabels["arch"]
		platforms = append(platforms, osArch)
		wantURI := "https://github.com/fleetscale/fleetscale/releases/download/" + tag + "/kubectl-fleetscale_" + tag + "_" + osArch + ".tar.gz"
		if pl.URI != wantURI || pl.Sha256 != sha || pl.Bin != "kubectl-fleetscale" {
			t.Errorf("%s: uri %q sha256 %q bin %q, want uri %q", osArch, pl.URI, pl.Sha256, pl.Bin, wantURI)
		}
		var files []string
		for _, f := range pl.Files {
			files = append(files, f.From)
		}
		if !slices.Contains(files, "kubectl-fleetscale") || !slices.Contains(files, "kubectl_complete-fleetscale") {
			t.Errorf("%s: files %v lack the plugin or its completion helper", osArch, files)
		}
	}
	slices.Sort(platforms)
	if want := []string{"darwin_amd64", "darwin_arm64", "linux_amd64", "linux_arm64"}; !slices.Equal(platforms, want) {
		t.Errorf("platforms %v, want %v", platforms, want)
	}

	const helper = "../../hack/krew/kubectl_complete-fleetscale"
	fi, err := os.Stat(helper)
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(helper)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o111 != 0o111 || !strings.HasPrefix(string(script), "#!") ||
		!strings.Contains(string(script), `kubectl-fleetscale __complete "$@"`) {
		t.Errorf("%s (mode %v) is not an executable script running kubectl-fleetscale __complete \"$@\"", helper, fi.Mode())
	}
}
