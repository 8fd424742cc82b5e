// Package netns is a Go binding of the netns C ABI (include/netns.h, ABI
// version 2): network namespaces, links (created from a LinkSpec of any kind,
// in the handle's namespace or another, and read back as Link values),
// addresses, routes (written and read), neighbours, bridge VLANs, sysctls,
// batches of changes and host-local IPAM (with CNI results), without any
// namespace switching on Go's threads.
//
// Every function may be called from any goroutine, with no
// runtime.LockOSThread: the library does its work inside other namespaces on
// short-lived threads of its own, and never changes the namespace of the
// calling thread.
//
// Errors are *Error values carrying the code the library returned: for an
// errno, errors.Is(err, syscall.EEXIST) (or fs.ErrExist) works; for a library
// code, errors.Is(err, netns.ErrIPAMDuplicate).
//
// Building: cgo finds the header in ../../include and, by default, libnetns.so
// in ../../target/debug (made by `cargo build -p netns-ffi`), with that
// directory as the binary's run path. To use another build of the library,
// set CGO_LDFLAGS="-L DIR -Wl,-rpath,DIR": its flags come before the
// package's, so DIR wins. examples/tests/go_user.rs runs the tests that way.
package netns

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -L${SRCDIR}/../../target/debug -Wl,-rpath,${SRCDIR}/../../target/debug -lnetns
#include <stdlib.h>
#include "netns.h"
*/
import "C"

import (
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"syscall"
	"unsafe"
)

// Version is the library's version, "netns-ffi/<version>".
func Version() string { return C.GoString(C.netns_version()) }

// ABIVersion is the version of the C ABI (2).
func ABIVersion() uint32 { return uint32(C.netns_abi_version()) }

// call runs a C function whose last parameter is netns_error **err and turns
// a failure into an *Error (freeing the library's error object).
func call(f func(**C.netns_error) C.int32_t) error {
	var cerr *C.netns_error
	rc := f(&cerr)
	if rc == 0 {
		return nil
	}
	e := &Error{code: int32(rc)}
	if cerr != nil {
		e.message = C.GoString(C.netns_error_message(cerr))
		C.netns_error_free(cerr)
	} else {
		e.message = Code(rc).Error()
	}
	return e
}

// cstrings holds the C copies of a call's string arguments until free.
type cstrings struct {
	ptrs []unsafe.Pointer
	err  error
}

// str is a C copy of s; a NUL byte in s (which C would silently cut) makes
// the call fail with EINVAL before anything is sent.
func (a *cstrings) str(s string) *C.char {
	if strings.IndexByte(s, 0) >= 0 {
		if a.err == nil {
			a.err = &Error{code: int32(syscall.EINVAL), message: fmt.Sprintf("netns: %q contains a NUL byte", s)}
		}
		return nil
	}
	p := C.CString(s)
	a.ptrs = append(a.ptrs, unsafe.Pointer(p))
	return p
}

// opt is str, with "" as NULL (the C ABI's "absent").
func (a *cstrings) opt(s string) *C.char {
	if s == "" {
		return nil
	}
	return a.str(s)
}

func (a *cstrings) free() {
	for _, p := range a.ptrs {
		C.free(p)
	}
	a.ptrs = nil
}

// takeList copies a string list into Go and frees it.
func takeList(l *C.netns_string_list) []string {
	defer C.netns_string_list_free(l)
	n := int(C.netns_string_list_len(l))
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, C.GoString(C.netns_string_list_get(l, C.size_t(i))))
	}
	return out
}

