package netns

/*
#include <stdlib.h>
#include "netns.h"
*/
import "C"

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// AddrReplace adds addr to ifname, or updates it if ifname has it already.
// Like `ip addr replace CIDR dev IFNAME`.
func (h *Handle) AddrReplace(ifname string, addr netip.Prefix) error {
	var a cstrings
	defer a.free()
	cifname, ccidr := a.str(ifname), a.str(addr.String())
	return h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_addr_replace(p, cifname, ccidr, e)
	})
}

// Neigh is a neighbour (ARP or NDP) entry.
type Neigh struct {
	// IP is the neighbour's address.
	IP netip.Addr
	// MAC is its link-layer address; nil for none (an incomplete or
	// failed entry).
	MAC net.HardwareAddr
	// LinkIndex is the index of the link the entry is on.
	LinkIndex uint32
	// State is the entry's NUD state as ip prints it: "PERMANENT",
	// "REACHABLE", "STALE", ...
	State string
}

// neighArgs converts a neighbour's address and MAC for the library; a
// missing address or MAC is EINVAL before anything is sent.
func neighArgs(a *cstrings, ip netip.Addr, mac net.HardwareAddr) (cip, cmac *C.char, err error) {
	if !ip.IsValid() {
		return nil, nil, &Error{code: int32(syscall.EINVAL), message: "netns: neighbour: no IP address"}
	}
	if len(mac) == 0 {
		return nil, nil, &Error{code: int32(syscall.EINVAL), message: fmt.Sprintf("netns: neighbour %v: no MAC address", ip)}
	}
	return a.str(ip.String()), a.str(mac.String()), nil
}

// NeighAdd adds a permanent neighbour entry ip -> mac on ifname; an existing
// entry is EEXIST. Like `ip neigh add IP lladdr MAC dev IFNAME nud permanent`.
func (h *Handle) NeighAdd(ifname string, ip netip.Addr, mac net.HardwareAddr) error {
	var a cstrings
	defer a.free()
	cip, cmac, err := neighArgs(&a, ip, mac)
	if err != nil {
		return err
	}
	cifname := a.str(ifname)
	return h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_neigh_add(p, cifname, cip, cmac, e)
	})
}

// NeighReplace adds or replaces a permanent neighbour entry. Like
// `ip neigh replace IP lladdr MAC dev IFNAME nud permanent`.
func (h *Handle) NeighReplace(ifname string, ip netip.Addr, mac net.HardwareAddr) error {
	var a cstrings
	defer a.free()
	cip, cmac, err := neighArgs(&a, ip, mac)
	if err != nil {
		return err
	}
	cifname := a.str(ifname)
	return h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_neigh_replace(p, cifname, cip, cmac, e)
	})
}

// NeighDel deletes the neighbour entry of ip on ifname. Like
// `ip neigh del IP dev IFNAME`.
func (h *Handle) NeighDel(ifname string, ip netip.Addr) error {
	if !ip.IsValid() {
		return &Error{code: int32(syscall.EINVAL), message: "netns: neighbour: no IP address"}
	}
	var a cstrings
	defer a.free()
	cifname, cip := a.str(ifname), a.str(ip.String())
	return h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_neigh_del(p, cifname, cip, e)
	})
}

// NeighList returns the neighbour entries of ifname ("": of every link).
// Like `ip neigh show [dev IFNAME]`.
func (h *Handle) NeighList(ifname string) ([]Neigh, error) {
	var a cstrings
	defer a.free()
	cifname := a.opt(ifname)
	var list *C.netns_neighs
	err := h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_neigh_list(p, cifname, &list, e)
	})
	if err != nil {
		return nil, err
	}
	defer C.netns_neighs_free(list)
	n := int(C.netns_neighs_len(list))
	out := make([]Neigh, 0, n)
	for i := 0; i < n; i++ {
		c := C.netns_neighs_get(list, C.size_t(i))
		s := C.GoString(C.netns_neigh_ip(c))
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("netns: the library returned the neighbour address %q: %w", s, err)
		}
		nb := Neigh{
			IP:        ip,
			LinkIndex: uint32(C.netns_neigh_link_index(c)),
			State:     C.GoString(C.netns_neigh_state(c)),
		}
		if m := C.netns_neigh_mac(c); m != nil {
			s := C.GoString(m)
			if nb.MAC, err = net.ParseMAC(s); err != nil {
				return nil, fmt.Errorf("netns: the library returned the neighbour MAC %q: %w", s, err)
			}
		}
		out = append(out, nb)
	}
	return out, nil
}

