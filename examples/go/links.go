package netns

/*
#include <stdlib.h>
#include "netns.h"
*/
import "C"

import (
	"fmt"
	"net"
)

// Link is a link as the kernel reports it (ABI v2's netns_link_info).
type Link struct {
	// Index is the interface index.
	Index uint32
	// Name is the interface name.
	Name string
	// Kind is the link's kind ("veth", "bridge", "macvlan", ...); "" for a
	// link without one, such as lo.
	Kind string
	// MTU is the link's MTU.
	MTU uint32
	// MAC is the link-layer address; nil for a link without one.
	MAC net.HardwareAddr
	// Up is whether the link is administratively up (IFF_UP).
	Up bool
	// Controller is the index of the link's controller (its bridge or
	// bond); 0 for none.
	Controller uint32
}

// linkFrom copies a netns_link_info into Go (the info stays the caller's).
func linkFrom(l *C.netns_link_info) (Link, error) {
	out := Link{
		Index:      uint32(C.netns_link_info_index(l)),
		Name:       C.GoString(C.netns_link_info_name(l)),
		Kind:       C.GoString(C.netns_link_info_kind(l)),
		MTU:        uint32(C.netns_link_info_mtu(l)),
		Up:         bool(C.netns_link_info_is_up(l)),
		Controller: uint32(C.netns_link_info_controller(l)),
	}
	if mac := C.netns_link_info_mac(l); mac != nil {
		s := C.GoString(mac)
		hw, err := net.ParseMAC(s)
		if err != nil {
			return Link{}, fmt.Errorf("netns: the library returned the MAC %q of %s: %w", s, out.Name, err)
		}
		out.MAC = hw
	}
	return out, nil
}

// LinkByName returns the link called name; a missing link is ENODEV. Like
// `ip link show dev NAME`.
func (h *Handle) LinkByName(name string) (*Link, error) {
	var a cstrings
	defer a.free()
	cname := a.str(name)
	var info *C.netns_link_info
	err := h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_link_get(p, cname, &info, e)
	})
	if err != nil {
		return nil, err
	}
	defer C.netns_link_info_free(info)
	l, err := linkFrom(info)
	if err != nil {
		return nil, err
	}
	return &l, nil
}

