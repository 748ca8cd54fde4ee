package clusterenv_test

import (
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/fleetscale/fleetscale/internal/clusterenv"
)

func TestFindBinDirSaysHowToBuildMissingBinaries(t *testing.T) {
	g := NewWithT(t)
	empty := t.TempDir()
	t.Setenv(clusterenv.BinDirEnv, empty)
	_, err := clusterenv.FindBinDir()
	g.Expect(err).To(MatchError(And(ContainSubstring(empty), ContainSubstring("kube-apiserver"), ContainSubstring("run make k8s-bins"))))
}

func TestRepoRootHoldsGoMod(t *testing.T) {
	g := NewWithT(t)
	root, err := clusterenv.RepoRoot()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(filepath.Join(root, "go.mod")).To(BeARegularFile())
	g.Expect(filepath.Join(root, "hack", "k8s-bins.sh")).To(BeAnExistingFile())
}

func TestReadCRDsSkipsOtherKinds(t *testing.T) {
	g := NewWithT(t)
	crds, err := clusterenv.ReadCRDs("testdata/crds")
	g.Expect(err).NotTo(HaveOccurred())
	var names []string
	for _, c := range crds {
		names = append(names, c.Name)
	}
	// File name order: sprockets.yml, then the two of widgets.yaml.
	g.Expect(names).To(Equal([]string{
		"sprockets.clusterenv.fleetscale.test",
		"widgets.clusterenv.fleetscale.test",
		"gadgets.clusterenv.fleetscale.test",
	}))

	_, err = clusterenv.ReadCRDs(t.TempDir())
	g.Expect(err).To(MatchError(ContainSubstring("no CustomResourceDefinitions")))
	_, err = clusterenv.ReadCRDs(filepath.Join(t.TempDir(), "absent"))
	g.Expect(os.IsNotExist(err)).To(BeTrue())
}
