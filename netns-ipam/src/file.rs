//! [`FileStore`]: host-local's data directory, byte for byte. The only
//! module of this crate that does I/O.
//!
//! # Layout (shared with host-local)
//!
//! ```text
//! <dataDir>/<network>/          0755
//!   lock                        flock(2) exclusive while reading or changing anything
//!   last_reserved_ip.<set>      the last address reserved in range set <set>, no newline
//!   <ip>                        one per reservation, 0644, "<id>\r\n<ifname>", no newline;
//!                               IPv6 names in RFC 5952 form
//! ```
//!
//! # Differences from host-local, on purpose
//!
//! - The cursor file is written to a temporary file and renamed over
//!   `last_reserved_ip.<set>`, so a crash never leaves it truncated
//!   (host-local rewrites it in place).
//! - A process killed while it writes a temporary file leaves nothing for
//!   good: the temporary names are fixed (`.netns-ipam-cursor.tmp` and
//!   `.netns-ipam-reserve.tmp` in the network directory,
//!   `.netns-ipam-index.<network>.tmp` beside it) and
//!   written only under the network's lock, so whoever takes the lock next
//!   (the DEL that follows the killed ADD, say) removes a leftover one.
//! - A reservation file is written whole before it appears under its name
//!   (written to `.netns-ipam-reserve.tmp`, then hard-linked to the name,
//!   which fails as O_EXCL would if anything has that name): host-local
//!   creates it, then writes it, and a process killed in between leaves an
//!   empty file, an address reserved by no one that no DEL releases.
//! - If writing the cursor fails, the reservation file just created is
//!   removed and the error returned (host-local leaves the file behind: a
//!   leaked address).
//! - A release whose unlink fails (other than "already gone") is an error
//!   (host-local ignores it and reports success).
//! - Only regular entries of the directory itself whose names are canonical
//!   addresses are reservations; host-local walks subdirectories too and, on
//!   release, deletes any file whose content matches (including a cursor
//!   file whose address equals a container id).
//!
//! # Hostile entries
//!
//! The data directory is writable by whoever can write the node's
//! `/var/lib/cni` (or the configured `dataDir`): the store trusts none of its
//! entries. Every file is opened relative to the network directory's own
//! descriptor (opened once, O_NOFOLLOW, so a directory swapped for a symlink
//! later is not followed) with O_NOFOLLOW and O_NONBLOCK, checked to be a
//! regular file with fstat, and read with a bound: a symlink, FIFO or device
//! named like a reservation or a cursor is no reservation and no cursor, and
//! can neither redirect a write nor block or exhaust the plugin. A temporary
//! file is created with O_EXCL and O_NOFOLLOW (an entry planted at its
//! fixed name is removed, never followed; if it cannot be removed, a random
//! name is used instead), and `lock` must be a regular file.
//! host-local follows all of these.
//!
//! # Cost
//!
//! The store keeps an [index](crate) of the directory: by address, by owner
//! and as runs of taken addresses, so finding the next free address, the
//! duplicate check and a release are O(log n) however full the range is.
//!
//! A long-lived store builds it from the directory (one `read` per
//! reservation file, no per-candidate probing) at the first lock, builds it
//! again and puts it under an inotify watch at the second, and from then on
//! keeps it exact from the watch: at every lock the queued events name the
//! entries other processes (host-local included) created or removed, and
//! only those are read again. If inotify is unavailable, or its queue
//! overflowed, the index is rebuilt from the directory.
//!
//! # The persistent index (one-shot users)
//!
//! A one-shot user (the plugin, one process per command) would read every
//! reservation file at each command. Instead, a lock that changed the
//! reservations records them in `<dataDir>/.netns-ipam-index.<network>`
//! (under the network's lock): beside the network's directory, not in it,
//! so that directory stays exactly what host-local writes. The index
//! (its format is in the source, `diskindex.rs`) is a base (every reservation's address,
//! file inode and owner, in address order, with the owners in hash order
//! and the runs of taken addresses, each part checked) that a command
//! searches in place, followed by a log of the changes since, which a
//! command appends to in one entry; once the log holds more than 64
//! changes the next command writes a new base (temporary file + rename).
//! So a command costs O(log n) plus the log, whatever the number of
//! reservations n, and O(n) once every 64 changes. The base and every log
//! entry hold the directory's device, inode, ctime and mtime after the
//! last change they record. The first lock of the next store trusts the
//! index as follows:
//!
//! - Not decodable (truncated base, bad header), another network's, or
//!   another directory's: not used; every file is read.
//! - The directory's ctime and mtime equal the last recorded ones AND are
//!   strictly older than the index file's own mtime, and the log ends in
//!   an entry that checks: nothing was created, removed or renamed in the
//!   directory since (a later change gets a timestamp no earlier than the
//!   index's write). Searched in place; a part found not to check on the
//!   way makes the store read every file (never a wrong answer).
//! - Otherwise (changed, or racy: the recorded times are not strictly
//!   older than the index's write, so a change in the same clock tick could
//!   hide; git's "racy timestamp" rule; or a writer killed mid-append):
//!   the directory is listed and each reservation name's inode compared
//!   with the index's; only new or replaced files are read, vanished ones
//!   dropped. The listing is exact whatever the timestamps.
//!
//! The index's write is queried (fstat) before its data is written (a log
//! entry is written in two parts, queried in between), so on a filesystem
//! with multigrain timestamps (Linux 6.13+) its mtime is fine-grained,
//! strictly later than the directory's, and the racy case is rare; on a
//! coarse clock a command within the same tick as the previous one's
//! changes takes the listing. What no listing shows is a file
//! rewritten in place (same name, same inode: a hand edit): so an owner
//! taken from the index is confirmed by reading its file before it is
//! acted on (DEL, CHECK, the duplicate check), an answer of "holds nothing"
//! to DEL or CHECK is confirmed by reading every file, and GC reads every
//! file. What a hand edit in place gave to an owner is not seen by that
//! owner's ADD duplicate check, nor by its DEL if the index knows another
//! address of it (that one is released): the address stays reserved (never
//! handed out twice) until GC, which reads everything. The cursor files are always read from the directory.
//! A lock that changed nothing (a refused or read-only command) writes
//! nothing. A long-lived store (from its second lock on, under inotify)
//! does not write the persistent index; it removes it before its first
//! change in a lock, so no index ever predates changes it did not record.

use std::collections::{BTreeMap, HashSet};
use std::ffi::CString;
use std::fs::{self, DirBuilder, File};
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::diskindex::{self, Change, Damaged, DirStamp, View, INDEX_MAX, INDEX_PREFIX, LOG_MAX};
use crate::ip::{self, Family};
use crate::store::{
    owner_key, release_by_id_in, AddrMap, FastMap, Index, Reservation, Store, StoreError,
};

const CURSOR_PREFIX: &str = "last_reserved_ip.";