func parsePrefixes(ss []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ss))
	for _, s := range ss {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("netns: the library returned %q: %w", s, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// CreateNamed creates the named namespace name in dir ("": /run/netns), like
// `ip netns add NAME`.
func CreateNamed(dir, name string) error {
	var a cstrings
	defer a.free()
	cdir, cname := a.opt(dir), a.str(name)
	if a.err != nil {
		return a.err
	}
	return call(func(e **C.netns_error) C.int32_t { return C.netns_ns_create_named(cdir, cname, e) })
}

// DeleteNamed deletes the named namespace name from dir ("": /run/netns),
// like `ip netns del NAME`.
func DeleteNamed(dir, name string) error {
	var a cstrings
	defer a.free()
	cdir, cname := a.opt(dir), a.str(name)
	if a.err != nil {
		return a.err
	}
	return call(func(e **C.netns_error) C.int32_t { return C.netns_ns_delete_named(cdir, cname, e) })
}

// ListNamed returns the names in dir ("": /run/netns), sorted, like
// `ip netns list`.
func ListNamed(dir string) ([]string, error) {
	var a cstrings
	defer a.free()
	cdir := a.opt(dir)
	if a.err != nil {
		return nil, a.err
	}
	var l *C.netns_string_list
	if err := call(func(e **C.netns_error) C.int32_t { return C.netns_ns_list(cdir, &l, e) }); err != nil {
		return nil, err
	}
	return takeList(l), nil
}

// Spawn starts argv[0] with arguments argv inside the namespace at nsPath,
// like `ip netns exec` (own mount namespace, /sys remounted). The caller
// must Wait for the returned process.
func Spawn(nsPath string, argv []string) (*os.Process, error) {
	var a cstrings
	defer a.free()
	cpath := a.str(nsPath)
	// A Go array of C pointers may be passed to C (it holds no Go pointers).
	cargv := make([]*C.char, len(argv)+1)
	for i, s := range argv {
		cargv[i] = a.str(s)
	}
	if a.err != nil {
		return nil, a.err
	}
	var pid C.int32_t
	err := call(func(e **C.netns_error) C.int32_t { return C.netns_spawn(cpath, &cargv[0], &pid, e) })
	if err != nil {
		return nil, err
	}
	return os.FindProcess(int(pid))
}

// Handle is a netlink handle bound to one namespace. It may be used from any
// goroutine (the library serialises calls on it); Close must not race with
// other calls.
type Handle struct {
	ptr *C.netns_handle
}

// NewHandle opens a handle on the namespace at nsPath ("": the namespace of
// the calling thread, which for Go is the process's unless some code moved a
// thread). The library opens the socket inside the namespace on a thread of
// its own.
func NewHandle(nsPath string) (*Handle, error) {
	var a cstrings
	defer a.free()
	cpath := a.opt(nsPath)
	if a.err != nil {
		return nil, a.err
	}
	var ptr *C.netns_handle
	if err := call(func(e **C.netns_error) C.int32_t { return C.netns_handle_new(cpath, &ptr, e) }); err != nil {
		return nil, err
	}
	h := &Handle{ptr: ptr}
	runtime.SetFinalizer(h, (*Handle).Close)
	return h, nil
}

// Close frees the handle (a second Close is a no-op). Calls on a closed
// handle fail with ErrNullPointer.
func (h *Handle) Close() error {
	if h.ptr != nil {
		C.netns_handle_free(h.ptr)
		h.ptr = nil
	}
	runtime.SetFinalizer(h, nil)
	return nil
}

// do runs a call on the handle, keeping h (and so its finalizer) alive until
// the C call has returned.
func (h *Handle) do(args *cstrings, f func(*C.netns_handle, **C.netns_error) C.int32_t) error {
	if args != nil && args.err != nil {
		return args.err
	}
	err := call(func(e **C.netns_error) C.int32_t { return f(h.ptr, e) })
	runtime.KeepAlive(h)
	return err
}

// LinkAddVeth creates a veth pair name/peer; the peer is created directly in
// the namespace at peerNsPath unless it is "". Like
// `ip link add NAME type veth peer name PEER [netns NS]`.
func (h *Handle) LinkAddVeth(name, peer, peerNsPath string) error {
	var a cstrings
	defer a.free()
	cname, cpeer, cns := a.str(name), a.str(peer), a.opt(peerNsPath)
	return h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_link_add_veth(p, cname, cpeer, cns, e)
	})
}

