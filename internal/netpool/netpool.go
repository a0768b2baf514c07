package netpool

import (
	"fmt"
	"net/netip"
)

// MaxSize bounds how many addresses a pool may offer.
const MaxSize = 1 << 16

// Candidates parses a CIDR prefix and returns its usable addresses in
// order: the network address and (for IPv4 prefixes shorter than /31) the
// broadcast address are left out.
func Candidates(cidr string) ([]string, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return nil, fmt.Errorf("netpool: %w", err)
	}
	p = p.Masked()
	bits := p.Addr().BitLen() - p.Bits()
	if bits > 16 {
		return nil, fmt.Errorf("netpool: prefix %s is too large (at most %d addresses)", p, MaxSize)
	}
	n := 1 << bits
	out := make([]string, 0, n)
	a := p.Addr()
	for i := 0; i < n; i++ {
		skip := p.Addr().Is4() && bits >= 2 && (i == 0 || i == n-1)
		if !skip {
			out = append(out, a.String())
		}
		a = a.Next()
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("netpool: prefix %s has no usable address", p)
	}
	return out, nil
}