/// host-local's on-disk store (see the [module docs](self)).
///
/// ```
/// use netns_ipam::{FileStore, Store};
/// let dir = std::env::temp_dir().join(format!("netns-ipam-doc-{}", std::process::id()));
/// let mut s = FileStore::open(&dir, "net1")?;
/// s.lock()?;
/// let ip = "10.0.0.2".parse()?;
/// assert!(s.reserve("c1", "eth0", ip, 0)?);
/// s.unlock()?;
/// assert_eq!(std::fs::read(dir.join("net1/10.0.0.2"))?, b"c1\r\neth0");
/// assert_eq!(std::fs::read(dir.join("net1/last_reserved_ip.0"))?, b"10.0.0.2");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    /// The network directory, opened once: every entry is reached from it.
    dirfd: File,
    /// The data directory (where the persistent index lives), opened once.
    datafd: File,
    /// The persistent index's name in the data directory.
    index_name: String,
    lock: File,
    index: Index,
    built: bool,
    watch: Option<OwnedFd>,
    network: String,
    /// The inode of each reservation file in the index.
    inos: AddrMap<u64>,
    /// The owners came from the persistent index (names and inodes checked
    /// against the directory), not from reading every file.
    from_index: bool,
    /// The index's signature at lock, corrected for what was learnt from
    /// the files since: differs from the current one iff this lock changed
    /// the reservations.
    sig_at_lock: u64,
    /// This lock removed the persistent index (before its first change).
    removed_index: bool,
    /// This lock made sure no persistent index predates its changes.
    index_checked: bool,
    /// The persistent index is known to be in the directory.
    index_on_disk: bool,
    /// A one-shot store's trusted persistent index, searched in place
    /// (then `index` and `inos` are empty and unused).
    lazy: Option<Lazy>,
}

/// A trusted persistent index as a one-shot store uses it: the base
/// searched in place (see [`diskindex`]), the changes of its log and of
/// this process on top. Every answer is O(log n + changes).
#[derive(Debug)]
struct Lazy {
    view: View,
    /// The changes since the base, by address (the last one of each):
    /// reserved (file inode, owner) or released.
    over: BTreeMap<(bool, u128), Change>,
    /// This lock's changes, in order: the next log entry.
    pending: Vec<Change>,
}

impl Lazy {
    fn new(view: View) -> Lazy {
        let mut over = BTreeMap::new();
        for c in view.log() {
            over.insert(ip::order_key(&c.0), c.clone());
        }
        Lazy {
            view,
            over,
            pending: Vec::new(),
        }
    }

    fn change(&mut self, c: Change) {
        self.over.insert(ip::order_key(&c.0), c.clone());
        self.pending.push(c);
    }

    fn ips_of_owner(&self, owner: &str) -> Result<Vec<IpAddr>, Damaged> {
        let mut out: Vec<IpAddr> = self
            .view
            .ips_of_owner(owner)?
            .into_iter()
            .filter(|ip| !self.over.contains_key(&ip::order_key(ip)))
            .collect();
        out.extend(self.over.values().filter_map(|(ip, w)| match w {
            Some((_, o)) if &**o == owner => Some(*ip),
            _ => None,
        }));
        out.sort_unstable();
        Ok(out)
    }

    /// The first free address in `from..=to`: the base's next free one,
    /// unless a change took it (then on from the next), or a change
    /// released one before it.
    fn next_free(&self, from: IpAddr, to: IpAddr) -> Result<Option<IpAddr>, Damaged> {
        use std::ops::Bound::{Excluded, Included};
        let family = Family::of(&from);
        if Family::of(&to) != family {
            return Ok(None);
        }
        let v6 = family == Family::V6;
        let (mut x, last) = (ip::to_u128(from), ip::to_u128(to));
        loop {
            if x > last {
                return Ok(None);
            }
            // Every address in x..c is taken in the base.
            let c = self.view.next_free(family, x)?.filter(|&c| c <= last);
            let hi = match c {
                Some(c) => Excluded((v6, c)),
                None => Included((v6, last)),
            };
            let released = self
                .over
                .range((Included((v6, x)), hi))
                .find(|(_, (_, w))| w.is_none());
            if let Some((_, (ip, _))) = released {
                return Ok(Some(*ip));
            }
            let Some(c) = c else {
                return Ok(None);
            };
            match self.over.get(&(v6, c)) {
                Some((_, Some(_))) if c < last => x = c + 1,
                Some((_, Some(_))) => return Ok(None),
                _ => return Ok(Some(ip::from_u128(family, c))),
            }
        }
    }
}

