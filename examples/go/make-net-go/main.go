// Command make-net-go is make-net (examples/make-net, in Rust) in Go: an
// extra named network namespace per pod, a CNI plugin that takes the
// published make-net's config unchanged ({"type": "make-net", "netid":
// "1234567"}), with the same keys, behaviour, error codes and messages as
// the Rust make-net (whose doc comment, examples/make-net/main.rs, is the
// description of both). It is written on the netns Go package
// (examples/go, the C ABI through cgo) and Debian's libcni 1.1.2 (pkg/skel,
// pkg/types, pkg/invoke, pkg/version).
//
// No thread of this program ever changes its network namespace: there is no
// runtime.LockOSThread, no setns, nothing like ns.Do. Every namespace is
// named by its path and handed to the library, which opens a netlink socket
// inside it on a short-lived thread of its own. (The original make-net
// unshares on an unlocked Go thread.)
//
// Keys: netid (required; {K8S_POD_NAMESPACE}, {K8S_POD_NAME}, {K8S_POD_UID}
// filled in from CNI_ARGS), nsDir (default /run/netns), dataDir (the owner
// records, default /var/lib/cni/make-net, made 0700, with its .lock), peer
// (host, the default, or pod), ifName (default veth0), peerName (default
// v<netid>, or mn and a hash of netid when that is no interface name), mtu,
// addresses (static CIDRs), ipam (any IPAM plugin, delegated with
// pkg/invoke).
//
// Where it differs from the Rust make-net, for want of the means in the C
// ABI (v2) or in libcni 1.1.2:
//   - an on-link default route (no gateway) gets iproute2's scope for IPv4,
//     link, where the Rust one adds it with scope universe as the reference
//     plugins do (the ABI's route functions take no scope);
//   - IPv6 duplicate address detection is not waited for after the
//     addresses are added (the Rust one waits, up to 10 s, when IPAM gave an
//     IPv6 gateway, as the reference plugins do);
//   - with peer: pod, IPAM's gateways on the pod's end are added as `ip addr
//     add` adds them (IPv4 with its broadcast address, IPv6 with duplicate
//     address detection), where the Rust one adds them without either (the
//     ABI's netns_addr_add has no such flags);
//   - IPAM is always a delegated plugin (the Rust one runs host-local in
//     process); for a 1.1.0 config ADD, DEL and CHECK are delegated as
//     1.0.0 (libcni 1.1.2 reads results up to 1.0.0; an IPAM plugin that
//     predates 1.1.0 refuses it), and for an IPAM plugin that does not speak
//     1.1.0 GC releases the addresses of the attachments it removes by an
//     IPAM DEL each, and STATUS says ready (such a plugin has neither).
//
// Build: examples/go/build.sh (GOPATH mode, offline, libnetns linked
// statically) makes target/go/make-net-go.
package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"example.invalid/netns"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
)

func main() {
	// libcni 1.1.2's skel predates GC and STATUS (spec 1.1.0): they are
	// served here, before it.
	switch cmd := os.Getenv("CNI_COMMAND"); cmd {
	case "GC", "STATUS":
		if err := gcOrStatus(cmd); err != nil {
			printError(err)
			os.Exit(1)
		}
		return
	}
	about := fmt.Sprintf("CNI make-net plugin (Go) on %s", netns.Version())
	if e := skel.PluginMainWithError(cmdAdd, cmdCheck, cmdDel, version.PluginSupports(specVersions...), about); e != nil {
		printError(e)
		os.Exit(1)
	}
}

func printError(err error) {
	var te *types.Error
	if !errors.As(err, &te) {
		te = internal("%v", err)
	}
	if e := te.Print(); e != nil {
		fmt.Fprintln(os.Stderr, "make-net-go: writing the error:", e)
	}
}

// notOwnNetns refuses a CNI_NETNS that is the plugin's own namespace (code 8)
// for ADD and DEL, unless CNI_NETNS_OVERRIDE is set, as the Rust skel does.
func notOwnNetns(args *skel.CmdArgs) error {
	over := os.Getenv("CNI_NETNS_OVERRIDE")
	if over == "1" || strings.EqualFold(over, "true") || args.Netns == "" {
		return nil
	}
	if ownNetns(args.Netns) {
		return types.NewError(8, "plugin's netns and netns from CNI_NETNS should not be the same", "")
	}
	return nil
}