// LinkAddBridge creates a bridge. Like `ip link add NAME type bridge`.
func (h *Handle) LinkAddBridge(name string) error {
	var a cstrings
	defer a.free()
	cname := a.str(name)
	return h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_link_add_bridge(p, cname, e)
	})
}

// LinkAddMacvlan creates a macvlan on parent; mode is bridge, private, vepa,
// passthru or source. Like `ip link add link PARENT NAME type macvlan mode M`.
func (h *Handle) LinkAddMacvlan(name, parent, mode string) error {
	var a cstrings
	defer a.free()
	cname, cparent, cmode := a.str(name), a.str(parent), a.str(mode)
	return h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_link_add_macvlan(p, cname, cparent, cmode, e)
	})
}

// LinkAddVlan creates an 802.1Q VLAN id on parent. Like
// `ip link add link PARENT NAME type vlan id N`.
func (h *Handle) LinkAddVlan(name, parent string, id uint16) error {
	var a cstrings
	defer a.free()
	cname, cparent := a.str(name), a.str(parent)
	return h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_link_add_vlan(p, cname, cparent, C.uint16_t(id), e)
	})
}

// LinkAddVxlan creates a VXLAN with id vni, over parent unless it is "", to
// UDP port dstport (0: the kernel's default). Like
// `ip link add NAME type vxlan id VNI [dev PARENT] [dstport P]`.
func (h *Handle) LinkAddVxlan(name string, vni uint32, parent string, dstport uint16) error {
	var a cstrings
	defer a.free()
	cname, cparent := a.str(name), a.opt(parent)
	return h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_link_add_vxlan(p, cname, C.uint32_t(vni), cparent, C.uint16_t(dstport), e)
	})
}

// LinkDel deletes a link. Like `ip link del NAME`.
func (h *Handle) LinkDel(name string) error {
	var a cstrings
	defer a.free()
	cname := a.str(name)
	return h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_link_del(p, cname, e)
	})
}

// LinkIndex returns the index of a link.
func (h *Handle) LinkIndex(name string) (uint32, error) {
	var a cstrings
	defer a.free()
	cname := a.str(name)
	var idx C.uint32_t
	err := h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_link_index(p, cname, &idx, e)
	})
	return uint32(idx), err
}

// LinkSetUp brings a link up. Like `ip link set NAME up`.
func (h *Handle) LinkSetUp(name string) error {
	var a cstrings
	defer a.free()
	cname := a.str(name)
	return h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_link_set_up(p, cname, e)
	})
}

// LinkSetDown brings a link down. Like `ip link set NAME down`.
func (h *Handle) LinkSetDown(name string) error {
	var a cstrings
	defer a.free()
	cname := a.str(name)
	return h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_link_set_down(p, cname, e)
	})
}

// LinkSetMTU sets the MTU. Like `ip link set NAME mtu N`.
func (h *Handle) LinkSetMTU(name string, mtu uint32) error {
	var a cstrings
	defer a.free()
	cname := a.str(name)
	return h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_link_set_mtu(p, cname, C.uint32_t(mtu), e)
	})
}

// LinkSetName renames a link. Like `ip link set NAME name NEW`.
func (h *Handle) LinkSetName(name, newName string) error {
	var a cstrings
	defer a.free()
	cname, cnew := a.str(name), a.str(newName)
	return h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_link_set_name(p, cname, cnew, e)
	})
}

// LinkSetController attaches a link to a bridge. Like
// `ip link set NAME master CONTROLLER`.
func (h *Handle) LinkSetController(name, controller string) error {
	var a cstrings
	defer a.free()
	cname, cctl := a.str(name), a.str(controller)
	return h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_link_set_controller(p, cname, cctl, e)
	})
}

// LinkSetNoController detaches a link from its bridge. Like
// `ip link set NAME nomaster`.
func (h *Handle) LinkSetNoController(name string) error {
	var a cstrings
	defer a.free()
	cname := a.str(name)
	return h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_link_set_controller(p, cname, nil, e)
	})
}