impl FileStore {
    /// Open (creating if needed, mode 0755) `<data_dir>/<network>` and its
    /// `lock` file. `network` must name a single directory entry.
    pub fn open(data_dir: impl AsRef<Path>, network: &str) -> Result<FileStore, StoreError> {
        if network.is_empty()
            || network == "."
            || network == ".."
            || network.contains('/')
            || network.contains('\0')
        {
            return Err(StoreError::InvalidNetworkName(network.to_string()));
        }
        let dir = data_dir.as_ref().join(network);
        DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&dir)
            .map_err(|e| StoreError::io("mkdir", &dir, e))?;
        // The data directory itself is the admin's choice (it may be a
        // symlink); the network's entry in it is not followed.
        let dirfd = open_dir_nofollow(&dir)?;
        let datafd = File::open(data_dir.as_ref())
            .map_err(|e| StoreError::io("open", data_dir.as_ref(), e))?;
        // Opened for reading, as host-local opens it: flock(2) needs no
        // write access, and on a read-only data directory the commands that
        // change nothing (CHECK) still work.
        let lock = openat(
            &dirfd,
            b"lock",
            libc::O_RDONLY | libc::O_CREAT | libc::O_NOFOLLOW | libc::O_NONBLOCK,
            0o750,
        )
        .map_err(|e| not_followed(e, dir.join("lock")))?;
        require_regular(&lock, dir.join("lock"))?;
        Ok(FileStore {
            dir,
            dirfd,
            datafd,
            index_name: format!("{INDEX_PREFIX}{network}"),
            lock,
            index: Index::default(),
            built: false,
            watch: None,
            network: network.to_string(),
            inos: AddrMap::default(),
            from_index: false,
            sig_at_lock: 0,
            removed_index: false,
            index_checked: false,
            index_on_disk: true,
            lazy: None,
        })
    }

    /// The network's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn flock(&self, op: libc::c_int) -> Result<(), StoreError> {
        loop {
            // SAFETY: flock on a file descriptor we own; no memory is passed.
            let rc = unsafe { libc::flock(self.lock.as_raw_fd(), op) };
            if rc == 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(StoreError::io("flock", self.dir.join("lock"), e));
            }
        }
    }

    fn add_watch(&mut self) {
        self.watch = None;
        // SAFETY: inotify_init1 takes only flags and returns a new fd or -1.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return;
        }
        // SAFETY: fd is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let Ok(path) = CString::new(self.dir.as_os_str().as_bytes()) else {
            return;
        };
        let mask = libc::IN_CREATE
            | libc::IN_DELETE
            | libc::IN_MOVED_FROM
            | libc::IN_MOVED_TO
            | libc::IN_CLOSE_WRITE
            | libc::IN_MODIFY
            | libc::IN_DELETE_SELF
            | libc::IN_MOVE_SELF
            | libc::IN_ONLYDIR;
        // SAFETY: fd is a valid inotify descriptor and path a NUL-terminated
        // string that outlives the call.
        let wd = unsafe { libc::inotify_add_watch(fd.as_raw_fd(), path.as_ptr(), mask) };
        if wd >= 0 {
            self.watch = Some(fd);
        }
    }

    /// Read every queued event. `None` if the index can no longer be trusted
    /// (overflow, directory moved or removed, read error).
    fn drain(&self) -> Option<HashSet<Vec<u8>>> {
        let fd = self.watch.as_ref()?;
        let mut names = HashSet::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: buf is a live, writable buffer of buf.len() bytes.
            let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 {
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::WouldBlock => return Some(names),
                    io::ErrorKind::Interrupted => continue,
                    _ => return None,
                }
            }
            let n = usize::try_from(n).ok()?;
            if n == 0 {
                return Some(names);
            }
            let mut off = 0;
            // struct inotify_event { int wd; u32 mask; u32 cookie; u32 len; char name[len]; }
            while off + 16 <= n {
                let word = |at: usize| -> Option<u32> {
                    let b: [u8; 4] = buf.get(off + at..off + at + 4)?.try_into().ok()?;
                    Some(u32::from_ne_bytes(b))
                };
                let mask = word(4)?;
                let len = usize::try_from(word(12)?).ok()?;
                let name = buf.get(off + 16..off + 16 + len)?;
                if mask
                    & (libc::IN_Q_OVERFLOW
                        | libc::IN_DELETE_SELF
                        | libc::IN_MOVE_SELF
                        | libc::IN_IGNORED)
                    != 0
                {
                    return None;
                }
                let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
                if end > 0 {
                    names.insert(name[..end].to_vec());
                }
                off += 16 + len;
            }
        }
    }

    /// The address a directory entry name stands for, if it is a canonical
    /// address spelling.
    fn entry_ip(name: &[u8]) -> Option<IpAddr> {
        let s = std::str::from_utf8(name).ok()?;
        let ip = ip::parse_ip(s)?;
        (ip.to_string() == s).then_some(ip)
    }

    /// Bring the index entry of `ip` in line with the directory.
    fn refresh(&mut self, ip: IpAddr) {
        let now = read_owner_at(&self.dirfd, ip.to_string().as_bytes());
        if let Some(l) = &mut self.lazy {
            l.change((ip, now.map(|(owner, ino)| (ino, owner.into_boxed_str()))));
            return;
        }
        match now {
            Some((owner, ino)) => {
                self.index.insert(ip, owner);
                self.inos.insert(ip, ino);
            }
            None => {
                self.index.remove(&ip);
                self.inos.remove(&ip);
            }
        }
    }

    fn rebuild(&mut self, watch: bool) -> Result<(), StoreError> {
        if watch {
            self.add_watch();
        }
        self.lazy = None;
        self.index.clear();
        self.inos.clear();
        let names =
            read_dir_at(&self.dirfd).map_err(|e| StoreError::io("readdir", &self.dir, e))?;
        self.index_on_disk = true;
        for (name, _) in names {
            let Some(ip) = Self::entry_ip(&name) else {
                continue;
            };
            if let Some((owner, ino)) = read_owner_at(&self.dirfd, &name) {
                self.index.insert(ip, owner);
                self.inos.insert(ip, ino);
            }
        }
        // Whatever was queued while we read is already in the index.
        let _ = self.drain();
        self.built = true;
        self.from_index = false;
        Ok(())
    }

    /// The network directory's identity and timestamps.
    fn dir_stamp(&self) -> Result<DirStamp, StoreError> {
        let m = self
            .dirfd
            .metadata()
            .map_err(|e| StoreError::io("stat", &self.dir, e))?;
        Ok(DirStamp {
            dev: m.dev(),
            ino: m.ino(),
            ctime: (m.ctime(), u32::try_from(m.ctime_nsec()).unwrap_or(u32::MAX)),
            mtime: (m.mtime(), u32::try_from(m.mtime_nsec()).unwrap_or(u32::MAX)),
        })
    }

    /// The first lock of a one-shot user: the index from the persistent
    /// index file. Trusted as it is if the directory's timestamps prove
    /// nothing changed since it was written (see the racy rule below);
    /// otherwise checked against the directory's listing (names and inodes,
    /// exact whatever the timestamps say), and only the reservation files
    /// the index does not know as they are now are read. Without a usable
    /// index file, every file is read.
    fn load(&mut self) -> Result<(), StoreError> {
        let now = self.dir_stamp()?;
        let file = read_regular_meta_at(&self.datafd, self.index_name.as_bytes(), INDEX_MAX);
        self.index_on_disk = file.is_some();
        let view = file.and_then(|(b, m)| {
            let written = (m.mtime(), u32::try_from(m.mtime_nsec()).unwrap_or(u32::MAX));
            let v = View::parse(b)?;
            let stamp = v.stamp();
            (v.network() == self.network && stamp.dev == now.dev && stamp.ino == now.ino)
                .then_some((v, written))
        });
        let Some((view, written)) = view else {
            return self.rebuild(false);
        };
        // The racy-timestamp rule: the directory is as the index saw it
        // only if its timestamps are unchanged AND they are strictly older
        // than the index's own write time. A change made after the index
        // was written gets a timestamp no earlier than that write time, so
        // it cannot leave them unchanged; one made in the same clock tick as
        // the directory's last recorded change could, so an index whose
        // recorded times are not strictly older than its own is checked
        // against the listing instead. A log ending in an entry that does
        // not check (its writer was killed) is never the current state.
        let stamp = view.stamp();
        let unchanged =
            !view.torn() && stamp == now && stamp.ctime < written && stamp.mtime < written;
        if unchanged {
            self.lazy = Some(Lazy::new(view));
            self.built = true;
            self.from_index = true;
            return Ok(());
        }
        let Some(disk) = view.into_disk_index() else {
            return self.rebuild(false);
        };
        let names =
            read_dir_at(&self.dirfd).map_err(|e| StoreError::io("readdir", &self.dir, e))?;
        let mut known: FastMap<IpAddr, (u64, u32, u32)> = disk
            .entries
            .iter()
            .map(|&(ip, ino, off, len)| (ip, (ino, off, len)))
            .collect();
        self.index = Index::with_blob(disk.blob);
        self.inos.clear();
        for (name, ino) in names {
            let Some(ip) = Self::entry_ip(&name) else {
                continue;
            };
            match known.remove(&ip) {
                Some((i, off, len)) if i == ino && ino != 0 => {
                    self.index.insert_from_blob(ip, off, len);
                    self.inos.insert(ip, ino);
                }
                _ => self.refresh(ip),
            }
        }
        self.built = true;
        self.from_index = true;
        Ok(())
    }

    /// Read every file again (the owners from the index are in doubt),
    /// keeping track of what this lock itself changed.
    fn reread(&mut self) -> Result<(), StoreError> {
        // Changes made through the persistent index are in the files; the
        // index file does not have them yet: write it at unlock.
        if self.lazy.take().is_some_and(|l| !l.pending.is_empty()) {
            self.removed_index = true;
        }
        let before = self.index.sig();
        self.rebuild(false)?;
        self.sig_at_lock ^= before ^ self.index.sig();
        Ok(())
    }

    /// Before the first change of a lock: remove the persistent index, so
    /// that if this process dies or cannot write the new one, no stale
    /// index survives its changes.
    fn before_change(&mut self) -> Result<(), StoreError> {
        // Through a trusted index the changes go to its log at unlock; a
        // process killed before that leaves a directory whose timestamps
        // no longer match the index's (the racy rule), so it is not
        // trusted.
        if self.lazy.is_some() {
            return Ok(());
        }
        // A long-lived (watching) store does not track what one-shot
        // stores write meanwhile: it always looks.
        if (self.index_on_disk || self.watch.is_some()) && !self.index_checked {
            self.index_checked = true;
            match unlinkat(&self.datafd, self.index_name.as_bytes()) {
                Ok(()) => self.removed_index = true,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    let path = self.dir.with_file_name(&self.index_name);
                    return Err(StoreError::io("unlink", path, e));
                }
            }
            self.index_on_disk = false;
        }
        Ok(())
    }

    /// Write the persistent index (temporary file + rename). Best effort:
    /// the index is a cache, and a missing one only costs a full read.
    fn write_index(&mut self) -> Result<(), StoreError> {
        // After the last change this lock made to the network directory.
        let stamp = self.dir_stamp()?;
        let (blob, res) = self.index.disk_entries();
        // Sorted inodes (a one-shot store's) hold the same addresses in the
        // same order: read them alongside rather than looked up one by one.
        let inos = &self.inos;
        let aligned = match inos {
            AddrMap::Sorted(v, _) if v.len() == res.len() => Some(v.as_slice()),
            _ => None,
        };
        let ino_of = |i: usize, ip: IpAddr| -> u64 {
            match aligned.and_then(|v| v.get(i)) {
                Some((k, ino)) if *k == ip => *ino,
                _ => inos.get(&ip).copied().unwrap_or(0),
            }
        };
        let bytes = diskindex::encode(
            random_u64(),
            &self.network,
            stamp,
            blob,
            res.into_iter()
                .enumerate()
                .map(|(i, (ip, owner))| (ip, ino_of(i, ip), owner)),
        );
        let data_dir = self.dir.parent().unwrap_or(&self.dir);
        let tmp = self.index_tmp();
        write_atomic(&self.datafd, data_dir, &self.index_name, &tmp, &bytes, true)?;
        self.index_on_disk = true;
        Ok(())
    }

    /// Record this lock's changes made through a trusted index: appended
    /// to its log in one write, or, once the log would hold more than
    /// [`LOG_MAX`] changes, as a new base. Best effort, as
    /// [`FileStore::write_index`]: an index left behind by a failed append
    /// no longer matches the directory's timestamps (or ends in an entry
    /// that does not check), so the next store checks it against the
    /// listing.
    fn write_lazy(&mut self, mut l: Lazy) -> Result<(), StoreError> {
        if l.view.log().len() + l.pending.len() > LOG_MAX {
            let pending = std::mem::take(&mut l.pending);
            let Some(disk) = l.view.into_disk_index() else {
                // Damaged since it was checked: the files are the truth.
                self.rebuild(false)?;
                return self.write_index();
            };
            self.inos = AddrMap::from_sorted(
                disk.entries
                    .iter()
                    .map(|&(ip, ino, _, _)| (ip, ino))
                    .collect(),
            );
            let entries = disk.entries.iter().map(|&(ip, _, off, len)| (ip, off, len));
            self.index = Index::from_disk(disk.blob, entries);
            for (ip, what) in pending {
                match what {
                    Some((ino, owner)) => {
                        self.index.insert(ip, owner.into_string());
                        self.inos.insert(ip, ino);
                    }
                    None => {
                        self.index.remove(&ip);
                        self.inos.remove(&ip);
                    }
                }
            }
            return self.write_index();
        }
        // After the last change this lock made to the network directory.
        let stamp = self.dir_stamp()?;
        let path = || self.dir.with_file_name(&self.index_name);
        let mut f = openat(
            &self.datafd,
            self.index_name.as_bytes(),
            libc::O_WRONLY | libc::O_APPEND | libc::O_NOFOLLOW | libc::O_NONBLOCK,
            0,
        )
        .map_err(|e| StoreError::io("open", path(), e))?;
        // The file read at lock, as it was (only writers holding the lock
        // append or replace it); its timestamps queried, so that on a
        // filesystem with multigrain timestamps this write's mtime is
        // fine-grained, later than the stamp.
        let m = f
            .metadata()
            .map_err(|e| StoreError::io("stat", path(), e))?;
        if !m.file_type().is_file() || m.len() != l.view.len() as u64 {
            return Ok(());
        }
        let entry = diskindex::encode_log(l.view.key(), l.view.len(), &stamp, &l.pending);
        // In two writes, its timestamps queried in between: with multigrain
        // timestamps a write whose coarse time is no later than the file's
        // own ctime gets a fine-grained one, so the second write's mtime is
        // strictly later than the stamp (the first gets the coarse time,
        // which may equal the directory's: racy). A process killed between
        // the two leaves an entry that does not check.
        let (head, tail) = entry.split_at(4.min(entry.len()));
        f.write_all(head)
            .map_err(|e| StoreError::io("write", path(), e))?;
        let _ = f.metadata();
        f.write_all(tail)
            .map_err(|e| StoreError::io("write", path(), e))
    }

    /// The addresses of `owner` as the index has them.
    fn indexed_ips_of_owner(&mut self, owner: &str) -> Result<Vec<IpAddr>, StoreError> {
        if let Some(l) = &self.lazy {
            match l.ips_of_owner(owner) {
                Ok(ips) => return Ok(ips),
                Err(Damaged) => self.reread()?,
            }
        }
        Ok(self.index.ips_of_owner(owner))
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        // The first lock of a store's life reads the directory without
        // setting up inotify: a one-shot user (a CNI plugin process) would
        // pay for it on close (closing an inotify descriptor waits for an
        // RCU grace period, ~20 ms). The second lock reads it again and
        // starts watching; from then on only the changes are read.
        if !self.built {
            return self.load();
        }
        if self.watch.is_none() {
            return self.rebuild(true);
        }
        match self.drain() {
            Some(names) => {
                for name in names {
                    if let Some(ip) = Self::entry_ip(&name) {
                        self.refresh(ip);
                    }
                }
                Ok(())
            }
            None => self.rebuild(true),
        }
    }

    fn write_cursor(&self, range_id: usize, ip: IpAddr) -> Result<(), StoreError> {
        let name = format!("{CURSOR_PREFIX}{range_id}");
        write_atomic(
            &self.dirfd,
            &self.dir,
            &name,
            CURSOR_TMP,
            ip.to_string().as_bytes(),
            false,
        )
    }

    /// The reservation file `name` holding `owner`, made whole: written to
    /// [`RESERVE_TMP`], then hard-linked to `name` (which, like O_EXCL,
    /// fails if any entry has that name: a reservation, a planted symlink
    /// or FIFO), then the temporary name removed. host-local creates the
    /// file, then writes it: a process killed in between leaves an empty
    /// file, an address reserved by no one, which no DEL releases. Where
    /// the file system has no hard links, host-local's way. Its inode, or
    /// `None` if the address is not free.
    fn create_reservation(
        &self,
        name: &str,
        owner: &[u8],
    ) -> Result<Option<u64>, (&'static str, io::Error)> {
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW;
        let write = |f: &mut File| -> Result<u64, (&'static str, io::Error)> {
            f.write_all(owner).map_err(|e| ("write", e))?;
            Ok(f.metadata().map(|m| m.ino()).unwrap_or(0))
        };
        let mut tmp = None;
        for i in 0..2 {
            if i == 1 {
                // A leftover the sweep could not see (a planted one).
                let _ = unlinkat(&self.dirfd, RESERVE_TMP.as_bytes());
            }
            match openat(&self.dirfd, RESERVE_TMP.as_bytes(), flags, 0o644) {
                Ok(f) => {
                    tmp = Some(f);
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(_) => break,
            }
        }
        if let Some(mut f) = tmp {
            let done = write(&mut f);
            drop(f);
            let ino = match done {
                Ok(ino) => ino,
                Err(e) => {
                    let _ = unlinkat(&self.dirfd, RESERVE_TMP.as_bytes());
                    return Err(e);
                }
            };
            let linked = linkat(&self.dirfd, RESERVE_TMP.as_bytes(), name.as_bytes());
            let _ = unlinkat(&self.dirfd, RESERVE_TMP.as_bytes());
            match linked {
                Ok(()) => return Ok(Some(ino)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(None),
                Err(e)
                    if !matches!(
                        e.raw_os_error(),
                        Some(libc::EPERM | libc::EOPNOTSUPP | libc::EMLINK)
                    ) =>
                {
                    return Err(("create", e))
                }
                // No hard links here: host-local's way.
                Err(_) => {}
            }
        }
        let mut f = match openat(&self.dirfd, name.as_bytes(), flags, 0o644) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(None),
            Err(e) => return Err(("create", e)),
        };
        match write(&mut f) {
            Ok(ino) => Ok(Some(ino)),
            Err(e) => {
                drop(f);
                let _ = unlinkat(&self.dirfd, name.as_bytes());
                Err(e)
            }
        }
    }

    /// The persistent index's temporary name (beside the network's
    /// directory, in the data directory).
    fn index_tmp(&self) -> String {
        format!("{}.tmp", self.index_name)
    }
}

