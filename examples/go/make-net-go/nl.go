package main

// What make-net asks of the netns package, in one place: the link lookups of
// the C ABI v2 (netns_link_get), the route listing, and the handles of the
// namespaces involved, all by namespace path. Nothing here (or anywhere in
// make-net-go) switches a thread's namespace: the library opens each socket
// inside its namespace on a thread of its own.

import (
	"net/netip"
	"syscall"

	"example.invalid/netns"
)

// ownNetnsPath names the plugin's own namespace for the library (the peer's
// target with peer: host). Every thread of the process is in it: nothing
// in make-net-go moves a thread.
const ownNetnsPath = "/proc/self/ns/net"

// linkInfo is what make-net needs to know of a link.
type linkInfo struct {
	index uint32
	name  string
	kind  string
	mac   string // "aa:bb:cc:dd:ee:ff", "" for none
	up    bool
}

// linkGet is the link name in h's namespace (ip link show NAME).
func linkGet(h *netns.Handle, name string) (*linkInfo, error) {
	l, err := h.LinkByName(name)
	if err != nil {
		return nil, err
	}
	info := &linkInfo{index: l.Index, name: l.Name, kind: l.Kind, up: l.Up}
	if len(l.MAC) > 0 {
		info.mac = l.MAC.String()
	}
	return info, nil
}

// kernelRoute is a route of the main table as CHECK compares it.
type kernelRoute struct {
	dst netip.Prefix
	gw  netip.Addr
}

// mainRoutes is the main table's routes of the family of v4.
func mainRoutes(h *netns.Handle, v4 bool) ([]kernelRoute, error) {
	family := syscall.AF_INET6
	if v4 {
		family = syscall.AF_INET
	}
	rs, err := h.RouteList(family, 0)
	if err != nil {
		return nil, err
	}
	out := make([]kernelRoute, 0, len(rs))
	for _, r := range rs {
		dst := r.Dst
		if !dst.IsValid() {
			// The default route.
			if v4 {
				dst = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
			} else {
				dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
			}
		}
		out = append(out, kernelRoute{dst: dst.Masked(), gw: r.Gateway})
	}
	return out, nil
}
