package netns

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
)

func TestVersion(t *testing.T) {
	if v := Version(); !strings.HasPrefix(v, "netns-ffi/") || len(v) == len("netns-ffi/") {
		t.Fatalf("Version() = %q", v)
	}
	if want := os.Getenv("NETNS_GO_EXPECT_VERSION"); want != "" && Version() != want {
		t.Fatalf("Version() = %q, want %q", Version(), want)
	}
	if ABIVersion() != 2 {
		t.Fatalf("ABIVersion() = %d", ABIVersion())
	}
}

// The library's errors arrive as *Error values that carry the code.
func TestErrors(t *testing.T) {
	dir := tempNetnsDir(t)

	// An errno passes through: errors.Is with the syscall.Errno, and with the
	// io/fs error it stands for.
	if err := CreateNamed(dir, "dup"); err != nil {
		t.Fatal(err)
	}
	err := CreateNamed(dir, "dup")
	var e *Error
	if !errors.As(err, &e) || e.Code() != 17 || e.Errno() != syscall.EEXIST {
		t.Fatalf("duplicate namespace: %#v", err)
	}
	if !errors.Is(err, syscall.EEXIST) || !errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.ENOENT) {
		t.Fatalf("errors.Is on %v", err)
	}
	if !strings.Contains(err.Error(), "File exists") {
		t.Fatalf("message: %q", err)
	}
	if err := DeleteNamed(dir, "dup"); err != nil {
		t.Fatal(err)
	}
	if err := DeleteNamed(dir, "dup"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("second delete: %v", err)
	}

	// Invalid UTF-8 is refused by the library with its own code.
	err = CreateNamed(dir, "bad\xff")
	if !errors.Is(err, ErrInvalidUTF8) || !errors.As(err, &e) || e.Code() != 10002 || e.Errno() != 0 {
		t.Fatalf("invalid UTF-8: %#v", err)
	}
	if errors.Unwrap(err) != nil {
		t.Fatalf("a library code unwraps to nothing: %v", errors.Unwrap(err))
	}

	// A NUL byte would be cut by C: refused before the call.
	if err := CreateNamed(dir, "a\x00b"); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("NUL byte: %v", err)
	}

	// A closed handle is a NULL pointer to the library: an error, not a crash.
	h, err := NewHandle("")
	if err != nil {
		t.Fatal(err)
	}
	if i, err := h.LinkIndex("lo"); err != nil || i != 1 {
		t.Fatalf("LinkIndex(lo) = %d, %v", i, err)
	}
	if _, err := h.LinkIndex("no-such-link"); !errors.Is(err, syscall.ENODEV) {
		t.Fatalf("LinkIndex(no-such-link): %v", err)
	}
	h.Close()
	h.Close()
	if _, err := h.LinkNames(); !errors.Is(err, ErrNullPointer) {
		t.Fatalf("closed handle: %v", err)
	}

	// Namespaces that do not exist.
	if _, err := NewHandle(filepath.Join(dir, "absent")); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("NewHandle(absent): %v", err)
	}
	if _, err := Spawn(filepath.Join(dir, "absent"), []string{"true"}); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("Spawn(absent): %v", err)
	}

	// IPAM configuration errors.
	if _, err := NewIPAM([]byte(`{"name":"n"}`)); !errors.Is(err, ErrIPAMConfig) {
		t.Fatalf("NewIPAM without ipam: %v", err)
	}
}

func ipamConfig(t *testing.T, dataDir string) []byte {
	t.Helper()
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "go-user-net",
		"type":       "bridge",
		"ipam": map[string]any{
			"type":    "host-local",
			"dataDir": dataDir,
			"ranges": [][]map[string]string{{{
				"subnet":     "10.98.0.0/24",
				"rangeStart": "10.98.0.10",
				"rangeEnd":   "10.98.0.11",
				"gateway":    "10.98.0.1",
			}}},
		},
	}
	b, err := json.Marshal(conf)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// spawnStatus runs argv in the namespace at nsPath and returns its exit code.
func spawnStatus(t *testing.T, nsPath string, argv ...string) int {
	t.Helper()
	p, err := Spawn(nsPath, argv)
	if err != nil {
		t.Fatalf("Spawn(%v): %v", argv, err)
	}
	st, err := p.Wait()
	if err != nil {
		t.Fatalf("Wait(%v): %v", argv, err)
	}
	return st.ExitCode()
}

