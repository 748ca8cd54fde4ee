package bench

import (
	"net/netip"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"
)

// These few pure tests run in make test; the benchmark itself only with -bench.

func TestSummarizeUsesNearestRank(t *testing.T) {
	g := NewWithT(t)
	var ds []time.Duration
	for i := 10; i >= 1; i-- { // unsorted on purpose
		ds = append(ds, time.Duration(i)*time.Second)
	}
	s := summarize(ds)
	g.Expect(s.N).To(Equal(10))
	g.Expect(s.P50).To(Equal(5 * time.Second))
	g.Expect(s.P90).To(Equal(9 * time.Second))
	g.Expect(s.Max).To(Equal(10 * time.Second))
	g.Expect(s.Mean).To(Equal(5500 * time.Millisecond))
	g.Expect(ds[0]).To(Equal(10*time.Second), "summarize must not reorder its input")
	g.Expect(summarize(nil)).To(Equal(stats{}))
}

func TestRatioNeedsBothSides(t *testing.T) {
	g := NewWithT(t)
	g.Expect(ratio(7500*time.Millisecond, 50*time.Millisecond)).To(Equal("150×"))
	g.Expect(ratio(600*time.Millisecond, 200*time.Millisecond)).To(Equal("3.0×"))
	g.Expect(ratio(0, 50*time.Millisecond)).To(BeEmpty())
	g.Expect(ratio(time.Second, 0)).To(BeEmpty())
}

// Both systems get the same spec but for the target's name: the DSO embeds exactly what the
// ScaledObject has.
func TestScaledObjectAndDSOShareTheSpec(t *testing.T) {
	g := NewWithT(t)
	for _, r := range peerRows {
		var so, dso map[string]any
		g.Expect(yaml.Unmarshal([]byte(scaledObjectManifest(r)), &so)).To(Succeed())
		g.Expect(yaml.Unmarshal([]byte(dsoManifest(r)), &dso)).To(Succeed())
		g.Expect(so["kind"]).To(Equal("ScaledObject"))
		g.Expect(dso["kind"]).To(Equal("DistributedScaledObject"))
		soSpec := so["spec"].(map[string]any)
		dsoSpec := dso["spec"].(map[string]any)["scaledObjectSpec"].(map[string]any)
		g.Expect(soSpec["scaleTargetRef"]).To(HaveKeyWithValue("name", kedaTarget))
		g.Expect(dsoSpec["scaleTargetRef"]).To(HaveKeyWithValue("name", fleetTarget))
		soSpec["scaleTargetRef"], dsoSpec["scaleTargetRef"] = nil, nil
		g.Expect(dsoSpec).To(Equal(soSpec), r.Name)
		if r.PollingInterval > 0 {
			g.Expect(soSpec).To(HaveKeyWithValue("pollingInterval", BeNumerically("==", r.PollingInterval)))
		} else {
			g.Expect(soSpec).NotTo(HaveKey("pollingInterval"), "the defaults row must leave KEDA's default")
		}
	}
}

func TestFreeSubnetIsAPrivateSlash30(t *testing.T) {
	g := NewWithT(t)
	pool := netip.MustParsePrefix("10.213.0.0/16")
	for _, pid := range []int{1, 4242, 1 << 22} {
		host, ns, err := freeSubnet(pid)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(pool.Contains(host) && pool.Contains(ns)).To(BeTrue(), "%v %v", host, ns)
		g.Expect(host.Next()).To(Equal(ns))
		p, err := host.Prefix(30)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(p.Addr().Next()).To(Equal(host), "host is the first usable address of its /30")
		g.Expect(p.Contains(ns)).To(BeTrue())
	}
}

func TestTableSaysWhatWasNotMeasured(t *testing.T) {
	g := NewWithT(t)
	res := []peerResult{{
		Row: peerRows[0], Changes: 2,
		KEDA:       systemResult{System: "KEDA", Failed: "KEDA did not start: APIService not Available"},
		Fleetscale: systemResult{System: "fleetscale", Delays: []time.Duration{40 * time.Millisecond, 60 * time.Millisecond}},
	}}
	table := renderTable(res)
	g.Expect(table).To(ContainSubstring("defaults, KEDA: NOT MEASURED"))
	g.Expect(table).To(ContainSubstring("APIService not Available"))
	// Of 40 and 60 ms: p50 40 (1st), p90 and max 60 (2nd), mean 50.
	g.Expect(table).To(MatchRegexp(`fleetscale\s+2/2\s+40 ms\s+60 ms\s+60 ms\s+50 ms`))
	g.Expect(complete(res)).To(BeFalse())
}