// LinkSetNetns moves a link into the namespace at nsPath. Like
// `ip link set NAME netns NS`.
func (h *Handle) LinkSetNetns(name, nsPath string) error {
	var a cstrings
	defer a.free()
	cname, cpath := a.str(name), a.str(nsPath)
	return h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_link_set_netns(p, cname, cpath, e)
	})
}

// LinkNames returns the names of all links, in index order.
func (h *Handle) LinkNames() ([]string, error) {
	var l *C.netns_string_list
	err := h.do(nil, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_link_names(p, &l, e)
	})
	if err != nil {
		return nil, err
	}
	return takeList(l), nil
}

// AddrAdd adds addr (address and prefix length) to ifname; an IPv4 address
// gets its prefix's broadcast address. Like `ip addr add CIDR brd + dev IFNAME`.
func (h *Handle) AddrAdd(ifname string, addr netip.Prefix) error {
	var a cstrings
	defer a.free()
	cifname, ccidr := a.str(ifname), a.str(addr.String())
	return h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_addr_add(p, cifname, ccidr, e)
	})
}

// AddrDel removes addr from ifname. Like `ip addr del CIDR dev IFNAME`.
func (h *Handle) AddrDel(ifname string, addr netip.Prefix) error {
	var a cstrings
	defer a.free()
	cifname, ccidr := a.str(ifname), a.str(addr.String())
	return h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_addr_del(p, cifname, ccidr, e)
	})
}

// AddrList returns the addresses of ifname ("": of every link), IPv4 first.
func (h *Handle) AddrList(ifname string) ([]netip.Prefix, error) {
	var a cstrings
	defer a.free()
	cifname := a.opt(ifname)
	var l *C.netns_string_list
	err := h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_addr_list(p, cifname, &l, e)
	})
	if err != nil {
		return nil, err
	}
	return parsePrefixes(takeList(l))
}

// Route is a route: what RouteAdd, RouteReplace and RouteDel take, and what
// RouteList and RouteGet return.
type Route struct {
	// Dst is the destination; the zero Prefix is the default route (of
	// Gateway's family, IPv4 without one). RouteList and RouteGet report
	// a default route so too, except an IPv6 one without a gateway, which
	// is ::/0 (passed on as such): a listed route can be given back to
	// RouteDel as it is.
	Dst netip.Prefix
	// Gateway is the next hop; the zero Addr is none.
	Gateway netip.Addr
	// Dev is the output link by name; "" is none. RouteList and RouteGet
	// leave it "" and report LinkIndex.
	Dev string
	// LinkIndex is the output link by index; 0 is none. RouteAdd,
	// RouteReplace and RouteDel use it when Dev is "" (looking its name
	// up); when both are set, Dev is used.
	LinkIndex uint32
	// Metric is the priority; 0 is none (ignored by RouteDel).
	Metric uint32
	// Table is the routing table; RouteList and RouteGet report it (254 is
	// main). RouteAdd, RouteReplace and RouteDel work on the main table
	// only: 0 and 254 are accepted, any other table is EINVAL.
	Table uint32
}

// tableMain is RT_TABLE_MAIN.
const tableMain = 254

// cargs converts r for the v1 route calls, which take the output link by
// name and work on the main table.
func (r *Route) cargs(h *Handle, a *cstrings) (dst, gw, dev *C.char, err error) {
	if r.Table != 0 && r.Table != tableMain {
		return nil, nil, nil, &Error{code: int32(syscall.EINVAL),
			message: fmt.Sprintf("netns: route to %v: table %d: only the main table (0 or 254) can be changed", r.Dst, r.Table)}
	}
	name := r.Dev
	if name == "" && r.LinkIndex != 0 {
		links, err := h.LinkList()
		if err != nil {
			return nil, nil, nil, err
		}
		for _, l := range links {
			if l.Index == r.LinkIndex {
				name = l.Name
			}
		}
		if name == "" {
			return nil, nil, nil, &Error{code: int32(syscall.ENODEV),
				message: fmt.Sprintf("netns: route to %v: no link with index %d", r.Dst, r.LinkIndex)}
		}
	}
	if r.Dst.IsValid() {
		dst = a.str(r.Dst.String())
	} else {
		dst = a.str("default")
	}
	if r.Gateway.IsValid() {
		gw = a.str(r.Gateway.String())
	}
	return dst, gw, a.opt(name), a.err
}

