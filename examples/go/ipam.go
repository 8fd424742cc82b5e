package netns

/*
#include <stdlib.h>
#include "netns.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"runtime"
)

// IPAMResult is the CNI result of an IPAM ADD (cniVersion 1.0.0), as
// netns_ipam_add returns it.
type IPAMResult struct {
	// CNIVersion is the result's cniVersion ("1.0.0").
	CNIVersion string `json:"cniVersion"`
	// IPs are the addresses allocated, one per range set.
	IPs []IPConfig `json:"ips,omitempty"`
	// Routes are the routes of the IPAM configuration.
	Routes []IPAMRoute `json:"routes,omitempty"`
	// DNS is the DNS section of the IPAM configuration.
	DNS DNS `json:"dns"`
	// Raw is the JSON the library returned, unchanged (for a plugin to
	// pass on).
	Raw []byte `json:"-"`
}

// IPConfig is one allocated address of an IPAMResult.
type IPConfig struct {
	// Interface is the index into the result's interfaces; nil for none
	// (IPAM results list no interfaces).
	Interface *int `json:"interface,omitempty"`
	// Address is the address with its range's prefix length, for example
	// 10.98.0.10/24 (host bits kept).
	Address netip.Prefix `json:"address"`
	// Gateway is the range's gateway; the zero Addr is none.
	Gateway netip.Addr `json:"gateway,omitempty"`
}

// IPAMRoute is a route of an IPAMResult.
type IPAMRoute struct {
	// Dst is the destination, for example 0.0.0.0/0.
	Dst netip.Prefix `json:"dst"`
	// GW is the next hop; the zero Addr is none (the gateway is the
	// plugin's choice).
	GW netip.Addr `json:"gw,omitempty"`
}

// DNS is the DNS section of a CNI result.
type DNS struct {
	Nameservers []string `json:"nameservers,omitempty"`
	Domain      string   `json:"domain,omitempty"`
	Search      []string `json:"search,omitempty"`
	Options     []string `json:"options,omitempty"`
}

// Add is host-local's ADD for (containerID, ifname) with the full CNI
// result: the addresses with their gateways, the configuration's routes and
// DNS. If the library's JSON cannot be parsed (a library bug), the error says
// so and the reservation stays: Release it.
func (p *IPAM) Add(containerID, ifname string) (*IPAMResult, error) {
	var a cstrings
	defer a.free()
	cid, cifname := a.str(containerID), a.str(ifname)
	if a.err != nil {
		return nil, a.err
	}
	var cjson *C.char
	err := call(func(e **C.netns_error) C.int32_t {
		return C.netns_ipam_add(p.ptr, cid, cifname, &cjson, e)
	})
	runtime.KeepAlive(p)
	if err != nil {
		return nil, err
	}
	raw := []byte(C.GoString(cjson))
	C.netns_string_free(cjson)
	res := &IPAMResult{Raw: raw}
	if err := json.Unmarshal(raw, res); err != nil {
		return nil, fmt.Errorf("netns: the library returned the IPAM result %s: %w", raw, err)
	}
	return res, nil
}

// Check is host-local's CHECK for (containerID, ifname): nil when the pair
// holds its addresses.
func (p *IPAM) Check(containerID, ifname string) error {
	var a cstrings
	defer a.free()
	cid, cifname := a.str(containerID), a.str(ifname)
	if a.err != nil {
		return a.err
	}
	err := call(func(e **C.netns_error) C.int32_t {
		return C.netns_ipam_check(p.ptr, cid, cifname, e)
	})
	runtime.KeepAlive(p)
	return err
}
