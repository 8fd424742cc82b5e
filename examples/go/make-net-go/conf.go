package main

// make-net's config: netid (the namespace's name, with {K8S_POD_NAMESPACE},
// {K8S_POD_NAME}, {K8S_POD_UID} filled in from CNI_ARGS), nsDir, dataDir,
// peer, ifName, peerName, mtu, addresses, ipam; every check that needs no
// kernel, so that ADD refuses bad input before it touches anything. The
// keys, defaults, checks and messages are those of the Rust make-net
// (examples/make-net/conf.rs).

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/utils"
)

const (
	// defaultNsDir is iproute2's, so `ip netns exec` finds the namespaces.
	defaultNsDir = "/run/netns"
	// defaultDataDir holds the owner records (outside the netns directory:
	// nothing but namespaces may appear in `ip netns list`).
	defaultDataDir = "/var/lib/cni/make-net"
	// defaultIfName is the interface inside the named namespace (the
	// original's).
	defaultIfName = "veth0"
)

// conf is the plugin's part of the config, as read from stdin.
type conf struct {
	types.NetConf
	Netid     string   `json:"netid"`
	NsDir     string   `json:"nsDir"`
	DataDir   string   `json:"dataDir"`
	Peer      string   `json:"peer"`
	IfName    string   `json:"ifName"`
	PeerName  string   `json:"peerName"`
	MTU       int64    `json:"mtu"`
	Addresses []string `json:"addresses"`
}

// peerKind says which end of the veth pair goes where.
type peerKind int

const (
	// peerHost: the other end stays in the plugin's namespace (the
	// original's).
	peerHost peerKind = iota
	// peerPod: the other end goes into CNI_NETNS as CNI_IFNAME.
	peerPod
)

func (p peerKind) String() string {
	if p == peerPod {
		return "pod"
	}
	return "host"
}

// net is the config as ADD, CHECK and DEL use it, every name checked.
type network struct {
	// netid is the namespace's name (the template filled in).
	netid   string
	nsDir   string
	dataDir string
	peer    peerKind
	// ifName is the interface inside the named namespace.
	ifName string
	// peerName is the other end's name: CNI_IFNAME with peer: pod, else
	// peerName or the name derived from netid.
	peerName  string
	mtu       uint32 // 0: none
	addresses []netip.Prefix
	// ipam says whether IPAM is configured (ipam.type set).
	ipam bool
}

// k8sArgs are the CNI_ARGS keys make-net reads (the ones kubelet, the CRI
// runtimes and Multus send, with IgnoreUnknown=true).
type k8sArgs struct {
	types.CommonArgs
	K8S_POD_NAMESPACE          types.UnmarshallableString //nolint:revive,stylecheck // CNI_ARGS key
	K8S_POD_NAME               types.UnmarshallableString //nolint:revive,stylecheck // CNI_ARGS key
	K8S_POD_INFRA_CONTAINER_ID types.UnmarshallableString //nolint:revive,stylecheck // CNI_ARGS key
	K8S_POD_UID                types.UnmarshallableString //nolint:revive,stylecheck // CNI_ARGS key
}

func (a *k8sArgs) get(key string) string {
	switch key {
	case "K8S_POD_NAMESPACE":
		return string(a.K8S_POD_NAMESPACE)
	case "K8S_POD_NAME":
		return string(a.K8S_POD_NAME)
	case "K8S_POD_UID":
		return string(a.K8S_POD_UID)
	}
	return ""
}

func confErr(format string, a ...interface{}) *types.Error {
	return types.NewError(types.ErrInvalidNetworkConfig, fmt.Sprintf(format, a...), "")
}

// loadConf reads the plugin's keys (a config that does not fit is code 999
// "failed to load netconf: ...", as the reference plugins report it).
func loadConf(stdin []byte) (*conf, error) {
	c := &conf{}
	if err := json.Unmarshal(stdin, c); err != nil {
		return nil, internal("failed to load netconf: %v", err)
	}
	return c, nil
}

// expandNetid is netid with its {K8S_...} placeholders filled in from
// CNI_ARGS; any other {...}, or a placeholder whose key CNI_ARGS lacks, is
// refused.
func expandNetid(template string, args *k8sArgs) (string, error) {
	var out strings.Builder
	rest := template
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			break
		}
		out.WriteString(rest[:open])
		after := rest[open+1:]
		end := strings.IndexByte(after, '}')
		if end < 0 {
			return "", confErr("netid %s: an unclosed '{'", quote(template))
		}
		key := after[:end]
		switch key {
		case "K8S_POD_NAMESPACE", "K8S_POD_NAME", "K8S_POD_UID":
		default:
			return "", confErr("netid %s: unknown placeholder {%s} (known: {K8S_POD_NAMESPACE}, {K8S_POD_NAME}, {K8S_POD_UID})", quote(template), key)
		}
		v := args.get(key)
		if v == "" {
			return "", confErr("netid %s: CNI_ARGS has no %s to fill {%s} with", quote(template), key, key)
		}
		out.WriteString(v)
		rest = after[end+1:]
	}
	out.WriteString(rest)
	if strings.ContainsRune(out.String(), '}') {
		return "", confErr("netid %s: a '}' without '{'", quote(template))
	}
	return out.String(), nil
}

