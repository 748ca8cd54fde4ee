package bench

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// netNS is a network namespace joined to the host by a veth pair, with a /30 of 10.213.0.0/16
// on the pair only: KEDA's metrics server listens on NSIP, which the aggregator can dial
// (EndpointSlices refuse loopback addresses) and which no other machine can reach.
type netNS struct {
	Name   string
	HostIP netip.Addr // the host end of the pair
	NSIP   netip.Addr // the namespace end
}

// nsPrefix names the namespaces (and, shortened, the veths) the benchmark creates; the pid of
// the benchmark binary follows, so a leftover from a killed run can be told apart and removed.
const nsPrefix = "fsbench-"

// newNetNS creates the namespace and the veth pair and deletes both in tb.Cleanup (deleting
// the namespace destroys the pair). It needs root and iproute2's ip.
func newNetNS(tb testing.TB) (*netNS, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("creating a network namespace needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, errors.New("ip not found: apt-get install -y iproute2")
	}
	removeStaleNetNS(tb)
	pid := os.Getpid()
	n := &netNS{Name: nsPrefix + strconv.Itoa(pid)}
	hostIf, nsIf := fmt.Sprintf("fsb%dh", pid), fmt.Sprintf("fsb%dn", pid)
	hostIP, nsIP, err := freeSubnet(pid)
	if err != nil {
		return nil, err
	}
	n.HostIP, n.NSIP = hostIP, nsIP
	if err := ip("netns", "add", n.Name); err != nil {
		return nil, err
	}
	tb.Cleanup(func() {
		if err := ip("netns", "del", n.Name); err != nil {
			tb.Errorf("remove network namespace: %v", err)
		}
	})
	steps := [][]string{
		{"link", "add", hostIf, "type", "veth", "peer", "name", nsIf},
		{"link", "set", nsIf, "netns", n.Name},
		{"addr", "add", hostIP.String() + "/30", "dev", hostIf},
		{"link", "set", hostIf, "up"},
		{"-n", n.Name, "addr", "add", nsIP.String() + "/30", "dev", nsIf},
		{"-n", n.Name, "link", "set", nsIf, "up"},
		{"-n", n.Name, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			_ = ip("link", "del", hostIf)
			return nil, err
		}
	}
	return n, nil
}

// Exec returns argv run inside the namespace. ip netns exec execs argv in place, so the PID
// (and the parent-death signal) stay those of the process started.
func (n *netNS) Exec(argv ...string) []string {
	return append([]string{"ip", "netns", "exec", n.Name}, argv...)
}

// removeStaleNetNS deletes namespaces left by benchmark runs whose process is gone (killed
// before its cleanup ran).
func removeStaleNetNS(tb testing.TB) {
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(strings.TrimPrefix(e.Name(), nsPrefix))
		if !strings.HasPrefix(e.Name(), nsPrefix) || err != nil {
			continue
		}
		if syscall.Kill(pid, 0) == nil {
			continue // its benchmark still runs
		}
		if err := ip("netns", "del", e.Name()); err != nil {
			tb.Logf("stale network namespace %s: %v", e.Name(), err)
		} else {
			tb.Logf("removed network namespace %s left by an earlier run", e.Name())
		}
	}
}

// freeSubnet picks a /30 in 10.213.0.0/16 that no local interface uses, starting at one
// derived from pid so that concurrent runs do not collide.
func freeSubnet(pid int) (host, ns netip.Addr, err error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return host, ns, err
	}
	used := func(p netip.Prefix) bool {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(ipn.IP); ok && p.Contains(ip.Unmap()) {
					return true
				}
			}
		}
		return false
	}
	const subnets = 1 << 14 // /30s in a /16
	for i := 0; i < subnets; i++ {
		idx := (pid + i) % subnets
		base := netip.AddrFrom4([4]byte{10, 213, byte(idx >> 6), byte(idx&63) << 2})
		if p := netip.PrefixFrom(base, 30); !used(p) {
			host = base.Next()
			return host, host.Next(), nil
		}
	}
	return host, ns, errors.New("no free /30 in 10.213.0.0/16")
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