// The topology of examples/c, with both ends in named namespaces of a
// temporary directory (so the test leaves the namespace it runs in alone):
//
//	go-host: veth-go0 10.98.0.1/24  <-- veth -->  go-pod: eth0 10.98.0.2/24,
//	                                              default via 10.98.0.1
func TestTopology(t *testing.T) {
	dir := tempNetnsDir(t)
	hostPath, podPath := filepath.Join(dir, "go-host"), filepath.Join(dir, "go-pod")
	for _, n := range []string{"go-host", "go-pod"} {
		if err := CreateNamed(dir, n); err != nil {
			t.Fatal(err)
		}
	}
	names, err := ListNamed(dir)
	if err != nil || strings.Join(names, ",") != "go-host,go-pod" {
		t.Fatalf("ListNamed = %v, %v", names, err)
	}
	host, err := NewHandle(hostPath)
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	pod, err := NewHandle(podPath)
	if err != nil {
		t.Fatal(err)
	}
	defer pod.Close()

	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	// A veth pair, the peer created directly in the pod.
	check(host.LinkAddVeth("veth-go0", "eth0", podPath))
	hostLinks, err := host.LinkNames()
	check(err)
	podLinks, err := pod.LinkNames()
	check(err)
	if !contains(hostLinks, "veth-go0") || contains(hostLinks, "eth0") ||
		!contains(podLinks, "eth0") || !contains(podLinks, "lo") {
		t.Fatalf("links: host %v, pod %v", hostLinks, podLinks)
	}
	idx, err := pod.LinkIndex("eth0")
	if err != nil || idx < 2 {
		t.Fatalf("LinkIndex(eth0) = %d, %v", idx, err)
	}

	// A duplicate is the kernel's EEXIST, passed through.
	err = host.LinkAddVeth("veth-go0", "veth-go1", "")
	var e *Error
	if !errors.Is(err, syscall.EEXIST) || !errors.As(err, &e) || e.Code() != 17 ||
		!strings.Contains(e.Message(), "veth-go0") {
		t.Fatalf("duplicate veth: %v", err)
	}
	// The kernel's extended-ack text is in the message.
	err = host.LinkSetMTU("veth-go0", 70000)
	if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "kernel:") {
		t.Fatalf("MTU 70000: %v", err)
	}

	// Addresses on both ends, links up.
	check(host.LinkSetMTU("veth-go0", 1400))
	check(host.AddrAdd("veth-go0", mustPrefix("10.98.0.1/24")))
	check(pod.AddrAdd("eth0", mustPrefix("10.98.0.2/24")))
	check(pod.AddrAdd("eth0", mustPrefix("fd00:98::2/64")))
	check(host.LinkSetUp("veth-go0"))
	check(pod.LinkSetUp("eth0"))
	check(pod.LinkSetUp("lo"))
	addrs, err := pod.AddrList("eth0")
	check(err)
	if len(addrs) < 2 || addrs[0] != mustPrefix("10.98.0.2/24") || addrs[1] != mustPrefix("fd00:98::2/64") {
		t.Fatalf("eth0 addresses: %v", addrs)
	}
	if err := pod.AddrAdd("eth0", mustPrefix("10.98.0.2/24")); !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("duplicate address: %v", err)
	}

	// The default route in the pod, via the host end.
	def := Route{Gateway: netip.MustParseAddr("10.98.0.1")}
	check(pod.RouteAdd(def))
	if err := pod.RouteAdd(def); !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("duplicate route: %v", err)
	}
	check(pod.RouteReplace(Route{Gateway: def.Gateway, Dev: "eth0"}))
	extra := Route{Dst: mustPrefix("192.0.2.0/24"), Gateway: def.Gateway, Metric: 100}
	check(pod.RouteAdd(extra))
	check(pod.RouteDel(Route{Dst: extra.Dst}))
	if err := pod.RouteDel(Route{Dst: extra.Dst}); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("deleting a deleted route: %v", err)
	}

	// A process in the pod: eth0 is there, veth-go0 is not, and an address
	// off-link is routed by the default route.
	if c := spawnStatus(t, podPath, "ip", "-o", "link", "show", "dev", "eth0"); c != 0 {
		t.Fatalf("ip link show eth0 in the pod: exit %d", c)
	}
	if c := spawnStatus(t, podPath, "ip", "link", "show", "dev", "veth-go0"); c == 0 {
		t.Fatal("veth-go0 is visible in the pod")
	}
	if c := spawnStatus(t, podPath, "ip", "-o", "route", "get", "192.0.2.1"); c != 0 {
		t.Fatalf("ip route get 192.0.2.1 in the pod: exit %d", c)
	}

	// IPAM: allocate, use, release.
	ipam, err := NewIPAM(ipamConfig(t, t.TempDir()))
	check(err)
	defer ipam.Close()
	got, err := ipam.Allocate("go-container", "eth0")
	check(err)
	if len(got) != 1 || got[0] != mustPrefix("10.98.0.10/24") {
		t.Fatalf("Allocate = %v", got)
	}
	if _, err := ipam.Allocate("go-container", "eth0"); !errors.Is(err, ErrIPAMDuplicate) {
		t.Fatalf("duplicate allocation: %v", err)
	}
	second, err := ipam.Allocate("go-container-2", "eth0")
	check(err)
	if _, err := ipam.Allocate("go-container-3", "eth0"); !errors.Is(err, ErrIPAMExhausted) {
		t.Fatalf("third allocation from a range of two: %v", err)
	}
	check(pod.AddrAdd("eth0", got[0]))
	addrs, err = pod.AddrList("eth0")
	check(err)
	if !containsPrefix(addrs, got[0]) {
		t.Fatalf("eth0 lacks %v: %v", got[0], addrs)
	}
	check(pod.AddrDel("eth0", got[0]))
	check(ipam.Release("go-container", "eth0"))
	check(ipam.Release("go-container", "eth0")) // idempotent
	check(ipam.Release("go-container-2", "eth0"))
	again, err := ipam.Allocate("go-container-3", "eth0")
	check(err)
	if len(again) != 1 || (again[0] != got[0] && again[0] != second[0]) {
		t.Fatalf("allocation after release: %v", again)
	}
	check(ipam.Release("go-container-3", "eth0"))

	// Clean up: deleting one end of the pair deletes both.
	check(pod.RouteDel(def))
	check(host.LinkDel("veth-go0"))
	podLinks, err = pod.LinkNames()
	check(err)
	if contains(podLinks, "eth0") {
		t.Fatalf("eth0 survived its peer: %v", podLinks)
	}
	host.Close()
	pod.Close()
	for _, n := range []string{"go-host", "go-pod"} {
		check(DeleteNamed(dir, n))
	}
	if names, err := ListNamed(dir); err != nil || len(names) != 0 {
		t.Fatalf("left behind: %v, %v", names, err)
	}
}

