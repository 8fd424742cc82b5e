package netns

/*
#include <stdlib.h>
#include "netns.h"
*/
import "C"

import (
	"net"
	"net/netip"
	"runtime"
	"syscall"
)

// Batch collects requests that Execute sends together, with one outcome per
// request; a refused request does not stop the others. A Batch is not safe
// for concurrent use; Execute may be called more than once (each time sending
// every request collected).
//
// As the library is now, AddrAdd, RouteAdd and NeighReplace look their link
// up when Execute starts, before any request is applied: they cannot name a
// link a LinkAdd of the same batch creates (that outcome is ENODEV). LinkSetUp
// and LinkDel name the link in the request and can.
type Batch struct {
	ptr *C.netns_batch
}

// NewBatch returns an empty batch.
func NewBatch() (*Batch, error) {
	var ptr *C.netns_batch
	if err := call(func(e **C.netns_error) C.int32_t { return C.netns_batch_new(&ptr, e) }); err != nil {
		return nil, err
	}
	b := &Batch{ptr: ptr}
	runtime.SetFinalizer(b, (*Batch).Close)
	return b, nil
}

// Close frees the batch (a second Close is a no-op). Calls on a closed
// batch fail with ErrNullPointer.
func (b *Batch) Close() error {
	if b.ptr != nil {
		C.netns_batch_free(b.ptr)
		b.ptr = nil
	}
	runtime.SetFinalizer(b, nil)
	return nil
}

// add runs a netns_batch_* call, keeping b alive until it has returned.
func (b *Batch) add(args *cstrings, f func(*C.netns_batch, **C.netns_error) C.int32_t) error {
	if args != nil && args.err != nil {
		return args.err
	}
	err := call(func(e **C.netns_error) C.int32_t { return f(b.ptr, e) })
	runtime.KeepAlive(b)
	return err
}

// LinkAdd queues Handle.LinkAdd(s). The spec is checked now: a key its kind
// lacks is ErrInvalidArgument here, not at Execute.
func (b *Batch) LinkAdd(s LinkSpec) error {
	spec, err := s.cspec()
	if err != nil {
		return err
	}
	defer C.netns_link_spec_free(spec)
	return b.add(nil, func(p *C.netns_batch, e **C.netns_error) C.int32_t {
		return C.netns_batch_link_add(p, spec, e)
	})
}

// LinkSetUp queues Handle.LinkSetUp(name).
func (b *Batch) LinkSetUp(name string) error {
	var a cstrings
	defer a.free()
	cname := a.str(name)
	return b.add(&a, func(p *C.netns_batch, e **C.netns_error) C.int32_t {
		return C.netns_batch_link_set_up(p, cname, e)
	})
}

// LinkDel queues Handle.LinkDel(name).
func (b *Batch) LinkDel(name string) error {
	var a cstrings
	defer a.free()
	cname := a.str(name)
	return b.add(&a, func(p *C.netns_batch, e **C.netns_error) C.int32_t {
		return C.netns_batch_link_del(p, cname, e)
	})
}

// AddrAdd queues Handle.AddrAdd(ifname, addr).
func (b *Batch) AddrAdd(ifname string, addr netip.Prefix) error {
	var a cstrings
	defer a.free()
	cifname, ccidr := a.str(ifname), a.str(addr.String())
	return b.add(&a, func(p *C.netns_batch, e **C.netns_error) C.int32_t {
		return C.netns_batch_addr_add(p, cifname, ccidr, e)
	})
}

// RouteAdd queues Handle.RouteAdd(r). A batch names the output link by
// Dev only: LinkIndex without Dev, or a table other than main, is EINVAL.
func (b *Batch) RouteAdd(r Route) error {
	if r.Dev == "" && r.LinkIndex != 0 {
		return &Error{code: int32(syscall.EINVAL), message: "netns: Batch.RouteAdd: the output link must be given by Dev"}
	}
	var a cstrings
	defer a.free()
	// With Dev or no link at all, cargs needs no handle.
	dst, gw, dev, err := r.cargs(nil, &a)
	if err != nil {
		return err
	}
	return b.add(&a, func(p *C.netns_batch, e **C.netns_error) C.int32_t {
		return C.netns_batch_route_add(p, dst, gw, dev, C.uint32_t(r.Metric), e)
	})
}

// NeighReplace queues Handle.NeighReplace(ifname, ip, mac).
func (b *Batch) NeighReplace(ifname string, ip netip.Addr, mac net.HardwareAddr) error {
	var a cstrings
	defer a.free()
	cip, cmac, err := neighArgs(&a, ip, mac)
	if err != nil {
		return err
	}
	cifname := a.str(ifname)
	return b.add(&a, func(p *C.netns_batch, e **C.netns_error) C.int32_t {
		return C.netns_batch_neigh_replace(p, cifname, cip, cmac, e)
	})
}

// Len is the number of requests queued.
func (b *Batch) Len() int {
	n := int(C.netns_batch_len(b.ptr))
	runtime.KeepAlive(b)
	return n
}

// Execute sends the batch's requests through h, in order, and returns one
// outcome per request: nil for done, else an *Error with the request's code
// and message (errors.Is(outcomes[i], syscall.EEXIST) works). The error is
// for the batch as a whole (nothing was sent, or the outcomes are unknown).
func (b *Batch) Execute(h *Handle) ([]error, error) {
	var out *C.netns_outcomes
	err := call(func(e **C.netns_error) C.int32_t {
		return C.netns_batch_execute(h.ptr, b.ptr, &out, e)
	})
	runtime.KeepAlive(h)
	runtime.KeepAlive(b)
	if err != nil {
		return nil, err
	}
	defer C.netns_outcomes_free(out)
	n := int(C.netns_outcomes_len(out))
	res := make([]error, n)
	for i := 0; i < n; i++ {
		ci := C.size_t(i)
		code := int32(C.netns_outcomes_code(out, ci))
		if code == 0 {
			continue
		}
		e := &Error{code: code, message: Code(code).Error()}
		if m := C.netns_outcomes_message(out, ci); m != nil {
			e.message = C.GoString(m)
		}
		res[i] = e
	}
	return res, nil
}