// LinkList returns every link of the handle's namespace, in index order.
// Like `ip link show`.
func (h *Handle) LinkList() ([]Link, error) {
	var list *C.netns_links
	err := h.do(nil, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_link_list(p, &list, e)
	})
	if err != nil {
		return nil, err
	}
	defer C.netns_links_free(list)
	n := int(C.netns_links_len(list))
	out := make([]Link, 0, n)
	for i := 0; i < n; i++ {
		l, err := linkFrom(C.netns_links_get(list, C.size_t(i)))
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// LinkSpec describes a link for LinkAdd and LinkAddIn (and Batch.LinkAdd).
// Kind and Name are required; every other field's zero value means "not
// set", and only the fields set are passed to the library. A field the kind
// does not have is refused by the library with ErrInvalidArgument, naming the
// key and the kind, and a value the key does not take (a mode, a MAC) with
// EINVAL, both before anything is sent; what the kernel decides (a missing
// parent, a taken name, a kind it lacks: EOPNOTSUPP) is its errno.
type LinkSpec struct {
	// Kind is one of veth, bridge, macvlan, macvtap, vlan, ipvlan, vxlan,
	// dummy, bond, vrf.
	Kind string
	// Name is the new link's name.
	Name string
	// Parent is the lower link (macvlan, macvtap, vlan, ipvlan; vxlan's
	// underlay device), looked up in the handle's namespace.
	Parent string
	// Peer is a veth's peer name.
	Peer string
	// PeerNetns is the path of the namespace a veth's peer is created in.
	PeerNetns string
	// MAC is the link-layer address, "aa:bb:cc:dd:ee:ff".
	MAC string
	// Mode is a macvlan, macvtap, ipvlan or bond mode, as ip spells it
	// ("bridge", "l2", "active-backup", ...).
	Mode string
	// MTU is the link's MTU.
	MTU uint32
	// ID is a vlan's id, a vxlan's VNI or a vrf's table.
	ID uint32
	// Up brings the link up as it is created.
	Up bool
	// VlanFiltering turns a bridge's VLAN filtering on (what BridgeVlanAdd
	// needs).
	VlanFiltering bool
}

// cspec builds the library's netns_link_spec for s; the caller frees it with
// C.netns_link_spec_free. On error nothing is left to free.
func (s *LinkSpec) cspec() (*C.netns_link_spec, error) {
	var a cstrings
	defer a.free()
	ckind, cname := a.str(s.Kind), a.str(s.Name)
	if a.err != nil {
		return nil, a.err
	}
	var spec *C.netns_link_spec
	if err := call(func(e **C.netns_error) C.int32_t { return C.netns_link_spec_new(ckind, cname, &spec, e) }); err != nil {
		return nil, err
	}
	type setter func(e **C.netns_error) C.int32_t
	var steps []setter
	str := func(v string, f func(*C.netns_link_spec, *C.char, **C.netns_error) C.int32_t) {
		if v == "" {
			return
		}
		cv := a.str(v)
		steps = append(steps, func(e **C.netns_error) C.int32_t { return f(spec, cv, e) })
	}
	str(s.Parent, func(p *C.netns_link_spec, v *C.char, e **C.netns_error) C.int32_t {
		return C.netns_link_spec_set_parent(p, v, e)
	})
	str(s.Peer, func(p *C.netns_link_spec, v *C.char, e **C.netns_error) C.int32_t {
		return C.netns_link_spec_set_peer(p, v, e)
	})
	str(s.PeerNetns, func(p *C.netns_link_spec, v *C.char, e **C.netns_error) C.int32_t {
		return C.netns_link_spec_set_peer_netns(p, v, e)
	})
	str(s.MAC, func(p *C.netns_link_spec, v *C.char, e **C.netns_error) C.int32_t {
		return C.netns_link_spec_set_mac(p, v, e)
	})
	str(s.Mode, func(p *C.netns_link_spec, v *C.char, e **C.netns_error) C.int32_t {
		return C.netns_link_spec_set_mode(p, v, e)
	})
	if s.MTU != 0 {
		steps = append(steps, func(e **C.netns_error) C.int32_t {
			return C.netns_link_spec_set_mtu(spec, C.uint32_t(s.MTU), e)
		})
	}
	if s.ID != 0 {
		steps = append(steps, func(e **C.netns_error) C.int32_t {
			return C.netns_link_spec_set_id(spec, C.uint32_t(s.ID), e)
		})
	}
	if s.Up {
		steps = append(steps, func(e **C.netns_error) C.int32_t {
			return C.netns_link_spec_set_up(spec, C.bool(true), e)
		})
	}
	if s.VlanFiltering {
		steps = append(steps, func(e **C.netns_error) C.int32_t {
			return C.netns_link_spec_set_vlan_filtering(spec, C.bool(true), e)
		})
	}
	if a.err != nil {
		C.netns_link_spec_free(spec)
		return nil, a.err
	}
	for _, f := range steps {
		if err := call(f); err != nil {
			C.netns_link_spec_free(spec)
			return nil, err
		}
	}
	return spec, nil
}

// LinkAdd creates the link s describes in the handle's namespace. Like
// `ip link add [link PARENT] NAME [address MAC] [mtu N] type KIND ...`.
func (h *Handle) LinkAdd(s LinkSpec) error {
	spec, err := s.cspec()
	if err != nil {
		return err
	}
	defer C.netns_link_spec_free(spec)
	return h.do(nil, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_link_add(p, spec, e)
	})
}

// LinkAddIn creates the link s describes directly in the namespace at
// nsPath, under its name; its parent (if any) is looked up in the handle's
// namespace. Like `ip link add link PARENT NAME netns NS type KIND ...`.
func (h *Handle) LinkAddIn(s LinkSpec, nsPath string) error {
	spec, err := s.cspec()
	if err != nil {
		return err
	}
	defer C.netns_link_spec_free(spec)
	var a cstrings
	defer a.free()
	cpath := a.str(nsPath)
	return h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_link_add_in(p, spec, cpath, e)
	})
}
