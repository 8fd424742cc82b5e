package netns

/*
#include <stdlib.h>
#include "netns.h"
*/
import "C"

import (
	"fmt"
	"net/netip"
	"syscall"
)

// routeFrom copies a netns_route into Go (the route stays the caller's).
//
// The library names every default route "default" and tells the families
// apart with netns_route_family. The zero Prefix stands for a default
// route of its Gateway's family, IPv4 without one, so an IPv6 default route
// without a gateway becomes ::/0 (which RouteAdd, RouteReplace and RouteDel
// pass on as such): a listed route can be given back as it is.
func routeFrom(r *C.netns_route) (Route, error) {
	v6 := C.netns_route_family(r) == C.int32_t(syscall.AF_INET6)
	out := Route{
		LinkIndex: uint32(C.netns_route_link_index(r)),
		Metric:    uint32(C.netns_route_metric(r)),
		Table:     uint32(C.netns_route_table(r)),
	}
	if dst := C.GoString(C.netns_route_dst(r)); dst != "default" {
		p, err := netip.ParsePrefix(dst)
		if err != nil {
			return Route{}, fmt.Errorf("netns: the library returned the route destination %q: %w", dst, err)
		}
		out.Dst = p
	}
	if gw := C.netns_route_gateway(r); gw != nil {
		s := C.GoString(gw)
		a, err := netip.ParseAddr(s)
		if err != nil {
			return Route{}, fmt.Errorf("netns: the library returned the gateway %q: %w", s, err)
		}
		out.Gateway = a
	}
	if v6 && !out.Dst.IsValid() && !out.Gateway.IsValid() {
		out.Dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
	}
	return out, nil
}

// RouteList returns the routes of one table of the handle's namespace.
// family is 0 (both: IPv4 then IPv6), syscall.AF_INET or syscall.AF_INET6;
// table 0 is the main table. Like `ip [-4|-6] route show [table T]`, with the
// kernel's own routes (connected prefixes, IPv6 link-local). A default route
// is the zero Dst, except an IPv6 one without a gateway: ::/0 (see Route).
func (h *Handle) RouteList(family int, table uint32) ([]Route, error) {
	var list *C.netns_routes
	err := h.do(nil, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_route_list(p, C.int32_t(family), C.uint32_t(table), &list, e)
	})
	if err != nil {
		return nil, err
	}
	defer C.netns_routes_free(list)
	n := int(C.netns_routes_len(list))
	out := make([]Route, 0, n)
	for i := 0; i < n; i++ {
		r, err := routeFrom(C.netns_routes_get(list, C.size_t(i)))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// RouteGet returns the route the kernel would use to reach dst. Like
// `ip route get DST`.
func (h *Handle) RouteGet(dst netip.Addr) (*Route, error) {
	if !dst.IsValid() {
		return nil, &Error{code: int32(syscall.EINVAL), message: "netns: RouteGet: no destination address"}
	}
	var a cstrings
	defer a.free()
	cdst := a.str(dst.String())
	var r *C.netns_route
	err := h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_route_get(p, cdst, &r, e)
	})
	if err != nil {
		return nil, err
	}
	defer C.netns_route_free(r)
	out, err := routeFrom(r)
	if err != nil {
		return nil, err
	}
	return &out, nil
}
