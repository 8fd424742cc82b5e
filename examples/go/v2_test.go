package netns

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
)

// The kernel as the oracle: `ip -j ARGS...` run by a child process in the
// namespace at nsPath (nsenter moves the child, never a thread of this
// process), decoded.
func ipJSON(t *testing.T, nsPath string, args ...string) []map[string]any {
	t.Helper()
	argv := append([]string{"--net=" + nsPath, "ip", "-j"}, args...)
	out, err := exec.Command("nsenter", argv...).Output()
	if err != nil {
		t.Fatalf("nsenter %v: %v", argv, err)
	}
	var v []map[string]any
	if len(strings.TrimSpace(string(out))) == 0 {
		return nil
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("ip %v: %v in %s", args, err, out)
	}
	return v
}

// ipRun runs `ip ARGS...` in the namespace at nsPath and returns its error
// output and whether it succeeded.
func ipRun(t *testing.T, nsPath string, args ...string) (string, bool) {
	t.Helper()
	argv := append([]string{"--net=" + nsPath, "ip"}, args...)
	out, err := exec.Command("nsenter", argv...).CombinedOutput()
	return strings.TrimSpace(string(out)), err == nil
}

// namespace creates the named namespace name in dir for the test's length
// and returns its path and a handle on it.
func namespace(t *testing.T, dir, name string) (string, *Handle) {
	t.Helper()
	if err := CreateNamed(dir, name); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	h, err := NewHandle(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Close()
		if err := DeleteNamed(dir, name); err != nil {
			t.Error(err)
		}
	})
	return path, h
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// kernelLinks is `ip -d link show` in nsPath as Links.
func kernelLinks(t *testing.T, nsPath string) []Link {
	t.Helper()
	raw := ipJSON(t, nsPath, "-d", "link", "show")
	index := map[string]uint32{}
	for _, l := range raw {
		index[l["ifname"].(string)] = uint32(l["ifindex"].(float64))
	}
	var out []Link
	for _, l := range raw {
		k := Link{
			Index: uint32(l["ifindex"].(float64)),
			Name:  l["ifname"].(string),
			MTU:   uint32(l["mtu"].(float64)),
		}
		if info, ok := l["linkinfo"].(map[string]any); ok {
			k.Kind, _ = info["info_kind"].(string)
		}
		if a, ok := l["address"].(string); ok {
			mac, err := net.ParseMAC(a)
			if err != nil {
				t.Fatalf("ip's address %q: %v", a, err)
			}
			k.MAC = mac
		}
		for _, f := range l["flags"].([]any) {
			if f == "UP" {
				k.Up = true
			}
		}
		if m, ok := l["master"].(string); ok {
			k.Controller = index[m]
		}
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out
}

// sameLinks fails unless the library's links are the kernel's, field by
// field.
func sameLinks(t *testing.T, nsPath string, got []Link) {
	t.Helper()
	want := kernelLinks(t, nsPath)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("LinkList in %s:\n got  %+v\n want %+v (ip -d link)", filepath.Base(nsPath), got, want)
	}
}

func linkNamed(links []Link, name string) *Link {
	for i := range links {
		if links[i].Name == name {
			return &links[i]
		}
	}
	return nil
}

