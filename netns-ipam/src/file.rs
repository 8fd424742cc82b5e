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
//! - The cursor file is written to `.last_reserved_ip.<set>.tmp` and renamed
//!   over `last_reserved_ip.<set>`, so a crash never leaves it truncated
//!   (host-local rewrites it in place).
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
//! # Cost
//!
//! The store keeps an [index](crate) of the directory: by address, by owner
//! and as runs of taken addresses, so finding the next free address, the
//! duplicate check and a release are O(log n) however full the range is. The
//! index is built from the directory (one `read` per reservation file, no
//! per-candidate probing) at the first lock, built again and put under an
//! inotify watch at the second, and from then on kept exact from the watch:
//! at every lock the queued events name the entries other processes
//! (host-local included) created or removed, and only those are read again.
//! If inotify is unavailable, or its queue overflowed, the index is rebuilt
//! from the directory. A one-shot user (the plugin, one process per command)
//! therefore reads the directory once per command, as host-local does, but
//! does not probe a file per candidate address.

use std::collections::HashSet;
use std::ffi::CString;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::ip;
use crate::store::{owner_key, Index, Reservation, Store, StoreError};

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
    lock: File,
    index: Index,
    built: bool,
    watch: Option<OwnedFd>,
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
        let lock_path = dir.join("lock");
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o750)
            .custom_flags(libc::O_CLOEXEC)
            .open(&lock_path)
            .map_err(|e| StoreError::io("open", &lock_path, e))?;
        Ok(FileStore {
            dir,
            lock,
            index: Index::default(),
            built: false,
            watch: None,
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

    fn read_owner(path: &Path) -> io::Result<String> {
        let mut f = File::open(path)?;
        // Plain reads into a stack buffer: no stat, no seek (read_to_end
        // would do both for its size hint); owners are tiny.
        let mut buf = [0u8; 512];
        let mut data = Vec::new();
        loop {
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => data.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(String::from_utf8_lossy(&data).trim().to_string())
    }

    /// Bring the index entry of `ip` in line with the directory.
    fn refresh(&mut self, ip: IpAddr) {
        let path = self.dir.join(ip.to_string());
        match fs::symlink_metadata(&path) {
            Ok(m) if !m.is_dir() => match Self::read_owner(&path) {
                Ok(owner) => self.index.insert(ip, owner),
                Err(_) => {
                    self.index.remove(&ip);
                }
            },
            _ => {
                self.index.remove(&ip);
            }
        }
    }

    fn rebuild(&mut self, watch: bool) -> Result<(), StoreError> {
        if watch {
            self.add_watch();
        }
        self.index.clear();
        let dir = File::open(&self.dir).map_err(|e| StoreError::io("open", &self.dir, e))?;
        let rd = fs::read_dir(&self.dir).map_err(|e| StoreError::io("readdir", &self.dir, e))?;
        for entry in rd {
            let entry = entry.map_err(|e| StoreError::io("readdir", &self.dir, e))?;
            let name = entry.file_name();
            let Some(ip) = Self::entry_ip(name.as_bytes()) else {
                continue;
            };
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if let Some(owner) = read_owner_at(&dir, name.as_bytes()) {
                self.index.insert(ip, owner);
            }
        }
        // Whatever was queued while we read is already in the index.
        let _ = self.drain();
        self.built = true;
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        // The first lock of a store's life reads the directory without
        // setting up inotify: a one-shot user (a CNI plugin process) would
        // pay for it on close (closing an inotify descriptor waits for an
        // RCU grace period, ~20 ms). The second lock reads it again and
        // starts watching; from then on only the changes are read.
        if !self.built {
            return self.rebuild(false);
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
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let dst = self.dir.join(name);
        let write = || -> io::Result<()> {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o644)
                .open(&tmp)?;
            f.write_all(ip.to_string().as_bytes())
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(StoreError::io("write", tmp, e));
        }
        if let Err(e) = fs::rename(&tmp, &dst) {
            let _ = fs::remove_file(&tmp);
            return Err(StoreError::io("rename", dst, e));
        }
        Ok(())
    }
}

impl Store for FileStore {
    fn lock(&mut self) -> Result<(), StoreError> {
        self.flock(libc::LOCK_EX)?;
        if let Err(e) = self.sync() {
            let _ = self.flock(libc::LOCK_UN);
            return Err(e);
        }
        Ok(())
    }

    fn unlock(&mut self) -> Result<(), StoreError> {
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
        let path = self.dir.join(ip.to_string());
        let mut f = match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                self.refresh(ip);
                return Ok(false);
            }
            Err(e) => return Err(StoreError::io("create", path, e)),
        };
        let owner = owner_key(id, ifname);
        if let Err(e) = f.write_all(owner.as_bytes()) {
            drop(f);
            let _ = fs::remove_file(&path);
            return Err(StoreError::io("write", path, e));
        }
        drop(f);
        if let Err(e) = self.write_cursor(range_id, ip) {
            // host-local leaks the reservation here; we do not.
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        self.index.insert(ip, owner.trim().to_string());
        Ok(true)
    }

    fn last_reserved_ip(&mut self, range_id: usize) -> Result<Option<IpAddr>, StoreError> {
        let path = self.dir.join(format!("{CURSOR_PREFIX}{range_id}"));
        // As host-local: an unreadable or unparsable cursor means "none".
        Ok(fs::read(&path)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| ip::parse_ip(&s)))
    }

    fn release_ip(&mut self, ip: IpAddr) -> Result<bool, StoreError> {
        let ip = ip::canonical(ip);
        let path = self.dir.join(ip.to_string());
        match fs::remove_file(&path) {
            Ok(()) => {
                self.index.remove(&ip);
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.index.remove(&ip);
                Ok(false)
            }
            Err(e) => Err(StoreError::io("unlink", path, e)),
        }
    }

    fn ips_of_owner(&mut self, owner: &str) -> Result<Vec<IpAddr>, StoreError> {
        Ok(self.index.ips_of_owner(owner))
    }

    fn next_free(&mut self, from: IpAddr, to: IpAddr) -> Result<Option<IpAddr>, StoreError> {
        Ok(self.index.next_free(from, to))
    }

    fn reservations(&mut self) -> Result<Vec<Reservation>, StoreError> {
        Ok(self.index.reservations())
    }
}

/// Read a reservation file relative to the open directory `dir`: one
/// `openat` (no path walk), usually one `read` (a short read of a regular
/// file is its end), one `close`. `None` if it cannot be read.
fn read_owner_at(dir: &File, name: &[u8]) -> Option<String> {
    let cname = CString::new(name).ok()?;
    // SAFETY: dir is an open directory descriptor and cname a NUL-terminated
    // string, both alive for the call.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            cname.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY,
        )
    };
    if fd < 0 {
        return None;
    }
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    let mut f = unsafe { File::from_raw_fd(fd) };
    let mut buf = [0u8; 512];
    let mut data = Vec::new();
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                data.extend_from_slice(&buf[..n]);
                if n < buf.len() {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
    }
    Some(String::from_utf8_lossy(&data).trim().to_string())
}
