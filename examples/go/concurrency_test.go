package netns

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// 64 goroutines create, use and delete namespaces at once, without
// runtime.LockOSThread. The library never moves a thread of the caller: no
// thread of the process other than the library's own helper threads is ever
// seen in another namespace (a watcher checks all the time), and afterwards
// every thread is in the namespace the test started in.
func TestConcurrentNamespacesLeaveEveryThreadAlone(t *testing.T) {
	const goroutines = 64
	const rounds = 3

	start, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	before, err := tasks()
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range before {
		if tk.netns != start {
			t.Fatalf("before the test, thread %d is in %s, not %s", tk.tid, tk.netns, start)
		}
	}
	dir := tempNetnsDir(t)

	// The watcher: until the workers are done, every thread that is not a
	// library helper thread must stay in the start namespace.
	var done atomic.Bool
	var watch sync.WaitGroup
	var sweeps int
	var strays []string
	var watchErr error
	watch.Add(1)
	go func() {
		defer watch.Done()
		for {
			// The last sweep starts after the workers are done.
			last := done.Load()
			sweeps++
			strays, watchErr = strayThreads(start, false)
			if last || len(strays) > 0 || watchErr != nil {
				return
			}
		}
	}()

	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				if err := worker(dir, fmt.Sprintf("g%d-%d", g, r)); err != nil {
					errs <- fmt.Errorf("goroutine %d round %d: %w", g, r, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	done.Store(true)
	watch.Wait()
	for err := range errs {
		t.Error(err)
	}
	if watchErr != nil {
		t.Fatal(watchErr)
	}
	if len(strays) > 0 {
		t.Fatalf("while namespaces were being worked on (sweep %d): %v", sweeps, strays)
	}

	// Every thread is where it started (a library helper thread that has
	// been joined may still be listed while it exits: it must be exiting).
	after, err := strayThreads(start, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) > 0 {
		t.Fatalf("after the workers: %v", after)
	}
	if names, err := ListNamed(dir); err != nil || len(names) != 0 {
		t.Fatalf("left behind: %v, %v", names, err)
	}
	all, err := tasks()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d threads, all in %s; the watcher swept %d times", len(all), start, sweeps)
}

// worker creates the namespace name in dir, works in it through a handle
// and through a handle on the caller's namespace (v1 and v2 calls, a veth
// pair across the two), and deletes it.
func worker(dir, name string) (err error) {
	if err := CreateNamed(dir, name); err != nil {
		return err
	}
	defer func() {
		if e := DeleteNamed(dir, name); e != nil && err == nil {
			err = e
		}
	}()
	h, err := NewHandle(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	defer h.Close()
	if err := h.LinkAddVeth("a", "b", ""); err != nil {
		return err
	}
	if err := h.LinkAddVeth("a", "c", ""); !errors.Is(err, syscall.EEXIST) {
		return fmt.Errorf("duplicate veth: %v", err)
	}
	if err := h.LinkSetUp("a"); err != nil {
		return err
	}
	if err := h.AddrAdd("a", mustPrefix("10.97.0.1/24")); err != nil {
		return err
	}
	names, err := h.LinkNames()
	if err != nil {
		return err
	}
	if len(names) != 3 || !contains(names, "lo") || !contains(names, "a") || !contains(names, "b") {
		return fmt.Errorf("links in %s: %v", name, names)
	}
	// v2: the list and route reads agree with what v1 made.
	links, err := h.LinkList()
	if err != nil {
		return err
	}
	if len(links) != 3 || links[0].Name != "lo" {
		return fmt.Errorf("LinkList in %s: %+v", name, links)
	}
	a, err := h.LinkByName("a")
	if err != nil {
		return err
	}
	if a.Kind != "veth" || !a.Up {
		return fmt.Errorf("LinkByName(a) in %s: %+v", name, *a)
	}
	routes, err := h.RouteList(syscall.AF_INET, 0)
	if err != nil {
		return err
	}
	connected := Route{Dst: mustPrefix("10.97.0.0/24"), LinkIndex: a.Index, Table: 254}
	if len(routes) != 1 || routes[0] != connected {
		return fmt.Errorf("RouteList in %s: %+v, want %+v", name, routes, connected)
	}
	if err := h.LinkDel("a"); err != nil {
		return err
	}
	if names, err := h.LinkNames(); err != nil || len(names) != 1 {
		return fmt.Errorf("after delete, links in %s: %v, %v", name, names, err)
	}
	// The caller's namespace, through a handle opened on whatever thread
	// this goroutine runs on: it must be the start namespace, which has no
	// link "a".
	own, err := NewHandle("")
	if err != nil {
		return err
	}
	defer own.Close()
	if _, err := own.LinkIndex("a"); !errors.Is(err, syscall.ENODEV) {
		return fmt.Errorf("the caller's namespace has a link a (%v): a thread moved", err)
	}
	if _, err := own.LinkByName("a"); !errors.Is(err, syscall.ENODEV) {
		return fmt.Errorf("the caller's namespace has a link a (%v): a thread moved", err)
	}
	// A veth pair across the two: the host end (unique: "w" and the
	// namespace's name) in the caller's namespace, the peer made directly in
	// the worker's; deleting the host end deletes both.
	hostEnd := "w" + name
	err = own.LinkAdd(LinkSpec{Kind: "veth", Name: hostEnd, Peer: "c0", PeerNetns: filepath.Join(dir, name), MTU: 1280, Up: true})
	if err != nil {
		return err
	}
	defer func() {
		if e := own.LinkDel(hostEnd); e != nil && err == nil {
			err = e
		}
	}()
	w, err := own.LinkByName(hostEnd)
	if err != nil {
		return err
	}
	if w.Kind != "veth" || w.MTU != 1280 || !w.Up {
		return fmt.Errorf("LinkByName(%s): %+v", hostEnd, *w)
	}
	c0, err := h.LinkByName("c0")
	if err != nil {
		return fmt.Errorf("the peer in %s: %w", name, err)
	}
	if c0.Kind != "veth" || c0.MTU != 1280 {
		return fmt.Errorf("the peer in %s: %+v", name, *c0)
	}
	if err := own.LinkAdd(LinkSpec{Kind: "veth", Name: hostEnd, Peer: "c1"}); !errors.Is(err, syscall.EEXIST) {
		return fmt.Errorf("duplicate LinkAdd(%s): %v", hostEnd, err)
	}
	ownLinks, err := own.LinkList()
	if err != nil {
		return err
	}
	if l := linkNamed(ownLinks, hostEnd); l == nil || l.Index != w.Index || linkNamed(ownLinks, "c0") != nil {
		return fmt.Errorf("the caller's namespace: %+v", ownLinks)
	}
	if _, err := own.RouteList(0, 0); err != nil {
		return err
	}
	if err := h.AddrAdd("c0", mustPrefix("10.96.0.2/24")); err != nil {
		return err
	}
	if err := h.LinkSetUp("c0"); err != nil {
		return err
	}
	r, err := h.RouteGet(netip.MustParseAddr("10.96.0.9"))
	if err != nil {
		return err
	}
	if r.LinkIndex != c0.Index {
		return fmt.Errorf("RouteGet(10.96.0.9) in %s: %+v (c0 is %d)", name, *r, c0.Index)
	}
	return nil
}