// LinkAdd of every kind this kernel has, LinkByName and LinkList, each
// checked against `ip -d link show`.
func TestLinkSpecsAndLinkList(t *testing.T) {
	dir := tempNetnsDir(t)
	path, h := namespace(t, dir, "specs")

	links, err := h.LinkList()
	must(t, err)
	sameLinks(t, path, links)
	if len(links) != 1 || links[0].Name != "lo" || links[0].Index != 1 || links[0].Kind != "" {
		t.Fatalf("a new namespace's links: %+v", links)
	}

	mac := "02:00:00:00:00:42"
	specs := []LinkSpec{
		{Kind: "veth", Name: "v0", Peer: "v1", MTU: 1400, MAC: mac, Up: true},
		{Kind: "bridge", Name: "br0", MTU: 1300, Up: true},
		{Kind: "macvlan", Name: "mv0", Parent: "v1", Mode: "bridge"},
		{Kind: "macvtap", Name: "mvt0", Parent: "v1", Mode: "private"},
		{Kind: "vxlan", Name: "vx0", ID: 4242, Parent: "v1"},
		{Kind: "veth", Name: "b0", Peer: "b1"},
	}
	for _, s := range specs {
		must(t, h.LinkAdd(s))
	}
	links, err = h.LinkList()
	must(t, err)
	sameLinks(t, path, links)

	// What each spec asked for is what the kernel has.
	for _, s := range specs {
		l, err := h.LinkByName(s.Name)
		if err != nil {
			t.Fatalf("LinkByName(%s): %v", s.Name, err)
		}
		if !reflect.DeepEqual(*l, *linkNamed(links, s.Name)) {
			t.Fatalf("LinkByName(%s) = %+v, LinkList has %+v", s.Name, *l, *linkNamed(links, s.Name))
		}
		if l.Kind != s.Kind || (s.MTU != 0 && l.MTU != s.MTU) || l.Up != s.Up ||
			(s.MAC != "" && l.MAC.String() != s.MAC) {
			t.Fatalf("%+v made %+v", s, *l)
		}
	}
	// A port for the bridge (v1 has macvlans: the kernel refuses it a
	// bridge, EBUSY). The bridge's MTU follows its port's, as the kernel
	// does for an MTU set at creation.
	must(t, h.LinkSetController("b0", "br0"))
	links, err = h.LinkList()
	must(t, err)
	sameLinks(t, path, links)
	v1, err := h.LinkByName("v1")
	must(t, err)
	if v1.Kind != "veth" || v1.Controller != 0 || v1.Up || v1.MTU != 1400 {
		t.Fatalf("the peer v1: %+v", *v1)
	}
	b0, err := h.LinkByName("b0")
	must(t, err)
	br0, err := h.LinkByName("br0")
	must(t, err)
	if b0.Controller != br0.Index || br0.Controller != 0 {
		t.Fatalf("the port b0: %+v (br0 is %d)", *b0, br0.Index)
	}
	// The kind-specific keys, as `ip -d` shows them.
	for _, c := range []struct{ name, key, want string }{
		{"mv0", "mode", "bridge"},
		{"mvt0", "mode", "private"},
		{"vx0", "id", "4242"},
	} {
		raw := ipJSON(t, path, "-d", "link", "show", "dev", c.name)
		data := raw[0]["linkinfo"].(map[string]any)["info_data"].(map[string]any)
		if got := fmt.Sprint(data[c.key]); got != c.want {
			t.Fatalf("%s: %s = %s, want %s (%v)", c.name, c.key, got, c.want, data)
		}
	}
	if link := raw1(t, path, "vx0")["linkinfo"].(map[string]any)["info_data"].(map[string]any)["link"]; link != "v1" {
		t.Fatalf("vx0's parent: %q", link)
	}
}

func raw1(t *testing.T, nsPath, name string) map[string]any {
	t.Helper()
	raw := ipJSON(t, nsPath, "-d", "link", "show", "dev", name)
	if len(raw) != 1 {
		t.Fatalf("ip link show dev %s: %v", name, raw)
	}
	return raw[0]
}