/// The cursor files' temporary name in the network directory (one for
/// every range set: written one at a time, under the lock).
const CURSOR_TMP: &str = ".netns-ipam-cursor.tmp";

/// A reservation file's temporary name in the network directory (see
/// `FileStore::create_reservation`).
const RESERVE_TMP: &str = ".netns-ipam-reserve.tmp";

/// Write `data` to the temporary file `tmp` of `dirfd` (the directory
/// `dir` names, or, for the index, whose parent holds it) and rename it
/// over `name`. `tmp` is created with O_EXCL: an entry there (a killed
/// writer's, or planted) is removed first, never followed; if it cannot
/// be removed, a random name is used.
///
/// `stamp_fine`: query the new file's timestamps before writing it, so that
/// on a filesystem with multigrain timestamps (Linux 6.13+: ext4, xfs,
/// btrfs, tmpfs) its mtime is fine-grained, later than anything before it.
fn write_atomic(
    dirfd: &File,
    dir: &Path,
    name: &str,
    tmp: &str,
    data: &[u8],
    stamp_fine: bool,
) -> Result<(), StoreError> {
    // Created with O_EXCL: never an existing file, never a symlink. The
    // fixed name (twice: what is there removed in between), then names no
    // one can plant in advance.
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW;
    let (tmp, f) = (0..10)
        .find_map(|i| {
            let tmp = if i < 2 {
                tmp.to_owned()
            } else {
                format!(".{name}.{:016x}.tmp", random_u64())
            };
            if i == 1 {
                let _ = unlinkat(dirfd, tmp.as_bytes());
            }
            match openat(dirfd, tmp.as_bytes(), flags, 0o644) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => None,
                other => Some(other.map(|f| (tmp, f))),
            }
        })
        .unwrap_or_else(|| Err(io::Error::from_raw_os_error(libc::EEXIST)))
        .map_err(|e| StoreError::io("create", dir.join(format!(".{name}.tmp")), e))?;
    let mut f = f;
    if stamp_fine {
        let _ = f.metadata();
    }
    if let Err(e) = f.write_all(data) {
        let _ = unlinkat(dirfd, tmp.as_bytes());
        return Err(StoreError::io("write", dir.join(&tmp), e));
    }
    drop(f);
    // rename(2) replaces whatever entry is at the name, a planted symlink
    // included, without following it.
    if let Err(e) = renameat(dirfd, tmp.as_bytes(), name.as_bytes()) {
        let _ = unlinkat(dirfd, tmp.as_bytes());
        return Err(StoreError::io("rename", dir.join(name), e));
    }
    Ok(())
}

