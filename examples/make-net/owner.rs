//! Who owns each namespace make-net made: one record per namespace name in
//! the data directory (`dataDir`, outside the netns directory, which holds
//! nothing but namespaces), written before the namespace is made and
//! removed after it is gone, all under an exclusive lock of the data
//! directory, so that two attachments asking for one name never both get
//! it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use netns_cni::Error;
use serde::{Deserialize, Serialize};

fn fail(what: &str, path: &Path, e: io::Error) -> Error {
    Error::internal(format!("{what} {}: {e}", path.display()))
}

/// The attachment that owns a namespace, and what make-net made for it
/// (so DEL and GC need nothing but the record).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    #[serde(rename = "containerID")]
    pub container_id: String,
    pub ifname: String,
    /// The namespace's name and directory.
    pub netid: String,
    #[serde(rename = "nsDir")]
    pub ns_dir: String,
    /// The interface inside it.
    #[serde(rename = "ifName")]
    pub if_name: String,
    /// `host` or `pod`, and the other end's name.
    pub peer: String,
    #[serde(rename = "peerName")]
    pub peer_name: String,
    /// CNI_NETNS at ADD (the pod, for `peer: pod`).
    pub netns: String,
    /// The network (the config's `name`) the attachment is of: GC removes
    /// only its own network's, since `cni.dev/valid-attachments` lists one
    /// network's attachments and several networks may share `dataDir`.
    #[serde(default)]
    pub network: String,
}

impl Owner {
    /// Whether this is the record of attachment (`container_id`, `ifname`).
    pub fn is(&self, container_id: &str, ifname: &str) -> bool {
        self.container_id == container_id && self.ifname == ifname
    }
}

/// The data directory, locked (exclusively, released on drop).
pub struct Records {
    dir: PathBuf,
    _lock: File,
}

impl Records {
    /// Lock `dir` (made if missing, 0700).
    pub fn lock(dir: &str) -> Result<Records, Error> {
        let dir = PathBuf::from(dir);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| fail("failed to create", &dir, e))?;
        let path = dir.join(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| fail("failed to open", &path, e))?;
        loop {
            // SAFETY: flock on a descriptor this function owns (`lock`
            // lives as long as the call); no memory is passed.
            let r = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
            if r == 0 {
                break;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(fail("failed to lock", &path, e));
            }
        }
        Ok(Records { dir, _lock: lock })
    }

    fn path(&self, netid: &str) -> PathBuf {
        self.dir.join(netid)
    }

    /// The record of namespace `netid`, if any.
    pub fn get(&self, netid: &str) -> Result<Option<Owner>, Error> {
        let path = self.path(netid);
        match fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| {
                Error::internal(format!("unreadable owner record {}: {e}", path.display()))
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(fail("failed to read", &path, e)),
        }
    }

    /// Write `owner`'s record (replacing one: the caller checked whose it
    /// was), through a temporary file and a rename.
    pub fn put(&self, owner: &Owner) -> Result<(), Error> {
        let path = self.path(&owner.netid);
        let tmp = self.dir.join(format!(".{}.tmp", owner.netid));
        let body = serde_json::to_vec(owner)
            .map_err(|e| Error::internal(format!("failed to encode the owner record: {e}")))?;
        File::create(&tmp)
            .and_then(|mut f| f.write_all(&body).and_then(|()| f.sync_all()))
            .and_then(|()| fs::rename(&tmp, &path))
            .map_err(|e| {
                let _ = fs::remove_file(&tmp);
                fail("failed to write", &path, e)
            })
    }

    /// Remove namespace `netid`'s record (gone is fine).
    pub fn remove(&self, netid: &str) -> Result<(), Error> {
        let path = self.path(netid);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(fail("failed to remove", &path, e)),
        }
    }

    /// Every record (unreadable ones skipped: a record is only ever
    /// written whole, by rename). A temporary file of [`Records::put`]
    /// seen here is a killed writer's (it is only written under the
    /// lock): removed, so DEL and GC leave none behind.
    pub fn all(&self) -> Result<Vec<Owner>, Error> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) => return Err(fail("failed to read", &self.dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') {
                if name.ends_with(".tmp") {
                    let _ = fs::remove_file(entry.path());
                }
                continue;
            }
            if let Ok(Some(o)) = self.get(name) {
                out.push(o);
            }
        }
        out.sort_by(|a, b| a.netid.cmp(&b.netid));
        Ok(out)
    }

    /// The record of attachment (`container_id`, `ifname`), if any.
    pub fn of(&self, container_id: &str, ifname: &str) -> Result<Option<Owner>, Error> {
        Ok(self.all()?.into_iter().find(|o| o.is(container_id, ifname)))
    }
}
