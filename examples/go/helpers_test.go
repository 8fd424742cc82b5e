package netns

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// tempNetnsDir is a temporary netns directory (never /run/netns). Cleanup
// unmounts and removes every name left in it, then the directory's own
// mounts (the shared bind mount the library makes, as `ip netns add` does
// for /run/netns) and the directory.
func tempNetnsDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "netns-go-test.")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			for syscall.Unmount(p, syscall.MNT_DETACH) == nil {
			}
			if err := os.Remove(p); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
		for syscall.Unmount(dir, syscall.MNT_DETACH) == nil {
		}
		if err := os.Remove(dir); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return dir
}

// A thread of this process, as /proc/self/task shows it.
type task struct {
	tid   int
	netns string // the target of ns/net, e.g. "net:[4026531840]"
}

// tasks returns every thread of the process with its network namespace. A
// thread that exits while it is being read is left out.
func tasks() ([]task, error) {
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, err
	}
	var out []task
	for _, e := range entries {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			return nil, fmt.Errorf("/proc/self/task/%s: %w", e.Name(), err)
		}
		ns, err := os.Readlink(fmt.Sprintf("/proc/self/task/%d/ns/net", tid))
		if errors.Is(err, fs.ErrNotExist) {
			continue // exited meanwhile (or is exiting: its namespaces are gone)
		}
		// A thread reaped between ReadDir and Readlink gives EACCES, not
		// ENOENT (proc_ns_get_link: no task is "access denied").
		if errors.Is(err, fs.ErrPermission) {
			if _, _, ok := threadInfo(tid); !ok {
				continue
			}
		}
		if err != nil {
			return nil, err
		}
		out = append(out, task{tid: tid, netns: ns})
	}
	return out, nil
}

// The library's helper threads are named so (netns-core's on_helper_thread);
// they enter other namespaces by design and exit afterwards.
const helperThreadName = "netns-helper"

// threadInfo returns a thread's name and whether it is exiting (PF_EXITING
// in /proc/TID/stat), or ok=false if it is gone.
func threadInfo(tid int) (name string, exiting bool, ok bool) {
	comm, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/comm", tid))
	if err != nil {
		return "", false, false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stat", tid))
	if err != nil {
		return "", false, false
	}
	// "tid (comm) state ppid pgrp session tty_nr tpgid flags ..."; comm may
	// hold spaces and parentheses, so split after the last ')'.
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	const pfExiting = 0x4
	flags, err := strconv.ParseUint(fields[6], 10, 64)
	if err != nil {
		return "", false, false
	}
	return strings.TrimSpace(string(comm)), flags&pfExiting != 0, true
}

// strayThreads returns the threads not in namespace want that are not
// library helper threads. With finished set (no library call in progress), a
// helper thread elsewhere must be exiting too: a joined thread can still be
// listed, in its namespace, for a moment after pthread_join returned.
//
// Each thread's namespace is read before its name: a helper thread names
// itself before it enters a namespace, so one seen elsewhere already has its
// name.
func strayThreads(want string, finished bool) ([]string, error) {
	all, err := tasks()
	if err != nil {
		return nil, err
	}
	var stray []string
	for _, tk := range all {
		if tk.netns == want {
			continue
		}
		name, exiting, ok := threadInfo(tk.tid)
		if !ok {
			continue // gone
		}
		if name == helperThreadName && (!finished || exiting) {
			continue
		}
		stray = append(stray, fmt.Sprintf("thread %d (%s, exiting=%v) in %s", tk.tid, name, exiting, tk.netns))
	}
	return stray, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