// RouteAdd adds a route. Like `ip route add DST [via GW] [dev DEV] [metric M]`.
func (h *Handle) RouteAdd(r Route) error {
	var a cstrings
	defer a.free()
	dst, gw, dev, err := r.cargs(h, &a)
	if err != nil {
		return err
	}
	return h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_route_add(p, dst, gw, dev, C.uint32_t(r.Metric), e)
	})
}

// RouteReplace adds or replaces a route. Like `ip route replace ...`.
func (h *Handle) RouteReplace(r Route) error {
	var a cstrings
	defer a.free()
	dst, gw, dev, err := r.cargs(h, &a)
	if err != nil {
		return err
	}
	return h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_route_replace(p, dst, gw, dev, C.uint32_t(r.Metric), e)
	})
}

// RouteDel deletes a route, narrowed by Gateway and Dev (or LinkIndex) when
// set. Like `ip route del DST [via GW] [dev DEV]`.
func (h *Handle) RouteDel(r Route) error {
	var a cstrings
	defer a.free()
	dst, gw, dev, err := r.cargs(h, &a)
	if err != nil {
		return err
	}
	return h.do(&a, func(p *C.netns_handle, e **C.netns_error) C.int32_t {
		return C.netns_route_del(p, dst, gw, dev, e)
	})
}

// IPAM is an allocator with host-local semantics over one network's data
// directory (shareable with the host-local plugin).
type IPAM struct {
	ptr *C.netns_ipam
}

// NewIPAM opens an allocator for a CNI network configuration (JSON with a
// "name" and an "ipam" section: ranges or subnet, dataDir...), validated as
// host-local validates it.
func NewIPAM(configJSON []byte) (*IPAM, error) {
	var a cstrings
	defer a.free()
	cjson := a.str(string(configJSON))
	if a.err != nil {
		return nil, a.err
	}
	var ptr *C.netns_ipam
	if err := call(func(e **C.netns_error) C.int32_t { return C.netns_ipam_new(cjson, &ptr, e) }); err != nil {
		return nil, err
	}
	p := &IPAM{ptr: ptr}
	runtime.SetFinalizer(p, (*IPAM).Close)
	return p, nil
}

// Close frees the allocator (reservations stay on disk). A second Close is a
// no-op.
func (p *IPAM) Close() error {
	if p.ptr != nil {
		C.netns_ipam_free(p.ptr)
		p.ptr = nil
	}
	runtime.SetFinalizer(p, nil)
	return nil
}

// Allocate is host-local's ADD for (containerID, ifname): one address per
// range set, with the range's prefix length.
func (p *IPAM) Allocate(containerID, ifname string) ([]netip.Prefix, error) {
	var a cstrings
	defer a.free()
	cid, cifname := a.str(containerID), a.str(ifname)
	if a.err != nil {
		return nil, a.err
	}
	var l *C.netns_string_list
	err := call(func(e **C.netns_error) C.int32_t {
		return C.netns_ipam_allocate(p.ptr, cid, cifname, &l, e)
	})
	runtime.KeepAlive(p)
	if err != nil {
		return nil, err
	}
	return parsePrefixes(takeList(l))
}

// Release is host-local's DEL for (containerID, ifname); releasing nothing
// is not an error.
func (p *IPAM) Release(containerID, ifname string) error {
	var a cstrings
	defer a.free()
	cid, cifname := a.str(containerID), a.str(ifname)
	if a.err != nil {
		return a.err
	}
	err := call(func(e **C.netns_error) C.int32_t {
		return C.netns_ipam_release(p.ptr, cid, cifname, e)
	})
	runtime.KeepAlive(p)
	return err
}