func containsPrefix(list []netip.Prefix, p netip.Prefix) bool {
	for _, x := range list {
		if x == p {
			return true
		}
	}
	return false
}

// Links of other kinds and link changes, in a namespace of their own.
func TestLinkKinds(t *testing.T) {
	dir := tempNetnsDir(t)
	if err := CreateNamed(dir, "kinds"); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := DeleteNamed(dir, "kinds"); err != nil {
			t.Error(err)
		}
	}()
	if err := CreateNamed(dir, "other"); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := DeleteNamed(dir, "other"); err != nil {
			t.Error(err)
		}
	}()
	h, err := NewHandle(filepath.Join(dir, "kinds"))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	other, err := NewHandle(filepath.Join(dir, "other"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	steps := []struct {
		what string
		do   func() error
	}{
		{"bridge", func() error { return h.LinkAddBridge("br0") }},
		{"veth", func() error { return h.LinkAddVeth("v0", "v1", "") }},
		{"controller", func() error { return h.LinkSetController("v0", "br0") }},
		{"nocontroller", func() error { return h.LinkSetNoController("v0") }},
		{"macvlan", func() error { return h.LinkAddMacvlan("mv0", "v1", "bridge") }},
		{"vxlan", func() error { return h.LinkAddVxlan("vx0", 42, "", 4789) }},
		{"down", func() error { return h.LinkSetDown("v0") }},
		{"rename", func() error { return h.LinkSetName("v1", "v1x") }},
		{"netns", func() error { return h.LinkSetNetns("vx0", filepath.Join(dir, "other")) }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
	}
	names, err := h.LinkNames()
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	if got, want := strings.Join(names, ","), "br0,lo,mv0,v0,v1x"; got != want {
		t.Fatalf("links = %s, want %s", got, want)
	}
	if names, err := other.LinkNames(); err != nil || !contains(names, "vx0") {
		t.Fatalf("other: %v, %v", names, err)
	}
	if err := h.LinkAddMacvlan("mv1", "v0", "sideways"); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("bad macvlan mode: %v", err)
	}
}

// When the caller says which build of the library the tests must use
// (NETNS_GO_EXPECT_LIBRARY, set by examples/tests/go_user.rs), that is the
// one this process mapped: cgo's default -L (../../target/debug) cannot stand
// in for it unnoticed.
func TestLibraryIsTheExpectedOne(t *testing.T) {
	want := os.Getenv("NETNS_GO_EXPECT_LIBRARY")
	if want == "" {
		t.Skip("NETNS_GO_EXPECT_LIBRARY is not set: any libnetns.so will do")
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	mapped := map[string]bool{}
	for _, line := range strings.Split(string(maps), "\n") {
		if f := strings.Fields(line); len(f) == 6 && strings.HasSuffix(f[5], "/libnetns.so") {
			mapped[f[5]] = true
		}
	}
	if len(mapped) != 1 || !mapped[want] {
		t.Fatalf("mapped libnetns.so: %v, want %s", mapped, want)
	}
}