// BridgeVlan is a VLAN of a bridge port (or of the bridge itself).
type BridgeVlan struct {
	// VID is the VLAN id, 1..4094.
	VID uint16
	// PVID is whether untagged ingress frames get this VLAN.
	PVID bool
	// Untagged is whether egress frames of this VLAN leave untagged.
	Untagged bool
}

// BridgeVlanAdd adds VLAN vid to ifname, a port of a VLAN-filtering bridge
// or the bridge itself. Like
// `bridge vlan add dev IFNAME vid VID [pvid] [untagged] [self]`.
func (h *Handle) BridgeVlanAdd(ifname string, vid uint16, pvid, untagged bool) error {
	var a cstrings
	defer a.free()
	cifname := a.str(ifname)
	return h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_bridge_vlan_add(p, cifname, C.uint16_t(vid), C.bool(pvid), C.bool(untagged), e)
	})
}

// BridgeVlanDel removes VLAN vid from ifname. Like
// `bridge vlan del dev IFNAME vid VID`.
func (h *Handle) BridgeVlanDel(ifname string, vid uint16) error {
	var a cstrings
	defer a.free()
	cifname := a.str(ifname)
	return h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_bridge_vlan_del(p, cifname, C.uint16_t(vid), e)
	})
}

// BridgeVlanList returns the VLANs of ifname. Like
// `bridge vlan show dev IFNAME`.
func (h *Handle) BridgeVlanList(ifname string) ([]BridgeVlan, error) {
	var a cstrings
	defer a.free()
	cifname := a.str(ifname)
	var list *C.netns_bridge_vlans
	err := h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_bridge_vlan_list(p, cifname, &list, e)
	})
	if err != nil {
		return nil, err
	}
	defer C.netns_bridge_vlans_free(list)
	n := int(C.netns_bridge_vlans_len(list))
	out := make([]BridgeVlan, 0, n)
	for i := 0; i < n; i++ {
		ci := C.size_t(i)
		out = append(out, BridgeVlan{
			VID:      uint16(C.netns_bridge_vlans_vid(list, ci)),
			PVID:     bool(C.netns_bridge_vlans_is_pvid(list, ci)),
			Untagged: bool(C.netns_bridge_vlans_is_untagged(list, ci)),
		})
	}
	return out, nil
}

// SysctlGet reads a sysctl of the handle's namespace, key as sysctl(8)
// spells it (net.ipv4.ip_forward, net.ipv4.conf.IF.KEY,
// net.ipv6.conf.IF.KEY). Like `sysctl -n KEY` inside the namespace.
func (h *Handle) SysctlGet(key string) (string, error) {
	var a cstrings
	defer a.free()
	ckey := a.str(key)
	var cval *C.char
	err := h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_sysctl_get(p, ckey, &cval, e)
	})
	if err != nil {
		return "", err
	}
	defer C.netns_string_free(cval)
	return C.GoString(cval), nil
}

// SysctlSet writes a sysctl of the handle's namespace. Like
// `sysctl -w KEY=VALUE` inside the namespace.
func (h *Handle) SysctlSet(key, value string) error {
	var a cstrings
	defer a.free()
	ckey, cval := a.str(key), a.str(value)
	return h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_sysctl_set(p, ckey, cval, e)
	})
}
