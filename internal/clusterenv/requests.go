package clusterenv

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
)

// RequestCount is one series of the apiserver's apiserver_request_total: its labels (verb,
// resource, subresource, code, ...) and its value.
type RequestCount struct {
	Labels map[string]string
	Value  float64
}

// RequestCounts reads apiserver_request_total from the cluster's /metrics: what benchmarks
// and tests count the requests a controller made with.
func (c *Cluster) RequestCounts(ctx context.Context) ([]RequestCount, error) {
	raw, err := c.Clientset().CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("metrics of %s: %w", c.Name, err)
	}
	var out []RequestCount
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "apiserver_request_total{")
		if !ok {
			continue
		}
		end := strings.LastIndexByte(rest, '}')
		if end < 0 {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest[end+1:]), 64)
		if err != nil {
			continue
		}
		labels := map[string]string{}
		for _, kv := range strings.Split(rest[:end], ",") {
			if k, val, ok := strings.Cut(kv, "="); ok {
				labels[k] = strings.Trim(val, `"`)
			}
		}
		out = append(out, RequestCount{Labels: labels, Value: v})
	}
	return out, sc.Err()
}