// openPod is a handle in CNI_NETNS.
func openPod(args *skel.CmdArgs) (*netns.Handle, error) {
	h, err := netns.NewHandle(args.Netns)
	if err != nil {
		return nil, internal("failed to open netns %s: %v", quote(args.Netns), err)
	}
	return h, nil
}

// peerHandle is a handle where the peer goes: the plugin's namespace, or the
// pod's.
func peerHandle(n *network, args *skel.CmdArgs) (*netns.Handle, error) {
	if n.peer == peerPod {
		return openPod(args)
	}
	h, err := netns.NewHandle("")
	if err != nil {
		return nil, libErr(err)
	}
	return h, nil
}

func cmdAdd(args *skel.CmdArgs) error {
	if err := notOwnNetns(args); err != nil {
		return err
	}
	n, err := parse(args)
	if err != nil {
		return err
	}
	nc, v, err := netConf(args.StdinData)
	if err != nil {
		return err
	}
	prev, err := prevResult(nc, v)
	if err != nil {
		return err
	}
	if prev == nil {
		prev = &current.Result{CNIVersion: current.ImplementedSpecVersion}
	}
	// Where the peer goes, and that its name is free there.
	th, err := peerHandle(n, args)
	if err != nil {
		return err
	}
	defer th.Close()
	recs, err := lockRecords(n.dataDir)
	if err != nil {
		return err
	}
	defer recs.unlock()
	path := filepath.Join(n.nsDir, n.netid)
	o, err := recs.get(n.netid)
	if err != nil {
		return err
	}
	switch {
	case o != nil && !o.is(args.ContainerID, args.IfName):
		return internal("namespace %s belongs to another attachment (container %s, interface %s): "+
			"a fixed netid serves one pod; template it with {K8S_POD_NAME} or {K8S_POD_UID} "+
			"for one namespace per pod", quote(n.netid), o.ContainerID, o.Ifname)
	case o != nil:
		// This attachment's (an ADD repeated, or one that did not finish):
		// start over.
		teardown(o)
	default:
		if _, err := os.Lstat(path); err == nil {
			return internal("namespace %s exists in %s and make-net did not make it: left alone",
				quote(n.netid), n.nsDir)
		}
	}
	// After the owner check: with peer: host another attachment's peer has
	// the derived name, and its owner is the clearer error; this
	// attachment's own (a repeated ADD) is gone with the teardown above.
	if _, err := th.LinkIndex(n.peerName); err == nil {
		where := "plugin's"
		if n.peer == peerPod {
			where = "pod's"
		}
		return internal("an interface named %s already exists in the %s namespace", quote(n.peerName), where)
	} else if !isNotFound(err) {
		return libErr(err)
	}
	mine := &owner{
		ContainerID: args.ContainerID,
		Ifname:      args.IfName,
		Netid:       n.netid,
		NsDir:       n.nsDir,
		IfName:      n.ifName,
		Peer:        n.peer.String(),
		PeerName:    n.peerName,
		Netns:       args.Netns,
		Network:     nc.Name,
	}
	if err := recs.put(mine); err != nil {
		return err
	}
	result, err := build(args, n, nc, v, path, th, prev)
	if err != nil {
		teardown(mine)
		_ = recs.remove(n.netid)
		return err
	}
	return printResult(os.Stdout, result, v)
}

