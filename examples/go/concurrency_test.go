package netns

import (
	"errors"
	"fmt"
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
// and through a handle on the caller's namespace, and deletes it.
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
	return nil
}