// Kinds the running kernel may lack (this host's has no vlan, ipvlan, dummy,
// bond, vrf): ip is the oracle. Where ip fails, LinkAdd fails too, with the
// kernel's errno, and leaves nothing; where ip succeeds, LinkAdd does.
func TestLinkSpecsKernelKinds(t *testing.T) {
	dir := tempNetnsDir(t)
	path, h := namespace(t, dir, "kinds2")
	must(t, h.LinkAdd(LinkSpec{Kind: "veth", Name: "p0", Peer: "p1"}))
	cases := []struct {
		spec LinkSpec
		ip   []string
	}{
		{LinkSpec{Kind: "vlan", Name: "vl0", Parent: "p0", ID: 10}, []string{"link", "add", "link", "p0", "name", "vl0", "type", "vlan", "id", "10"}},
		{LinkSpec{Kind: "ipvlan", Name: "ipv0", Parent: "p0", Mode: "l2"}, []string{"link", "add", "link", "p0", "name", "ipv0", "type", "ipvlan", "mode", "l2"}},
		{LinkSpec{Kind: "dummy", Name: "d0"}, []string{"link", "add", "d0", "type", "dummy"}},
		{LinkSpec{Kind: "bond", Name: "bo0", Mode: "active-backup"}, []string{"link", "add", "bo0", "type", "bond", "mode", "active-backup"}},
		{LinkSpec{Kind: "vrf", Name: "vrf0", ID: 10}, []string{"link", "add", "vrf0", "type", "vrf", "table", "10"}},
	}
	for _, c := range cases {
		msg, ok := ipRun(t, path, c.ip...)
		if ok {
			if out, ok := ipRun(t, path, "link", "del", c.spec.Name); !ok {
				t.Fatalf("ip link del %s: %s", c.spec.Name, out)
			}
		}
		before, err := h.LinkList()
		must(t, err)
		err = h.LinkAdd(c.spec)
		if ok {
			must(t, err)
			l, err := h.LinkByName(c.spec.Name)
			if err != nil || l.Kind != c.spec.Kind {
				t.Fatalf("%s: %+v, %v", c.spec.Kind, l, err)
			}
			t.Logf("kind %s: this kernel has it; LinkAdd made %+v", c.spec.Kind, *l)
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Errno() == 0 {
			t.Fatalf("kind %s: ip fails (%s), LinkAdd: %#v", c.spec.Kind, msg, err)
		}
		if !errors.Is(err, syscall.EOPNOTSUPP) {
			t.Fatalf("kind %s: ip fails (%s), LinkAdd: %v (errno %d), want EOPNOTSUPP", c.spec.Kind, msg, err, e.Errno())
		}
		after, lerr := h.LinkList()
		must(t, lerr)
		if !reflect.DeepEqual(before, after) {
			t.Fatalf("kind %s: a failed LinkAdd changed the links: %+v -> %+v", c.spec.Kind, before, after)
		}
		t.Logf("kind %s: not in this kernel (ip: %q); LinkAdd returns %v", c.spec.Kind, msg, err)
	}
}

// LinkAddIn creates the link in another namespace: a macvlan on a parent of
// the handle's namespace, a veth pair with the peer left behind.
func TestLinkAddIn(t *testing.T) {
	dir := tempNetnsDir(t)
	hostPath, host := namespace(t, dir, "in-host")
	podPath, pod := namespace(t, dir, "in-pod")
	must(t, host.LinkAdd(LinkSpec{Kind: "veth", Name: "up0", Peer: "up1"}))

	// The macvlan is called eth0 in the pod although the host has... no
	// eth0, and the host's own name for it never appears.
	must(t, host.LinkAddIn(LinkSpec{Kind: "macvlan", Name: "eth0", Parent: "up0", Mode: "bridge", MTU: 1450}, podPath))
	// A name taken in the handle's namespace is free in the target.
	must(t, host.LinkAddIn(LinkSpec{Kind: "veth", Name: "up1", Peer: "back0"}, podPath))

	hostLinks, err := host.LinkList()
	must(t, err)
	sameLinks(t, hostPath, hostLinks)
	podLinks, err := pod.LinkList()
	must(t, err)
	sameLinks(t, podPath, podLinks)
	var names []string
	for _, l := range hostLinks {
		names = append(names, l.Name)
	}
	sort.Strings(names)
	if got := strings.Join(names, ","); got != "back0,lo,up0,up1" {
		t.Fatalf("host links: %s", got)
	}
	names = nil
	for _, l := range podLinks {
		names = append(names, l.Name)
	}
	sort.Strings(names)
	if got := strings.Join(names, ","); got != "eth0,lo,up1" {
		t.Fatalf("pod links: %s", got)
	}
	eth0 := linkNamed(podLinks, "eth0")
	if eth0.Kind != "macvlan" || eth0.MTU != 1450 {
		t.Fatalf("eth0 in the pod: %+v", *eth0)
	}
	if mode := raw1(t, podPath, "eth0")["linkinfo"].(map[string]any)["info_data"].(map[string]any)["mode"]; mode != "bridge" {
		t.Fatalf("eth0's mode: %v", mode)
	}

	// Failures: a missing parent, a missing target; nothing is left.
	if err := host.LinkAddIn(LinkSpec{Kind: "macvlan", Name: "eth1", Parent: "nope0"}, podPath); !errors.Is(err, syscall.ENODEV) {
		t.Fatalf("missing parent: %v", err)
	}
	if err := host.LinkAddIn(LinkSpec{Kind: "macvlan", Name: "eth1", Parent: "up0"}, filepath.Join(dir, "absent")); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("missing namespace: %v", err)
	}
	if err := host.LinkAddIn(LinkSpec{Kind: "macvlan", Name: "eth0", Parent: "up0"}, podPath); !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("taken name in the target: %v", err)
	}
	h2, err := host.LinkList()
	must(t, err)
	p2, err := pod.LinkList()
	must(t, err)
	if !reflect.DeepEqual(h2, hostLinks) || !reflect.DeepEqual(p2, podLinks) {
		t.Fatalf("failed LinkAddIn changed links:\n host %+v\n pod  %+v", h2, p2)
	}
}