// derivedPeerName is the host-side name for namespace netid: the
// original's v<netid> when that is an interface name (within 15 bytes,
// without the ':' the kernel refuses or the '%' it reads as a template,
// both fine in a namespace name), else mn and 13 hex digits of a hash of
// the name (FNV-1a, 64 bits: stable, so CHECK and DEL find it again, and
// the same as the Rust make-net's).
func derivedPeerName(netid string) string {
	v := "v" + netid
	if len(v) <= 15 && !strings.ContainsAny(netid, ":%") {
		return v
	}
	h := uint64(0xcbf29ce484222325)
	for i := 0; i < len(netid); i++ {
		h ^= uint64(netid[i])
		h *= 0x100000001b3
	}
	return fmt.Sprintf("mn%013x", h>>12)
}

// checkNetid: a namespace name as make-net takes it: what `ip netns add`
// takes (not empty, . or .., no / or NUL, at most 255 bytes), printable
// ASCII without spaces (it is a path component, a hostPath and an argument
// of `ip netns exec`), and not starting with . (the owner records are named
// by netid, and dataDir's lock and temporary files are the names starting
// with .).
func checkNetid(netid string) error {
	why := ""
	switch {
	case netid == "":
		why = "a namespace name cannot be empty"
	case netid == "." || netid == "..":
		why = `a namespace name cannot be "." or ".."`
	case strings.ContainsRune(netid, '/'):
		why = "a namespace name cannot contain '/'"
	case strings.ContainsRune(netid, 0):
		why = "a namespace name cannot contain a NUL byte"
	case len(netid) > 255:
		why = "a namespace name is at most 255 bytes (NAME_MAX)"
	case netid[0] == '.':
		why = "a name starting with '.' is not taken (make-net's own files in dataDir are named so)"
	}
	if why == "" {
		for _, c := range netid {
			if c <= ' ' || c > '~' {
				why = fmt.Sprintf("%s is not a printable ASCII character", quoteRune(c))
				break
			}
		}
	}
	if why != "" {
		return confErr("invalid netid %s: %s", quote(netid), why)
	}
	return nil
}

func checkIfname(what, name string) error {
	if e := utils.ValidateInterfaceName(name); e != nil {
		return confErr("invalid %s %s: %s", what, quote(name), e.Msg)
	}
	if strings.ContainsRune(name, '%') {
		return confErr("invalid %s %s: the kernel reads a '%%' as a name template (eth%%d)", what, quote(name))
	}
	return nil
}

// parsePrefix reads an address with its prefix length as the Rust
// make-net does (ipnet's parser: ADDR/LEN, no zone, LEN within the
// family's bits); every failure is "invalid IP address syntax", its
// message.
func parsePrefix(s string) (netip.Prefix, error) {
	bad := fmt.Errorf("invalid IP address syntax")
	slash := strings.LastIndexByte(s, '/')
	if slash < 0 {
		return netip.Prefix{}, bad
	}
	addr, err := netip.ParseAddr(s[:slash])
	if err != nil || addr.Zone() != "" {
		return netip.Prefix{}, bad
	}
	lenText := s[slash+1:]
	if lenText == "" || strings.TrimLeft(lenText, "0123456789") != "" || len(lenText) > 3 {
		return netip.Prefix{}, bad
	}
	bits, err := strconv.Atoi(lenText)
	if err != nil || bits > addr.BitLen() {
		return netip.Prefix{}, bad
	}
	return netip.PrefixFrom(addr, bits), nil
}

// parse checks everything before anything is touched.
func parse(args *skel.CmdArgs) (*network, error) {
	c, err := loadConf(args.StdinData)
	if err != nil {
		return nil, err
	}
	if c.Netid == "" {
		return nil, confErr(`"netid" is required: the name of the namespace to make`)
	}
	var ka k8sArgs
	if err := types.LoadArgs(args.Args, &ka); err != nil {
		return nil, internal("%v", err)
	}
	netid, err := expandNetid(c.Netid, &ka)
	if err != nil {
		return nil, err
	}
	if err := checkNetid(netid); err != nil {
		return nil, err
	}
	n := &network{
		netid:   netid,
		nsDir:   or(c.NsDir, defaultNsDir),
		dataDir: or(c.DataDir, defaultDataDir),
		ifName:  or(c.IfName, defaultIfName),
		ipam:    c.IPAM.Type != "",
	}
	switch c.Peer {
	case "", "host":
		n.peer = peerHost
	case "pod":
		n.peer = peerPod
	default:
		return nil, confErr(`unknown peer %s: "host" (the default) or "pod"`, quote(c.Peer))
	}
	if err := checkIfname("ifName", n.ifName); err != nil {
		return nil, err
	}
	switch {
	case n.peer == peerPod:
		n.peerName = args.IfName
	case c.PeerName == "":
		n.peerName = derivedPeerName(netid)
	default:
		n.peerName = c.PeerName
	}
	if n.peer == peerHost || n.peerName != "" {
		if err := checkIfname("peerName", n.peerName); err != nil {
			return nil, err
		}
	}
	if c.MTU != 0 {
		if c.MTU < 68 || c.MTU > 65535 {
			return nil, confErr("invalid MTU %d: must be 0 or 68-65535", c.MTU)
		}
		n.mtu = uint32(c.MTU)
	}
	for _, a := range c.Addresses {
		p, err := parsePrefix(a)
		if err != nil {
			return nil, confErr("invalid address %s: %v", quote(a), err)
		}
		n.addresses = append(n.addresses, p)
	}
	return n, nil
}

func or(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