impl Store for FileStore {
    fn lock(&mut self) -> Result<(), StoreError> {
        self.flock(libc::LOCK_EX)?;
        // The temporary files are only ever written under this lock: one
        // there now is a killed writer's (the DEL after a killed ADD may
        // change nothing else). Best effort: a planted directory stays,
        // and writes then use a random name. Three unlinkat, usually
        // ENOENT.
        let _ = unlinkat(&self.dirfd, CURSOR_TMP.as_bytes());
        let _ = unlinkat(&self.dirfd, RESERVE_TMP.as_bytes());
        let _ = unlinkat(&self.datafd, self.index_tmp().as_bytes());
        if let Err(e) = self.sync() {
            let _ = self.flock(libc::LOCK_UN);
            return Err(e);
        }
        self.sig_at_lock = self.index.sig();
        self.removed_index = false;
        self.index_checked = false;
        Ok(())
    }

    fn unlock(&mut self) -> Result<(), StoreError> {
        // Only a lock that changed the reservations writes the index (or
        // one that removed it): a refused or read-only command leaves the
        // directory as it found it.
        //
        // A long-lived (watching) store keeps its own index exact and does
        // not write the persistent one (at every change it would rewrite a
        // file the size of the directory's content); it only removes it
        // before its first change, and the next one-shot store reads the
        // directory once and writes it again.
        if let Some(l) = self.lazy.take() {
            if !l.pending.is_empty() {
                let _ = self.write_lazy(l);
            }
        } else {
            let changed = self.index.sig() != self.sig_at_lock || self.removed_index;
            if changed && self.watch.is_none() {
                let _ = self.write_index();
            }
        }
        self.removed_index = false;
        self.index_checked = false;
        self.flock(libc::LOCK_UN)
    }