// The errors: errno passed through, and the library's own code for a key a
// kind lacks; nothing is changed by a refused spec.
func TestLinkSpecErrors(t *testing.T) {
	dir := tempNetnsDir(t)
	path, h := namespace(t, dir, "errs")
	must(t, h.LinkAdd(LinkSpec{Kind: "bridge", Name: "br0"}))

	err := h.LinkAdd(LinkSpec{Kind: "bridge", Name: "br0"})
	var e *Error
	if !errors.Is(err, syscall.EEXIST) || !errors.As(err, &e) || e.Code() != 17 || !strings.Contains(e.Message(), "br0") {
		t.Fatalf("duplicate LinkAdd: %#v", err)
	}
	_, err = h.LinkByName("missing0")
	if !errors.Is(err, syscall.ENODEV) || !errors.As(err, &e) || e.Code() != int32(syscall.ENODEV) {
		t.Fatalf("LinkByName(missing0): %#v", err)
	}

	before, err := h.LinkList()
	must(t, err)
	refused := []struct {
		spec LinkSpec
		want []string // in the message
	}{
		{LinkSpec{Kind: "bridge", Name: "br1", Peer: "x"}, []string{"peer", "bridge"}},
		{LinkSpec{Kind: "veth", Name: "v0", Peer: "v1", Mode: "bridge"}, []string{"mode", "veth"}},
		{LinkSpec{Kind: "macvlan", Name: "mv0", Parent: "br0", ID: 5}, []string{"id", "macvlan"}},
		{LinkSpec{Kind: "vxlan", Name: "vx0", ID: 5, PeerNetns: path}, []string{"peer_netns", "vxlan"}},
		{LinkSpec{Kind: "nosuchkind", Name: "n0"}, []string{"nosuchkind"}},
		{LinkSpec{Kind: "veth", Name: "v0", Peer: "v1", VlanFiltering: true}, []string{"vlan_filtering", "veth"}},
	}
	for _, c := range refused {
		err := h.LinkAdd(c.spec)
		if !errors.Is(err, ErrInvalidArgument) || !errors.As(err, &e) || e.Code() != 10004 || e.Errno() != 0 {
			t.Fatalf("%+v: %#v, want ErrInvalidArgument", c.spec, err)
		}
		for _, w := range c.want {
			if !strings.Contains(e.Message(), w) {
				t.Fatalf("%+v: message %q does not name %q", c.spec, e.Message(), w)
			}
		}
	}
	// Values the library or the kernel refuses.
	for _, c := range []struct {
		spec LinkSpec
		want error
	}{
		{LinkSpec{Kind: "macvlan", Name: "mv0", Parent: "br0", Mode: "sideways"}, syscall.EINVAL},
		{LinkSpec{Kind: "bridge", Name: "br2", MAC: "not-a-mac"}, syscall.EINVAL},
		{LinkSpec{Kind: "bridge", Name: "a-name-of-over-15"}, syscall.EINVAL},
		{LinkSpec{Kind: "bridge", Name: "br\x002"}, syscall.EINVAL},
		{LinkSpec{Kind: "veth", Name: "v0"}, nil}, // peer is required: some error
		{LinkSpec{Kind: "macvlan", Name: "mv0", Parent: "missing0"}, syscall.ENODEV},
	} {
		err := h.LinkAdd(c.spec)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) || !errors.As(err, &e) {
			t.Fatalf("%+v: %#v, want %v", c.spec, err, c.want)
		}
		t.Logf("%q: %q", fmt.Sprintf("%+v", c.spec), err)
	}
	after, err := h.LinkList()
	must(t, err)
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("refused specs changed the links: %+v -> %+v", before, after)
	}
	sameLinks(t, path, after)

	// A closed handle is a NULL pointer to the library, not a crash.
	closed, err := NewHandle(path)
	must(t, err)
	closed.Close()
	for what, err := range map[string]error{
		"LinkList":   func() error { _, err := closed.LinkList(); return err }(),
		"LinkByName": func() error { _, err := closed.LinkByName("lo"); return err }(),
		"RouteList":  func() error { _, err := closed.RouteList(0, 0); return err }(),
		"RouteGet":   func() error { _, err := closed.RouteGet(netip.MustParseAddr("127.0.0.1")); return err }(),
		"LinkAdd":    closed.LinkAdd(LinkSpec{Kind: "bridge", Name: "br9"}),
		"LinkAddIn":  closed.LinkAddIn(LinkSpec{Kind: "bridge", Name: "br9"}, path),
	} {
		if !errors.Is(err, ErrNullPointer) {
			t.Fatalf("%s on a closed handle: %v", what, err)
		}
	}
}