// build makes the namespace, the veth pair, the addresses and routes, and
// returns the result.
func build(args *skel.CmdArgs, n *network, nc *types.NetConf, v, path string, th *netns.Handle, prev *current.Result) (*current.Result, error) {
	if err := netns.CreateNamed(n.nsDir, n.netid); err != nil {
		return nil, wrapf(err, "failed to create namespace %s", quote(n.netid))
	}
	nh, err := netns.NewHandle(path)
	if err != nil {
		return nil, libErr(err)
	}
	defer nh.Close()
	if err := nh.LinkSetUp("lo"); err != nil {
		return nil, libErr(err)
	}
	peerNs := ownNetnsPath
	if n.peer == peerPod {
		peerNs = args.Netns
	}
	// The pair in one request (ABI v2's link spec): this end in the named
	// namespace, the peer made directly in its own namespace, both with the
	// MTU (the library gives a veth's mtu to both ends).
	spec := netns.LinkSpec{Kind: "veth", Name: n.ifName, Peer: n.peerName, PeerNetns: peerNs, MTU: n.mtu}
	if err := nh.LinkAdd(spec); err != nil {
		return nil, wrapf(err, "failed to make the veth pair")
	}
	link, err := linkGet(nh, n.ifName)
	if err != nil {
		return nil, libErr(err)
	}
	if err := th.LinkSetUp(n.peerName); err != nil {
		return nil, wrapf(err, "failed to set %s up", quote(n.peerName))
	}
	peer, err := linkGet(th, n.peerName)
	if err != nil {
		return nil, libErr(err)
	}

	// The named namespace's own result: its interface first.
	peerSandbox := ""
	if n.peer == peerPod {
		peerSandbox = args.Netns
	}
	ours := &current.Result{
		CNIVersion: current.ImplementedSpecVersion,
		Interfaces: []*current.Interface{
			{Name: link.name, Mac: link.mac, Sandbox: path},
			{Name: peer.name, Mac: peer.mac, Sandbox: peerSandbox},
		},
	}
	for _, a := range n.addresses {
		ours.IPs = append(ours.IPs, &current.IPConfig{Interface: current.Int(0), Address: ipNet(a)})
	}
	ipamType := nc.IPAM.Type
	if n.ipam {
		r, err := ipamAdd(args, ipamType, v)
		if err != nil {
			return nil, err
		}
		for _, ip := range r.IPs {
			c := ip.Copy()
			c.Interface = current.Int(0)
			ours.IPs = append(ours.IPs, c)
		}
		ours.Routes = r.Routes
	}
	if err := configure(nh, th, n, ours); err != nil {
		if n.ipam {
			_ = ipamDel(args, ipamType, v)
		}
		return nil, err
	}

	// prevResult's, then ours (indexes shifted past prevResult's).
	base := len(prev.Interfaces)
	result := prev
	result.Interfaces = append(result.Interfaces, ours.Interfaces...)
	for _, ip := range ours.IPs {
		ip.Interface = current.Int(base)
		result.IPs = append(result.IPs, ip)
	}
	result.Routes = append(result.Routes, ours.Routes...)
	if dnsEmpty(&result.DNS) {
		result.DNS = nc.DNS
	}
	return result, nil
}

func dnsEmpty(d *types.DNS) bool {
	return len(d.Nameservers) == 0 && d.Domain == "" && len(d.Search) == 0 && len(d.Options) == 0
}

// configure: the default routes the addresses need, the named namespace's
// side (addresses, link up, routes), and with peer: pod the pod's side.
func configure(nh, th *netns.Handle, n *network, ours *current.Result) error {
	for _, v4 := range []bool{true, false} {
		hasAddr, hasDefault := false, false
		for _, ip := range ours.IPs {
			if (ip.Address.IP.To4() != nil) == v4 {
				hasAddr = true
			}
		}
		for _, r := range ours.Routes {
			ones, _ := r.Dst.Mask.Size()
			if (r.Dst.IP.To4() != nil) == v4 && ones == 0 {
				hasDefault = true
			}
		}
		if hasAddr && !hasDefault {
			dst := "0.0.0.0/0"
			if !v4 {
				dst = "::/0"
			}
			d, err := types.ParseCIDR(dst)
			if err != nil {
				return internal("a default route: %v", err)
			}
			ours.Routes = append(ours.Routes, &types.Route{Dst: *d})
		}
	}
	if err := configureIface(nh, n.ifName, ours); err != nil {
		return err
	}
	if n.peer != peerPod {
		return nil
	}
	// The pod is the named namespace's only neighbour: IPAM's gateways go
	// on its end, or the default route via them would lead nowhere and
	// nothing in the named namespace could answer the pod.
	var gateways []netip.Addr
	for _, ip := range ours.IPs {
		g, ok := addrOf(ip.Gateway)
		if !ok {
			continue
		}
		seen := false
		for _, h := range gateways {
			seen = seen || h == g
		}
		if !seen {
			gateways = append(gateways, g)
		}
	}
	for _, g := range gateways {
		a := netip.PrefixFrom(g, g.BitLen())
		if err := th.AddrAdd(n.peerName, a); err != nil {
			return internal("failed to add the gateway %s to %s: %v", a, n.peerName, err)
		}
	}
	for _, ip := range ours.IPs {
		addr, ok := addrOf(ip.Address.IP)
		if !ok {
			continue
		}
		host := netip.PrefixFrom(addr, addr.BitLen())
		if err := th.RouteAdd(netns.Route{Dst: host, Dev: n.peerName}); err != nil {
			return internal("failed to add route '%s dev %s': %v", host, n.peerName, err)
		}
	}
	return nil
}

