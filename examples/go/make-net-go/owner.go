package main

// Who owns each namespace make-net made: one record per namespace name in
// the data directory (dataDir, outside the netns directory, which holds
// nothing but namespaces), written before the namespace is made and removed
// after it is gone, all under an exclusive lock of the data directory, so
// that two attachments asking for one name never both get it. The records
// are the Rust make-net's (examples/make-net/owner.rs), field for field:
// either plugin reads the other's.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// owner is the attachment that owns a namespace, and what make-net made for
// it (so DEL and GC need nothing but the record).
type owner struct {
	ContainerID string `json:"containerID"`
	Ifname      string `json:"ifname"`
	// Netid and NsDir: the namespace's name and directory.
	Netid string `json:"netid"`
	NsDir string `json:"nsDir"`
	// IfName: the interface inside it.
	IfName string `json:"ifName"`
	// Peer (host or pod) and the other end's name.
	Peer     string `json:"peer"`
	PeerName string `json:"peerName"`
	// Netns is CNI_NETNS at ADD (the pod, for peer: pod).
	Netns string `json:"netns"`
	// Network is the config's name: GC removes only its own network's,
	// since cni.dev/valid-attachments lists one network's attachments and
	// several networks may share dataDir.
	Network string `json:"network"`
}

// is says whether this is the record of attachment (containerID, ifname).
func (o *owner) is(containerID, ifname string) bool {
	return o.ContainerID == containerID && o.Ifname == ifname
}

// records is the data directory, locked (exclusively, until unlock).
type records struct {
	dir  string
	lock *os.File
}

func ioFail(what, path string, err error) error {
	return internal("%s %s: %s", what, path, osMessage(err))
}

// lockRecords locks dir (made if missing, 0700).
func lockRecords(dir string) (*records, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, ioFail("failed to create", dir, err)
	}
	path := filepath.Join(dir, ".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, ioFail("failed to open", path, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, ioFail("failed to lock", path, err)
	}
	return &records{dir: dir, lock: f}, nil
}

// unlock releases the lock (closing the file does).
func (r *records) unlock() {
	if r.lock != nil {
		r.lock.Close()
		r.lock = nil
	}
}

func (r *records) path(netid string) string {
	return filepath.Join(r.dir, netid)
}

// get is the record of namespace netid, or nil.
func (r *records) get(netid string) (*owner, error) {
	path := r.path(netid)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, ioFail("failed to read", path, err)
	}
	o := &owner{}
	if err := json.Unmarshal(b, o); err != nil {
		return nil, internal("unreadable owner record %s: %v", path, err)
	}
	return o, nil
}

// put writes o's record (replacing one: the caller checked whose it was),
// through a temporary file and a rename.
func (r *records) put(o *owner) error {
	path := r.path(o.Netid)
	tmp := filepath.Join(r.dir, "."+o.Netid+".tmp")
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(o); err != nil {
		return internal("failed to encode the owner record: %v", err)
	}
	// As serde_json writes it: no newline.
	text := bytes.TrimSuffix(body.Bytes(), []byte("\n"))
	err := func() error {
		f, err := os.Create(tmp)
		if err != nil {
			return err
		}
		if _, err := f.Write(text); err != nil {
			f.Close()
			return err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		return os.Rename(tmp, path)
	}()
	if err != nil {
		os.Remove(tmp)
		return ioFail("failed to write", path, err)
	}
	return nil
}

// remove removes namespace netid's record (gone is fine).
func (r *records) remove(netid string) error {
	path := r.path(netid)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return ioFail("failed to remove", path, err)
	}
	return nil
}

// all is every record, by netid (unreadable ones skipped: a record is only
// ever written whole, by rename).
func (r *records) all() ([]*owner, error) {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, ioFail("failed to read", r.dir, err)
	}
	var out []*owner
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		if o, err := r.get(name); err == nil && o != nil {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Netid < out[j].Netid })
	return out, nil
}

// of is the record of attachment (containerID, ifname), or nil.
func (r *records) of(containerID, ifname string) (*owner, error) {
	all, err := r.all()
	if err != nil {
		return nil, err
	}
	for _, o := range all {
		if o.is(containerID, ifname) {
			return o, nil
		}
	}
	return nil, nil
}
