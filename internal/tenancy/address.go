package tenancy

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/fleetscale/fleetscale/api/v1alpha1"
)

// address is a trigger's host:port, normalised for matching.
type address struct {
	host string
	port int32
	ip   netip.Addr // valid only when host is an IP literal
}

// parseAddress accepts only host:port. Anything else (a gRPC target with a scheme such as
// dns:/// or unix:, a missing port) cannot be matched against the rules, so it is refused
// wherever addresses are restricted.
func parseAddress(s string) (address, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return address{}, errors.New("it is not a host:port address")
	}
	if strings.ContainsAny(host, "/@") || host == "" {
		return address{}, errors.New("it is not a host:port address")
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return address{}, errors.New("its port is not a number from 1 to 65535")
	}
	a := address{host: normaliseHost(host), port: int32(n)}
	if ip, err := netip.ParseAddr(a.host); err == nil {
		a.ip = ip.Unmap()
	}
	return a, nil
}

func normaliseHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

func (a address) matches(rule v1alpha1.AddressRule) bool {
	if len(rule.Ports) > 0 && !slices.Contains(rule.Ports, a.port) {
		return false
	}
	if rule.CIDR != "" {
		prefix, err := netip.ParsePrefix(rule.CIDR)
		return err == nil && a.ip.IsValid() && prefix.Masked().Contains(a.ip)
	}
	want := normaliseHost(rule.Host)
	if ip, err := netip.ParseAddr(want); err == nil {
		return a.ip.IsValid() && a.ip == ip.Unmap()
	}
	if a.ip.IsValid() {
		return false
	}
	if suffix, ok := strings.CutPrefix(want, "*"); ok {
		// "*.team-a.svc" matches every name below team-a.svc, not team-a.svc itself.
		return strings.HasSuffix(a.host, suffix) && len(a.host) > len(suffix)
	}
	return a.host == want
}