// configureIface is the reference plugins' ipam.ConfigureIface as the Rust
// plugins have it: the addresses on ifname, the link up, then the routes
// (via the family's gateway when a route has none).
func configureIface(h *netns.Handle, ifname string, r *current.Result) error {
	var gw4, gw6 net.IP
	for _, ip := range r.IPs {
		if ip.Interface == nil {
			continue
		}
		i := *ip.Interface
		if i < 0 || i >= len(r.Interfaces) || r.Interfaces[i].Name != ifname {
			return internal("failed to add IP addr %s to %s: invalid interface index", ip.Address.String(), quote(ifname))
		}
		p, ok := prefixOf(ip.Address)
		if !ok {
			return internal("failed to add IP addr %s to %s: not an IP address", ip.Address.String(), quote(ifname))
		}
		if err := h.AddrAdd(ifname, p); err != nil {
			return internal("failed to add IP addr %s to %s: %v", ip.Address.String(), quote(ifname), err)
		}
		if ip.Gateway != nil {
			if ip.Gateway.To4() != nil && gw4 == nil {
				gw4 = ip.Gateway
			} else if ip.Gateway.To4() == nil && gw6 == nil {
				gw6 = ip.Gateway
			}
		}
	}
	if err := h.LinkSetUp(ifname); err != nil {
		return internal("failed to set %s UP: %v", quote(ifname), err)
	}
	for _, rt := range r.Routes {
		gw := rt.GW
		if gw == nil {
			if rt.Dst.IP.To4() != nil {
				gw = gw4
			} else {
				gw = gw6
			}
		}
		dst, ok := prefixOf(rt.Dst)
		if !ok {
			return internal("failed to add route '%s via %s dev %s': not an IP prefix", rt.Dst.String(), gwText(gw), ifname)
		}
		spec := netns.Route{Dst: dst, Dev: ifname}
		if g, ok := addrOf(gw); ok {
			spec.Gateway = g
		}
		if err := h.RouteAdd(spec); err != nil {
			return internal("failed to add route '%s via %s dev %s': %v", rt.Dst.String(), gwText(gw), ifname, err)
		}
	}
	return nil
}

func gwText(g net.IP) string {
	if g == nil {
		return "<nil>"
	}
	return g.String()
}

