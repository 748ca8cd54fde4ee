package clusterenv

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

func TestKwokStagesCompleteJobPodsAfterTheDuration(t *testing.T) {
	g := NewWithT(t)
	bin := t.TempDir()
	for _, f := range shippedStages {
		p := filepath.Join(bin, f)
		g.Expect(os.MkdirAll(filepath.Dir(p), 0o755)).To(Succeed())
		g.Expect(os.WriteFile(p, []byte("apiVersion: kwok.x-k8s.io/v1alpha1\nkind: Stage\nmetadata:\n  name: "+filepath.Base(f)+"\n"), 0o644)).To(Succeed())
	}
	stages, err := kwokStages(bin, 2500*time.Millisecond)
	g.Expect(err).NotTo(HaveOccurred())

	type stage struct {
		Kind     string
		Metadata struct{ Name string }
		Spec     struct {
			Delay struct {
				DurationMilliseconds int64 `json:"durationMilliseconds"`
			}
		}
	}
	var got []stage
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(stages)), 4096)
	for {
		var s stage
		if err := dec.Decode(&s); errors.Is(err, io.EOF) {
			break
		} else {
			g.Expect(err).NotTo(HaveOccurred())
		}
		if s.Kind != "" {
			got = append(got, s)
		}
	}
	g.Expect(got).To(HaveLen(len(shippedStages) + 1))
	last := got[len(got)-1]
	g.Expect(last.Metadata.Name).To(Equal("job-pod-complete"))
	g.Expect(last.Spec.Delay.DurationMilliseconds).To(BeEquivalentTo(2500))
}