// kernelRoutes is `ip -j [-4|-6] route show table T` in nsPath as Routes
// (LinkIndex from the link names).
func kernelRoutes(t *testing.T, nsPath string, family int, table string) []Route {
	t.Helper()
	index := map[string]uint32{}
	for _, l := range kernelLinks(t, nsPath) {
		index[l.Name] = l.Index
	}
	args := []string{"route", "show", "table", table}
	switch family {
	case syscall.AF_INET:
		args = append([]string{"-4"}, args...)
	case syscall.AF_INET6:
		args = append([]string{"-6"}, args...)
	}
	tables := map[string]uint32{"main": 254, "local": 255}
	var out []Route
	for _, r := range ipJSON(t, nsPath, args...) {
		var k Route
		dst := r["dst"].(string)
		if dst == "default" && family == syscall.AF_INET6 && r["gateway"] == nil {
			dst = "::/0" // as Route spells it
		}
		if dst != "default" {
			if !strings.Contains(dst, "/") {
				if strings.Contains(dst, ":") {
					dst += "/128"
				} else {
					dst += "/32"
				}
			}
			k.Dst = netip.MustParsePrefix(dst)
		}
		if gw, ok := r["gateway"].(string); ok {
			k.Gateway = netip.MustParseAddr(gw)
		}
		if dev, ok := r["dev"].(string); ok {
			k.LinkIndex = index[dev]
		}
		if m, ok := r["metric"].(float64); ok {
			k.Metric = uint32(m)
		}
		k.Table = tables[table]
		if tb, ok := r["table"].(string); ok {
			k.Table = tables[tb]
		}
		out = append(out, k)
	}
	return out
}

func sortRoutes(rs []Route) []Route {
	out := append([]Route(nil), rs...)
	sort.Slice(out, func(i, j int) bool { return fmt.Sprintf("%+v", out[i]) < fmt.Sprintf("%+v", out[j]) })
	return out
}

func sameRoutes(t *testing.T, what string, got, want []Route) {
	t.Helper()
	if g, w := sortRoutes(got), sortRoutes(want); !reflect.DeepEqual(g, w) && !(len(g) == 0 && len(w) == 0) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, g, w)
	}
}