    fn reserve(
        &mut self,
        id: &str,
        ifname: &str,
        ip: IpAddr,
        range_id: usize,
    ) -> Result<bool, StoreError> {
        let ip = ip::canonical(ip);
        let name = ip.to_string();
        self.before_change()?;
        let path = || self.dir.join(&name);
        let owner = owner_key(id, ifname);
        let file_ino = match self.create_reservation(&name, owner.as_bytes()) {
            Ok(Some(ino)) => ino,
            Ok(None) => {
                self.refresh(ip);
                return Ok(false);
            }
            Err((what, e)) => return Err(StoreError::io(what, path(), e)),
        };
        if let Err(e) = self.write_cursor(range_id, ip) {
            // host-local leaks the reservation here; we do not.
            let _ = unlinkat(&self.dirfd, name.as_bytes());
            return Err(e);
        }
        let owner = owner.trim();
        if let Some(l) = &mut self.lazy {
            l.change((ip, Some((file_ino, Box::from(owner)))));
        } else {
            self.index.insert(ip, owner.to_string());
            self.inos.insert(ip, file_ino);
        }
        Ok(true)
    }

    fn last_reserved_ip(&mut self, range_id: usize) -> Result<Option<IpAddr>, StoreError> {
        let name = format!("{CURSOR_PREFIX}{range_id}");
        // As host-local: an unreadable or unparsable cursor means "none";
        // so does one that is not a regular file (never followed or read
        // without a bound).
        Ok(read_regular_at(&self.dirfd, name.as_bytes(), CURSOR_MAX)
            .and_then(|(b, _)| String::from_utf8(b).ok())
            .and_then(|s| ip::parse_ip(&s)))
    }

    fn release_ip(&mut self, ip: IpAddr) -> Result<bool, StoreError> {
        let ip = ip::canonical(ip);
        let name = ip.to_string();
        self.before_change()?;
        // unlink(2) removes the entry itself, a symlink included.
        let gone = match unlinkat(&self.dirfd, name.as_bytes()) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(StoreError::io("unlink", self.dir.join(name), e)),
        };
        match &mut self.lazy {
            Some(l) => l.change((ip, None)),
            None => {
                self.index.remove(&ip);
                self.inos.remove(&ip);
            }
        }
        Ok(gone)
    }

    fn ips_of_owner(&mut self, owner: &str) -> Result<Vec<IpAddr>, StoreError> {
        let ips = self.indexed_ips_of_owner(owner)?;
        if self.from_index {
            // An owner from the index is confirmed by the file itself
            // before anything is done with it (a file rewritten in place
            // keeps its name and inode).
            for ip in &ips {
                let now = read_owner_at(&self.dirfd, ip.to_string().as_bytes());
                if now.as_ref().map(|(o, _)| o.as_str()) != Some(owner) {
                    self.reread()?;
                    return Ok(self.index.ips_of_owner(owner));
                }
            }
        }
        Ok(ips)
    }

    fn next_free(&mut self, from: IpAddr, to: IpAddr) -> Result<Option<IpAddr>, StoreError> {
        if let Some(l) = &self.lazy {
            match l.next_free(from, to) {
                Ok(ip) => return Ok(ip),
                Err(Damaged) => self.reread()?,
            }
        }
        Ok(self.index.next_free(from, to))
    }

    fn reservations(&mut self) -> Result<Vec<Reservation>, StoreError> {
        // Every owner matters here (GC): read them from the files.
        if self.from_index {
            self.reread()?;
        }
        Ok(self.index.reservations())
    }

    fn find_by_id(&mut self, id: &str, ifname: &str) -> Result<bool, StoreError> {
        let found = |s: &mut Self| -> Result<bool, StoreError> {
            Ok(!s.ips_of_owner(&owner_key(id, ifname))?.is_empty()
                || !s.ips_of_owner(id.trim())?.is_empty())
        };
        if found(self)? {
            return Ok(true);
        }
        // "Nothing" from the index is confirmed from the files.
        if self.from_index {
            self.reread()?;
            return found(self);
        }
        Ok(false)
    }

    fn release_by_id(&mut self, id: &str, ifname: &str) -> Result<Vec<IpAddr>, StoreError> {
        let released = release_by_id_in(self, id, ifname)?;
        if released.is_empty() && self.from_index {
            // "Nothing" from the index is confirmed from the files.
            self.reread()?;
            return release_by_id_in(self, id, ifname);
        }
        Ok(released)
    }
}

/// The longest owner read from a reservation file (host-local's are a
/// container id, `\r\n` and an interface name).
const OWNER_MAX: usize = 4096;
/// The longest cursor read (an IPv6 address is at most 45 bytes).
const CURSOR_MAX: usize = 64;

/// Read a reservation file relative to the network directory: `None` if it
/// is not a regular file that can be read (see the module docs). One
/// `openat`, one `fstat`, usually one `read`, one `close`.
fn read_owner_at(dir: &File, name: &[u8]) -> Option<(String, u64)> {
    let (data, ino) = read_regular_at(dir, name, OWNER_MAX)?;
    Some((String::from_utf8_lossy(&data).trim().to_string(), ino))
}

/// Up to `max` bytes of the regular file `name` of `dir`: opened without
/// following a symlink and without blocking on a FIFO, checked to be a
/// regular file, with its inode. `None` otherwise.
fn read_regular_at(dir: &File, name: &[u8], max: usize) -> Option<(Vec<u8>, u64)> {
    read_regular_meta_at(dir, name, max).map(|(d, m)| (d, m.ino()))
}

/// [`read_regular_at`] with the file's metadata.
fn read_regular_meta_at(dir: &File, name: &[u8], max: usize) -> Option<(Vec<u8>, fs::Metadata)> {
    let f = openat(
        dir,
        name,
        libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY,
        0,
    )
    .ok()?;
    let meta = f.metadata().ok()?;
    if !meta.file_type().is_file() {
        return None;
    }
    let mut data = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0).min(max) + 1);
    f.take(max as u64).read_to_end(&mut data).ok()?;
    Some((data, meta))
}