// addrOf is ip as a netip.Addr (IPv4 as 4 bytes); false for none.
func addrOf(ip net.IP) (netip.Addr, bool) {
	if v4 := ip.To4(); v4 != nil {
		return netip.AddrFrom4([4]byte{v4[0], v4[1], v4[2], v4[3]}), true
	}
	if len(ip) == net.IPv6len {
		var b [16]byte
		copy(b[:], ip)
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}

// prefixOf is n as a netip.Prefix, its address kept (host bits too).
func prefixOf(n net.IPNet) (netip.Prefix, bool) {
	a, ok := addrOf(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, bits := n.Mask.Size()
	if bits != a.BitLen() && !(a.Is4() && bits == net.IPv6len*8) {
		return netip.Prefix{}, false
	}
	if a.Is4() && bits == net.IPv6len*8 {
		ones -= 96
	}
	return netip.PrefixFrom(a, ones), true
}

// ipNet is p as a net.IPNet, its address kept.
func ipNet(p netip.Prefix) net.IPNet {
	a := p.Addr()
	return net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(p.Bits(), a.BitLen())}
}

// teardown removes what o's ADD made, best effort: the veth pair (deleting
// the named namespace's end takes the peer with it, now rather than when
// the kernel frees the namespace) and the namespace's name.
func teardown(o *owner) {
	h, err := netns.NewHandle(filepath.Join(o.NsDir, o.Netid))
	if err != nil {
		return
	}
	_ = h.LinkDel(o.IfName)
	h.Close()
	_ = netns.DeleteNamed(o.NsDir, o.Netid)
}

// dataDirOf is dataDir of the config, read leniently: DEL and GC must work
// with a config ADD would refuse (a netid template CNI_ARGS cannot fill,
// say).
func dataDirOf(stdin []byte) (string, error) {
	c, err := loadConf(stdin)
	if err != nil {
		return "", err
	}
	return or(c.DataDir, defaultDataDir), nil
}

func cmdDel(args *skel.CmdArgs) error {
	if err := notOwnNetns(args); err != nil {
		return err
	}
	dir, err := dataDirOf(args.StdinData)
	if err != nil {
		return err
	}
	nc, v, err := netConf(args.StdinData)
	if err != nil {
		return err
	}
	recs, err := lockRecords(dir)
	if err != nil {
		return err
	}
	o, err := recs.of(args.ContainerID, args.IfName)
	if err == nil && o != nil {
		teardown(o)
		err = recs.remove(o.Netid)
	}
	recs.unlock()
	if err != nil {
		return err
	}
	if nc.IPAM.Type != "" {
		return ipamDel(args, nc.IPAM.Type, v)
	}
	return nil
}

func cmdCheck(args *skel.CmdArgs) error {
	n, err := parse(args)
	if err != nil {
		return err
	}
	nc, v, err := netConf(args.StdinData)
	if err != nil {
		return err
	}
	if n.ipam {
		if err := ipamCheck(args, nc.IPAM.Type, v); err != nil {
			return err
		}
	}
	prev, err := prevResult(nc, v)
	if err != nil {
		return err
	}
	if prev == nil {
		return internal("Required prevResult missing")
	}
	recs, err := lockRecords(n.dataDir)
	if err != nil {
		return err
	}
	defer recs.unlock()
	o, err := recs.get(n.netid)
	if err != nil {
		return err
	}
	if o == nil || !o.is(args.ContainerID, args.IfName) {
		return internal("namespace %s is not this attachment's", quote(n.netid))
	}
	sandbox := filepath.Join(n.nsDir, n.netid)
	nh, err := netns.NewHandle(sandbox)
	if err != nil {
		return internal("namespace %s: %v", quote(n.netid), err)
	}
	defer nh.Close()
	link, err := vethIn(nh, n.ifName, "the named namespace")
	if err != nil {
		return err
	}
	th, err := peerHandle(n, args)
	if err != nil {
		return err
	}
	defer th.Close()
	if _, err := vethIn(th, n.peerName, "the peer's namespace"); err != nil {
		return err
	}
	idx := -1
	for i, f := range prev.Interfaces {
		if f.Name == n.ifName && f.Sandbox == sandbox {
			idx = i
			break
		}
	}
	if idx < 0 {
		return internal("prevResult has no interface %s in %s", quote(n.ifName), sandbox)
	}
	if m := prev.Interfaces[idx].Mac; m != "" && !strings.EqualFold(m, link.mac) {
		return internal("interface %s Mac %s doesn't match container Mac: %s", n.ifName, m, link.mac)
	}
	// Our addresses; the routes too when every address of prevResult is
	// ours (make-net first in its list, as in a NAD of its own): the routes
	// of a result name no interface.
	allOurs := true
	mine := &current.Result{}
	for _, ip := range prev.IPs {
		if ip.Interface != nil && *ip.Interface == idx {
			mine.IPs = append(mine.IPs, ip)
		} else {
			allOurs = false
		}
	}
	if allOurs {
		mine.Routes = prev.Routes
	}
	if err := checkIPs(nh, n.ifName, mine); err != nil {
		return err
	}
	return checkRoutes(nh, mine)
}

// vethIn is the veth name in h's namespace, up.
func vethIn(h *netns.Handle, name, where string) (*linkInfo, error) {
	l, err := linkGet(h, name)
	if err != nil {
		return nil, internal("%s in %s: %v", quote(name), where, err)
	}
	if l.kind != "veth" {
		return nil, internal("%s in %s is not a veth", quote(name), where)
	}
	if !l.up {
		return nil, internal("%s in %s is down", quote(name), where)
	}
	return l, nil
}

// checkIPs is the reference plugins' ValidateExpectedInterfaceIPs: each
// address on ifname, with a route to its prefix in the main table.
func checkIPs(h *netns.Handle, ifname string, r *current.Result) error {
	for _, ip := range r.IPs {
		want, ok := prefixOf(ip.Address)
		if !ok {
			return internal("Failed to match addr %s on interface %s", ip.Address.String(), ifname)
		}
		have, err := h.AddrList(ifname)
		if err != nil {
			return internal("Cannot obtain List of IP Addresses")
		}
		found := false
		for _, a := range have {
			found = found || a == want
		}
		if !found {
			return internal("Failed to match addr %s on interface %s", ip.Address.String(), ifname)
		}
		routes, err := mainRoutes(h, want.Addr().Is4())
		if err != nil {
			return internal("Error %v trying to find Gateway %s for interface %s", err, gwText(ip.Gateway), ifname)
		}
		found = false
		for _, k := range routes {
			found = found || k.dst == want.Masked()
		}
		if !found {
			return internal("Failed to find Gateway %s for interface %s", gwText(ip.Gateway), ifname)
		}
	}
	return nil
}

// checkRoutes is the reference plugins' ValidateExpectedRoute: each route in
// the main table (a default route by its destination alone, others by
// destination and gateway; a route without a gateway via its family's
// first gateway, as ADD installed it).
func checkRoutes(h *netns.Handle, r *current.Result) error {
	familyGw := func(v4 bool) net.IP {
		for _, ip := range r.IPs {
			if (ip.Address.IP.To4() != nil) == v4 && ip.Gateway != nil {
				return ip.Gateway
			}
		}
		return nil
	}
	for _, rt := range r.Routes {
		dst, ok := prefixOf(rt.Dst)
		if !ok {
			return internal("Expected Route {Dst:%s GW:%s} not found in routing table", rt.Dst.String(), gwText(rt.GW))
		}
		v4 := dst.Addr().Is4()
		routes, err := mainRoutes(h, v4)
		if err != nil {
			return internal("Expected Route %s not route table lookup error %v", rt.Dst.String(), err)
		}
		gw := rt.GW
		if gw == nil {
			gw = familyGw(v4)
		}
		want, _ := addrOf(gw)
		found := false
		for _, k := range routes {
			if k.dst == dst.Masked() && (dst.Bits() == 0 || k.gw == want) {
				found = true
			}
		}
		if !found {
			return internal("Expected Route {Dst:%s GW:%s} not found in routing table", rt.Dst.String(), gwText(rt.GW))
		}
	}
	return nil
}

func gcOrStatus(command string) error {
	ga, err := gcOrStatusArgs(command, os.Stdin)
	if err != nil {
		return err
	}
	if command == "GC" {
		return gc(ga)
	}
	return status(ga)
}

// gc removes the namespaces (and IPAM reservations) of the network's
// attachments not in cni.dev/valid-attachments; another network's, sharing
// dataDir, are left alone.
func gc(ga *gcArgs) error {
	valid, err := validAttachments(ga.stdin)
	if err != nil {
		return err
	}
	dir, err := dataDirOf(ga.stdin)
	if err != nil {
		return err
	}
	recs, err := lockRecords(dir)
	if err != nil {
		return err
	}
	all, err := recs.all()
	var stale []*owner
	for _, o := range all {
		if err != nil {
			break
		}
		if o.Network != ga.conf.Name {
			continue
		}
		isValid := false
		for _, a := range valid {
			isValid = isValid || o.is(a.ContainerID, a.IfName)
		}
		if !isValid {
			teardown(o)
			err = recs.remove(o.Netid)
			stale = append(stale, o)
		}
	}
	recs.unlock()
	if err != nil {
		return err
	}
	ipamType := ga.conf.IPAM.Type
	if ipamType == "" {
		return nil
	}
	exe, speaks, err := ipamPlugin(ipamType, ga.path, ga.version)
	if err != nil {
		return err
	}
	if speaks {
		return ipamExec(exe, "GC", ga.stdin, &invoke.Args{Path: ga.path})
	}
	// An IPAM plugin without GC: a DEL for each attachment removed.
	stdin, err := withVersion(ga.stdin, resultVersion(ga.version))
	if err != nil {
		return err
	}
	for _, o := range stale {
		if err := ipamExec(exe, "DEL", stdin, &invoke.Args{ContainerID: o.ContainerID, IfName: o.Ifname, Path: ga.path}); err != nil {
			return err
		}
	}
	return nil
}

// status is IPAM's STATUS (ready without IPAM, or with an IPAM plugin that
// predates STATUS).
func status(ga *gcArgs) error {
	ipamType := ga.conf.IPAM.Type
	if ipamType == "" {
		return nil
	}
	exe, speaks, err := ipamPlugin(ipamType, ga.path, ga.version)
	if err != nil || !speaks {
		return err
	}
	return ipamExec(exe, "STATUS", ga.stdin, &invoke.Args{Path: ga.path})
}