// RouteList against `ip route show`: the kernel's connected routes, a route
// RouteAdd made, both families, main and local tables; RouteGet against
// `ip route get`; a listed route deleted as listed.
func TestRouteListAndGet(t *testing.T) {
	dir := tempNetnsDir(t)
	path, h := namespace(t, dir, "routes")
	must(t, h.LinkAdd(LinkSpec{Kind: "veth", Name: "r0", Peer: "r1", Up: true}))
	must(t, h.LinkSetUp("r1"))
	must(t, h.AddrAdd("r0", mustPrefix("10.99.0.1/24")))
	must(t, h.AddrAdd("r0", mustPrefix("fd00:99::1/64")))
	r0, err := h.LinkByName("r0")
	must(t, err)

	added := Route{Dst: mustPrefix("192.0.2.0/24"), Gateway: netip.MustParseAddr("10.99.0.2"), Metric: 100}
	must(t, h.RouteAdd(added))
	added6 := Route{Dst: mustPrefix("2001:db8::/32"), Gateway: netip.MustParseAddr("fd00:99::2"), Dev: "r0", Metric: 300}
	must(t, h.RouteAdd(added6))

	v4, err := h.RouteList(syscall.AF_INET, 0)
	must(t, err)
	sameRoutes(t, "RouteList(AF_INET, main)", v4, kernelRoutes(t, path, syscall.AF_INET, "main"))
	want4 := []Route{
		{Dst: mustPrefix("10.99.0.0/24"), LinkIndex: r0.Index, Table: 254},
		{Dst: added.Dst, Gateway: added.Gateway, LinkIndex: r0.Index, Metric: 100, Table: 254},
	}
	sameRoutes(t, "RouteList(AF_INET, main) by hand", v4, want4)

	v6, err := h.RouteList(syscall.AF_INET6, 254)
	must(t, err)
	sameRoutes(t, "RouteList(AF_INET6, 254)", v6, kernelRoutes(t, path, syscall.AF_INET6, "main"))
	found := false
	for _, r := range v6 {
		if r.Dst == added6.Dst && r.Gateway == added6.Gateway && r.LinkIndex == r0.Index && r.Metric == 300 {
			found = true
		}
	}
	if !found {
		t.Fatalf("RouteList(AF_INET6) lacks %+v: %+v", added6, v6)
	}
	both, err := h.RouteList(0, 0)
	must(t, err)
	sameRoutes(t, "RouteList(0, main)", both, append(v4, v6...))
	local, err := h.RouteList(syscall.AF_INET, 255)
	must(t, err)
	sameRoutes(t, "RouteList(AF_INET, local)", local, kernelRoutes(t, path, syscall.AF_INET, "local"))
	if len(local) == 0 {
		t.Fatal("no local routes")
	}
	if _, err := h.RouteList(12345, 0); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("family 12345: %v", err)
	}

	// RouteGet: the route the kernel picks.
	got, err := h.RouteGet(netip.MustParseAddr("192.0.2.7"))
	must(t, err)
	oracle := ipJSON(t, path, "route", "get", "192.0.2.7")
	if got.Gateway != added.Gateway || got.LinkIndex != r0.Index || got.Table != 254 ||
		oracle[0]["gateway"] != "10.99.0.2" || oracle[0]["dev"] != "r0" {
		t.Fatalf("RouteGet(192.0.2.7) = %+v; ip route get: %v", *got, oracle)
	}
	got, err = h.RouteGet(netip.MustParseAddr("10.99.0.5"))
	must(t, err)
	if got.Gateway.IsValid() || got.LinkIndex != r0.Index {
		t.Fatalf("RouteGet(10.99.0.5) = %+v", *got)
	}
	if _, err := h.RouteGet(netip.MustParseAddr("198.51.100.1")); !errors.Is(err, syscall.ENETUNREACH) {
		t.Fatalf("RouteGet(unreachable): %v", err)
	}
	if _, err := h.RouteGet(netip.Addr{}); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("RouteGet(zero Addr): %v", err)
	}

	// A table RouteAdd cannot write is refused, nothing changes.
	if err := h.RouteAdd(Route{Dst: mustPrefix("198.51.100.0/24"), Dev: "r0", Table: 100}); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("RouteAdd table 100: %v", err)
	}
	if err := h.RouteAdd(Route{Dst: mustPrefix("198.51.100.0/24"), LinkIndex: 9999}); !errors.Is(err, syscall.ENODEV) {
		t.Fatalf("RouteAdd LinkIndex 9999: %v", err)
	}
	again, err := h.RouteList(syscall.AF_INET, 0)
	must(t, err)
	sameRoutes(t, "after refused RouteAdds", again, v4)

	// IPv6 default routes: with a gateway the zero Dst, without one ::/0
	// (the zero Dst would be IPv4's); each deleted as listed.
	must(t, h.RouteAdd(Route{Gateway: netip.MustParseAddr("fd00:99::2"), Metric: 10}))
	must(t, h.RouteAdd(Route{Dst: mustPrefix("::/0"), Dev: "r0", Metric: 20}))
	defaults, err := h.RouteList(syscall.AF_INET6, 0)
	must(t, err)
	sameRoutes(t, "IPv6 defaults", defaults, kernelRoutes(t, path, syscall.AF_INET6, "main"))
	var dels []Route
	for _, r := range defaults {
		if r.Dst.Bits() == 0 {
			dels = append(dels, r)
		}
	}
	wantDefaults := []Route{
		{Gateway: netip.MustParseAddr("fd00:99::2"), LinkIndex: r0.Index, Metric: 10, Table: 254},
		{Dst: mustPrefix("::/0"), LinkIndex: r0.Index, Metric: 20, Table: 254},
	}
	sameRoutes(t, "IPv6 defaults by hand", dels, wantDefaults)
	both, err = h.RouteList(0, 0)
	must(t, err)
	sameRoutes(t, "RouteList(0, main) with IPv6 defaults", both, append(kernelRoutes(t, path, syscall.AF_INET, "main"), defaults...))
	for _, r := range dels {
		must(t, h.RouteDel(r))
	}
	v6again, err := h.RouteList(syscall.AF_INET6, 0)
	must(t, err)
	sameRoutes(t, "after deleting the IPv6 defaults", v6again, v6)

	// A listed route, deleted as listed (LinkIndex stands for Dev); a
	// route by LinkIndex added.
	for _, r := range v4 {
		if r.Dst == added.Dst {
			must(t, h.RouteDel(r))
		}
	}
	byIndex := Route{Dst: mustPrefix("198.51.100.0/24"), LinkIndex: r0.Index, Table: 254}
	must(t, h.RouteAdd(byIndex))
	after, err := h.RouteList(syscall.AF_INET, 0)
	must(t, err)
	sameRoutes(t, "after RouteDel and RouteAdd by index", after, kernelRoutes(t, path, syscall.AF_INET, "main"))
	sameRoutes(t, "after RouteDel and RouteAdd by index, by hand", after, []Route{want4[0], byIndex})
}