/// `openat(dir, name, flags | O_CLOEXEC, mode)`.
fn openat(dir: &File, name: &[u8], flags: libc::c_int, mode: libc::mode_t) -> io::Result<File> {
    let cname = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    loop {
        // SAFETY: `dir` is an open directory descriptor and `cname` a
        // NUL-terminated string, both alive for the call; `mode` is passed
        // as the variadic argument openat expects with O_CREAT.
        let fd = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                cname.as_ptr(),
                flags | libc::O_CLOEXEC,
                libc::c_uint::from(mode),
            )
        };
        if fd >= 0 {
            // SAFETY: `fd` is a fresh descriptor that nothing else owns.
            return Ok(unsafe { File::from_raw_fd(fd) });
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

fn renameat(dir: &File, from: &[u8], to: &[u8]) -> io::Result<()> {
    let bad = |_| io::Error::from_raw_os_error(libc::EINVAL);
    let (from, to) = (
        CString::new(from).map_err(bad)?,
        CString::new(to).map_err(bad)?,
    );
    // SAFETY: `dir` is an open directory descriptor and both names are
    // NUL-terminated strings alive for the call.
    let rc =
        unsafe { libc::renameat(dir.as_raw_fd(), from.as_ptr(), dir.as_raw_fd(), to.as_ptr()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `linkat(dir, from, dir, to, 0)`: a new name for a file (never
/// following a symlink at `from`; failing if `to` exists, whatever it is).
fn linkat(dir: &File, from: &[u8], to: &[u8]) -> io::Result<()> {
    let bad = |_| io::Error::from_raw_os_error(libc::EINVAL);
    let (from, to) = (
        CString::new(from).map_err(bad)?,
        CString::new(to).map_err(bad)?,
    );
    // SAFETY: `dir` is an open directory descriptor and both names are
    // NUL-terminated strings alive for the call.
    let rc = unsafe {
        libc::linkat(
            dir.as_raw_fd(),
            from.as_ptr(),
            dir.as_raw_fd(),
            to.as_ptr(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn unlinkat(dir: &File, name: &[u8]) -> io::Result<()> {
    let name = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `dir` is an open directory descriptor and `name` a
    // NUL-terminated string alive for the call.
    let rc = unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The names of the entries of `dir` (without `.` and `..`), read through
/// the descriptor, not the path.
fn read_dir_at(dir: &File) -> io::Result<Vec<(Vec<u8>, u64)>> {
    // fdopendir takes the descriptor over: give it a duplicate.
    let dup = dir.try_clone()?;
    let fd = std::os::fd::IntoRawFd::into_raw_fd(dup);
    // SAFETY: `fd` is a directory descriptor we own; on success the DIR
    // stream owns it and closedir closes it.
    let d = unsafe { libc::fdopendir(fd) };
    if d.is_null() {
        let e = io::Error::last_os_error();
        // SAFETY: fdopendir failed, so `fd` is still ours to close.
        unsafe { libc::close(fd) };
        return Err(e);
    }
    // SAFETY: `d` is a valid DIR stream; the dup shares the offset with the
    // store's descriptor, so start from the beginning.
    unsafe { libc::rewinddir(d) };
    let mut names = Vec::new();
    loop {
        // SAFETY: `d` is a valid DIR stream. errno is cleared to tell the
        // end from an error, as readdir(3) says.
        let ent = unsafe {
            *libc::__errno_location() = 0;
            libc::readdir64(d)
        };
        if ent.is_null() {
            // SAFETY: reading errno right after readdir.
            let errno = unsafe { *libc::__errno_location() };
            // SAFETY: `d` is valid and closed exactly once.
            unsafe { libc::closedir(d) };
            if errno != 0 {
                return Err(io::Error::from_raw_os_error(errno));
            }
            return Ok(names);
        }
        // SAFETY: readdir returned a valid entry whose d_name is a
        // NUL-terminated string, valid until the next readdir call.
        let name = unsafe { std::ffi::CStr::from_ptr((*ent).d_name.as_ptr()) }.to_bytes();
        if name != b"." && name != b".." {
            // SAFETY: as above, `ent` is valid until the next readdir.
            let ino = unsafe { (*ent).d_ino };
            names.push((name.to_vec(), ino));
        }
    }
}

/// What a non-regular entry is, for messages.
fn kind_of(t: fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_symlink() {
        "symbolic link"
    } else if t.is_dir() {
        "directory"
    } else if t.is_fifo() {
        "fifo"
    } else if t.is_socket() {
        "socket"
    } else if t.is_char_device() || t.is_block_device() {
        "device"
    } else {
        "special file"
    }
}

fn require_regular(f: &File, path: PathBuf) -> Result<(), StoreError> {
    let t = f
        .metadata()
        .map_err(|e| StoreError::io("stat", &path, e))?
        .file_type();
    if t.is_file() {
        Ok(())
    } else {
        Err(StoreError::NotRegular {
            path,
            found: kind_of(t),
        })
    }
}

/// An O_NOFOLLOW open that met a symlink (ELOOP) as a clear refusal.
fn not_followed(e: io::Error, path: PathBuf) -> StoreError {
    if e.raw_os_error() == Some(libc::ELOOP) {
        StoreError::NotRegular {
            path,
            found: "symbolic link",
        }
    } else {
        StoreError::io("open", path, e)
    }
}

/// Open the network directory without following a symlink in its place.
fn open_dir_nofollow(dir: &Path) -> Result<File, StoreError> {
    let c = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| StoreError::io("open", dir, io::Error::from_raw_os_error(libc::EINVAL)))?;
    // SAFETY: `c` is a NUL-terminated path alive for the call.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::ELOOP) => StoreError::NotRegular {
                path: dir.to_path_buf(),
                found: "symbolic link",
            },
            Some(libc::ENOTDIR) => StoreError::NotRegular {
                path: dir.to_path_buf(),
                found: "file that is not a directory",
            },
            _ => StoreError::io("open", dir, e),
        });
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// A random 64-bit number (for temporary names), without a dependency.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn tmp(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!(
            "netns-ipam-racy-{tag}-{}-{}",
            std::process::id(),
            random_u64()
        ));
        fs::create_dir_all(&p).unwrap();
        p
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Set a file's mtime (and atime) to `t`.
    fn set_mtime(path: &Path, t: (i64, u32)) {
        let ts = libc::timespec {
            tv_sec: t.0,
            tv_nsec: i64::from(t.1),
        };
        let c = CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: a NUL-terminated path and two timespecs alive for the call.
        let rc = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), [ts, ts].as_ptr(), 0) };
        assert_eq!(rc, 0, "{}", io::Error::last_os_error());
    }

    /// A reservation created the way host-local creates one (O_EXCL),
    /// after the index was written, and an index whose recorded directory
    /// stamp is then made to match the directory (modelling a change in
    /// the same clock tick as the stamp, which the timestamps cannot show).
    /// `index_mtime_after`: the index's own mtime is later than the stamp
    /// (not racy) or equal to it (racy).
    fn forged(tag: &str, index_mtime_after: bool) -> FileStore {
        let data = tmp(tag);
        let mut s = FileStore::open(&data, "net").unwrap();
        s.lock().unwrap();
        assert!(s.reserve("c1", "eth0", ip("10.0.0.2"), 0).unwrap());
        s.unlock().unwrap();
        let idx = data.join(".netns-ipam-index.net");
        assert!(idx.is_file());

        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(data.join("net/10.0.0.3"))
            .unwrap();
        f.write_all(b"hl\r\neth0").unwrap();
        drop(f);

        let mut d = diskindex::decode(&fs::read(&idx).unwrap()).unwrap();
        let entries: Vec<(IpAddr, u64, String)> = d
            .entries
            .iter()
            .map(|&(i, n, off, len)| (i, n, d.owner(off, len).to_string()))
            .collect();
        let m = fs::metadata(data.join("net")).unwrap();
        d.stamp.ctime = (m.ctime(), u32::try_from(m.ctime_nsec()).unwrap());
        d.stamp.mtime = (m.mtime(), u32::try_from(m.mtime_nsec()).unwrap());
        let bytes = diskindex::encode(
            1,
            "net",
            d.stamp,
            "",
            entries
                .iter()
                .map(|(i, n, o)| (*i, *n, diskindex::OwnerSrc::Str(o))),
        );
        fs::write(&idx, bytes).unwrap();
        let newest = d.stamp.ctime.max(d.stamp.mtime);
        let w = if index_mtime_after {
            (newest.0 + 1, newest.1)
        } else {
            newest
        };
        set_mtime(&idx, w);
        let mut s = FileStore::open(&data, "net").unwrap();
        s.lock().unwrap();
        s
    }

    #[test]
    fn an_index_not_strictly_older_than_its_stamp_is_checked_against_the_listing() {
        let mut s = forged("racy", false);
        assert!(s.from_index);
        assert_eq!(
            s.next_free(ip("10.0.0.2"), ip("10.0.0.3")).unwrap(),
            None,
            "the O_EXCL create the timestamps cannot show is seen"
        );
        assert_eq!(s.ips_of_owner("hl\r\neth0").unwrap(), vec![ip("10.0.0.3")]);
        s.unlock().unwrap();
        let _ = fs::remove_dir_all(s.dir().parent().unwrap());
    }

    /// The control: the same forged index with its own mtime later than
    /// the stamp is trusted without a listing, so it is the racy rule that
    /// catches the change above. (A real change after the index write
    /// moves the directory's ctime; the forgery is what no real sequence
    /// of events produces.)
    #[test]
    fn an_index_strictly_newer_than_its_stamp_is_trusted_without_a_listing() {
        let mut s = forged("trusted", true);
        assert!(s.from_index);
        assert_eq!(
            s.next_free(ip("10.0.0.2"), ip("10.0.0.3")).unwrap(),
            Some(ip("10.0.0.3"))
        );
        s.unlock().unwrap();
        let _ = fs::remove_dir_all(s.dir().parent().unwrap());
    }

    /// Nothing changed in the directory: the next one-shot store is built
    /// from the index alone (no reservation file is read).
    #[test]
    fn an_unchanged_directory_is_not_read_again() {
        let data = tmp("unchanged");
        let mut s = FileStore::open(&data, "net").unwrap();
        s.lock().unwrap();
        for (i, a) in ["10.0.0.2", "10.0.0.3", "10.0.0.4"].iter().enumerate() {
            assert!(s.reserve(&format!("c{i}"), "eth0", ip(a), 0).unwrap());
        }
        s.unlock().unwrap();
        // Rewritten in place (the directory does not change): a full read
        // would see the new owner, the index still has the old one.
        fs::write(data.join("net/10.0.0.3"), "zz\r\neth0").unwrap();
        let mut s = FileStore::open(&data, "net").unwrap();
        s.lock().unwrap();
        assert!(s.from_index);
        let l = s.lazy.as_ref().expect("searched in place");
        assert_eq!(l.ips_of_owner("c1\r\neth0"), Ok(vec![ip("10.0.0.3")]));
        assert_eq!(
            s.next_free(ip("10.0.0.2"), ip("10.0.0.9")).unwrap(),
            Some(ip("10.0.0.5"))
        );
        // An owner from the index is confirmed by its file before use.
        assert!(s.ips_of_owner("c1\r\neth0").unwrap().is_empty());
        assert_eq!(s.ips_of_owner("zz\r\neth0").unwrap(), vec![ip("10.0.0.3")]);
        s.unlock().unwrap();
        let _ = fs::remove_dir_all(&data);
    }

    /// One-shot stores in turn: each searches the index in place and
    /// appends its change to the log; past the log's bound one writes a
    /// new base. (The index's mtime is moved past the stamp each time, as
    /// a multigrain filesystem makes it: on a coarse clock a command in
    /// the same tick takes the listing instead, which the tests of the
    /// racy rule cover.)
    #[test]
    fn one_shot_stores_append_to_the_log_then_write_a_new_base() {
        let data = tmp("log");
        let idx = data.join(".netns-ipam-index.net");
        let mut s = FileStore::open(&data, "net").unwrap();
        s.lock().unwrap();
        assert!(s.reserve("c0", "eth0", ip("10.0.0.2"), 0).unwrap());
        s.unlock().unwrap();
        let base_len = fs::metadata(&idx).unwrap().len();
        let mut prev_len = base_len;
        let mut rebased = false;
        for i in 1..=(LOG_MAX as u32 + 2) {
            let m = fs::metadata(data.join("net")).unwrap();
            set_mtime(&idx, (m.mtime().max(m.ctime()) + 1, 0));
            let mut s = FileStore::open(&data, "net").unwrap();
            s.lock().unwrap();
            assert!(s.lazy.is_some(), "step {i}: searched in place");
            let prev = format!("c{}\r\neth0", i - 1);
            assert_eq!(s.ips_of_owner(&prev).unwrap().len(), 1, "step {i}");
            let next = s
                .next_free(ip("10.0.0.2"), ip("10.0.255.254"))
                .unwrap()
                .unwrap();
            assert_eq!(next, ip::from_u128(Family::V4, 0x0a00_0002 + u128::from(i)));
            assert!(s.reserve(&format!("c{i}"), "eth0", next, 0).unwrap());
            s.unlock().unwrap();
            let len = fs::metadata(&idx).unwrap().len();
            if len < prev_len {
                rebased = true;
            }
            prev_len = len;
        }
        assert!(rebased, "a new base once the log was full");
        let d = diskindex::decode(&fs::read(&idx).unwrap()).unwrap();
        assert_eq!(d.entries.len(), LOG_MAX + 3);
        let _ = fs::remove_dir_all(&data);
    }
}