// IPAM Add returns the CNI result with the gateway, the configuration's
// routes and DNS; Check agrees with the allocations.
func TestIPAMAddCheck(t *testing.T) {
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	must(t, os.WriteFile(resolv, []byte("nameserver 10.98.0.53\nnameserver fd00:98::53\ndomain example.test\nsearch a.example.test b.example.test\noptions ndots:2 edns0\n"), 0o644))
	dataDir := t.TempDir()
	config := func(resolvConf string) []byte {
		conf := map[string]any{
			"cniVersion": "1.0.0",
			"name":       "go-ipam-net",
			"type":       "bridge",
			"ipam": map[string]any{
				"type":       "host-local",
				"dataDir":    dataDir,
				"resolvConf": resolvConf,
				"ranges": [][]map[string]string{
					{{"subnet": "10.98.0.0/24", "rangeStart": "10.98.0.10", "rangeEnd": "10.98.0.11", "gateway": "10.98.0.1"}},
					{{"subnet": "fd00:98::/64", "rangeStart": "fd00:98::10", "rangeEnd": "fd00:98::20"}},
				},
				"routes": []map[string]string{
					{"dst": "0.0.0.0/0"},
					{"dst": "192.0.2.0/24", "gw": "10.98.0.254"},
				},
			},
		}
		b, err := json.Marshal(conf)
		must(t, err)
		return b
	}

	// A resolv.conf that cannot be read: ErrIPAMConfig, nothing reserved
	// (the next Add gets the range's first address).
	bad, err := NewIPAM(config(filepath.Join(t.TempDir(), "absent.conf")))
	must(t, err)
	if _, err := bad.Add("go-ipam-1", "eth0"); !errors.Is(err, ErrIPAMConfig) {
		t.Fatalf("Add with an unreadable resolvConf: %v", err)
	}
	bad.Close()

	ipam, err := NewIPAM(config(resolv))
	must(t, err)
	defer ipam.Close()

	res, err := ipam.Add("go-ipam-1", "eth0")
	must(t, err)
	t.Logf("Add: %s", res.Raw)
	if res.CNIVersion != "1.0.0" {
		t.Fatalf("cniVersion %q", res.CNIVersion)
	}
	wantIPs := []IPConfig{
		{Address: mustPrefix("10.98.0.10/24"), Gateway: netip.MustParseAddr("10.98.0.1")},
		{Address: mustPrefix("fd00:98::10/64"), Gateway: netip.MustParseAddr("fd00:98::1")},
	}
	if !reflect.DeepEqual(res.IPs, wantIPs) {
		t.Fatalf("IPs = %+v, want %+v", res.IPs, wantIPs)
	}
	wantRoutes := []IPAMRoute{
		{Dst: mustPrefix("0.0.0.0/0")},
		{Dst: mustPrefix("192.0.2.0/24"), GW: netip.MustParseAddr("10.98.0.254")},
	}
	if !reflect.DeepEqual(res.Routes, wantRoutes) {
		t.Fatalf("Routes = %+v, want %+v", res.Routes, wantRoutes)
	}
	wantDNS := DNS{
		Nameservers: []string{"10.98.0.53", "fd00:98::53"},
		Domain:      "example.test",
		Search:      []string{"a.example.test", "b.example.test"},
		Options:     []string{"ndots:2", "edns0"},
	}
	if !reflect.DeepEqual(res.DNS, wantDNS) {
		t.Fatalf("DNS = %+v, want %+v", res.DNS, wantDNS)
	}
	var raw map[string]any
	must(t, json.Unmarshal(res.Raw, &raw))
	if raw["cniVersion"] != "1.0.0" {
		t.Fatalf("raw result: %s", res.Raw)
	}

	// The same as Allocate sees: the pair holds its addresses.
	must(t, ipam.Check("go-ipam-1", "eth0"))
	if _, err := ipam.Add("go-ipam-1", "eth0"); !errors.Is(err, ErrIPAMDuplicate) {
		t.Fatalf("second Add: %v", err)
	}
	second, err := ipam.Add("go-ipam-2", "eth0")
	must(t, err)
	if second.IPs[0].Address != mustPrefix("10.98.0.11/24") {
		t.Fatalf("second Add: %+v", second.IPs)
	}
	if _, err := ipam.Add("go-ipam-3", "eth0"); !errors.Is(err, ErrIPAMExhausted) {
		t.Fatalf("third Add from a range of two: %v", err)
	}
	// Nothing was left by the failed Add: Check for it fails, and a release
	// frees an address for the next.
	err = ipam.Check("go-ipam-3", "eth0")
	var e *Error
	if !errors.Is(err, syscall.ENOENT) || !errors.As(err, &e) {
		t.Fatalf("Check of a pair without addresses: %v", err)
	}
	must(t, ipam.Release("go-ipam-1", "eth0"))
	if err := ipam.Check("go-ipam-1", "eth0"); !errors.Is(err, syscall.ENOENT) {
		t.Fatal("Check after Release passed")
	}
	third, err := ipam.Add("go-ipam-3", "eth0")
	must(t, err)
	if third.IPs[0].Address != mustPrefix("10.98.0.10/24") {
		t.Fatalf("Add after release: %+v", third.IPs)
	}
	if _, err := ipam.Add("a\x00b", "eth0"); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("NUL byte: %v", err)
	}
	must(t, ipam.Release("go-ipam-2", "eth0"))
	must(t, ipam.Release("go-ipam-3", "eth0"))

	// A closed allocator is a NULL pointer to the library, not a crash.
	ipam.Close()
	if _, err := ipam.Add("go-ipam-4", "eth0"); !errors.Is(err, ErrNullPointer) {
		t.Fatalf("Add on a closed IPAM: %v", err)
	}
	if err := ipam.Check("go-ipam-4", "eth0"); !errors.Is(err, ErrNullPointer) {
		t.Fatalf("Check on a closed IPAM: %v", err)
	}
}
