//! Support code for the criterion benchmarks in `benches/`.
//!
//! The *floor* of each benchmark is the same kernel work done with message
//! bytes prebuilt by hand and bare libc `send`/`recv` on a raw NETLINK_ROUTE
//! socket: no parsing beyond the netlink headers, no allocation per request.
//! The library's time divided by the floor's is its overhead.
#![allow(clippy::missing_panics_doc)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Move this process into a fresh network namespace (call first thing in a
/// benchmark's `main`, while it is single-threaded: threads made later
/// inherit it), and bring `lo` up.
pub fn enter_private_netns() {
    nix_unshare();
    let st = std::process::Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .expect("run ip");
    assert!(st.success());
}

fn nix_unshare() {
    // SAFETY: unshare has no memory-safety preconditions.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(
        rc,
        0,
        "unshare(CLONE_NEWNET): {} (benchmarks run as root)",
        io::Error::last_os_error()
    );
}

/// Netlink message types and flags used by the floor requests.
pub mod nl {
    /// RTM_NEWLINK
    pub const RTM_NEWLINK: u16 = 16;
    /// RTM_DELLINK
    pub const RTM_DELLINK: u16 = 17;
    /// RTM_GETLINK
    pub const RTM_GETLINK: u16 = 18;
    /// RTM_NEWADDR
    pub const RTM_NEWADDR: u16 = 20;
    /// RTM_DELADDR
    pub const RTM_DELADDR: u16 = 21;
    /// RTM_NEWROUTE
    pub const RTM_NEWROUTE: u16 = 24;
    /// RTM_DELROUTE
    pub const RTM_DELROUTE: u16 = 25;
    /// NLM_F_REQUEST
    pub const REQUEST: u16 = 1;
    /// NLM_F_ACK
    pub const ACK: u16 = 4;
    /// NLM_F_DUMP
    pub const DUMP: u16 = 0x300;
    /// NLM_F_CREATE | NLM_F_EXCL
    pub const CREATE_EXCL: u16 = 0x400 | 0x200;
    /// NLMSG_ERROR
    pub const NLMSG_ERROR: u16 = 2;
    /// NLMSG_DONE
    pub const NLMSG_DONE: u16 = 3;
}

/// A netlink request built by hand: header, fixed part, attributes.
#[derive(Debug, Clone, Default)]
pub struct Msg {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

impl Msg {
    /// A message of `kind` with `flags` and a fixed header of `fixed` bytes.
    pub fn new(kind: u16, flags: u16, fixed: &[u8]) -> Msg {
        let mut buf = vec![0u8; 16];
        buf[4..6].copy_from_slice(&kind.to_ne_bytes());
        buf[6..8].copy_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(fixed);
        let mut m = Msg {
            buf,
            nests: Vec::new(),
        };
        m.pad();
        m.fix_len();
        m
    }

    fn pad(&mut self) {
        while self.buf.len() % 4 != 0 {
            self.buf.push(0);
        }
    }

    fn fix_len(&mut self) {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
    }

    /// Append an attribute.
    pub fn attr(mut self, kind: u16, value: &[u8]) -> Msg {
        let len = (4 + value.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(value);
        self.pad();
        self.fix_len();
        self
    }

    /// Append raw bytes (a fixed header inside a nest).
    pub fn raw(mut self, bytes: &[u8]) -> Msg {
        self.buf.extend_from_slice(bytes);
        self.pad();
        self.fix_len();
        self
    }

    /// A NUL-terminated string attribute.
    pub fn str_attr(self, kind: u16, s: &str) -> Msg {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        self.attr(kind, &v)
    }

    /// A u32 attribute.
    pub fn u32_attr(self, kind: u16, v: u32) -> Msg {
        self.attr(kind, &v.to_ne_bytes())
    }

    /// Open a nested attribute.
    pub fn nest(mut self, kind: u16) -> Msg {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&[0, 0]);
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self
    }

    /// Close the last nested attribute.
    pub fn end(mut self) -> Msg {
        let start = self.nests.pop().expect("open nest");
        let len = (self.buf.len() - start) as u16;
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self.fix_len();
        self
    }

    /// The bytes, with sequence number `seq`.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Set the sequence number in place.
    pub fn set_seq(&mut self, seq: u32) {
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
    }
}

/// `struct ifinfomsg` with an index.
pub fn ifinfomsg(index: i32) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[4..8].copy_from_slice(&index.to_ne_bytes());
    b
}

/// `struct ifaddrmsg`.
pub fn ifaddrmsg(family: u8, prefix: u8, index: u32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[0] = family;
    b[1] = prefix;
    b[4..8].copy_from_slice(&index.to_ne_bytes());
    b
}

/// `struct rtmsg`: family, dst_len, table main, protocol boot, scope
/// universe/link, type unicast.
pub fn rtmsg(family: u8, dst_len: u8, scope: u8) -> [u8; 12] {
    [family, dst_len, 0, 0, 254, 3, scope, 1, 0, 0, 0, 0]
}

/// A bare NETLINK_ROUTE socket: libc only, options as the library sets them.
#[derive(Debug)]
pub struct RawSocket {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl RawSocket {
    /// Open, bind, connect to the kernel, set EXT_ACK, CAP_ACK, STRICT_CHK.
    pub fn open() -> RawSocket {
        // SAFETY: plain socket(2) call; the fd is owned below.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        assert!(fd >= 0, "socket: {}", io::Error::last_os_error());
        // SAFETY: `fd` is a new descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sockaddr_nl is plain data; zeroed is a valid value.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as u16;
        let salen = std::mem::size_of::<libc::sockaddr_nl>() as u32;
        // SAFETY: `sa` is a valid sockaddr_nl of the given length.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_nl).cast(),
                salen,
            )
        };
        assert_eq!(rc, 0);
        // SAFETY: as above.
        let rc = unsafe {
            libc::connect(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_nl).cast(),
                salen,
            )
        };
        assert_eq!(rc, 0);
        for opt in [
            11, /* EXT_ACK */
            10, /* CAP_ACK */
            12, /* GET_STRICT_CHK */
        ] {
            let one: libc::c_int = 1;
            // SAFETY: `one` is a valid c_int for reads of its size.
            let rc = unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    270, /* SOL_NETLINK */
                    opt,
                    (&one as *const libc::c_int).cast(),
                    4,
                )
            };
            assert_eq!(rc, 0);
        }
        RawSocket {
            fd,
            buf: vec![0u8; 64 * 1024],
        }
    }

    /// Raise the receive buffer (for batched floors).
    pub fn set_rcvbuf(&self, bytes: i32) {
        // SAFETY: `bytes` is a valid c_int for reads of its size.
        unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                (&bytes as *const i32).cast(),
                4,
            )
        };
    }

    /// send(2) the bytes.
    pub fn send(&self, bytes: &[u8]) {
        // SAFETY: `bytes` is valid for reads of its length.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), 0) };
        assert_eq!(
            n as usize,
            bytes.len(),
            "send: {}",
            io::Error::last_os_error()
        );
    }

    fn recv(&mut self) -> usize {
        // SAFETY: the buffer is valid for writes of its length.
        let n = unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                self.buf.as_mut_ptr().cast(),
                self.buf.len(),
                0,
            )
        };
        assert!(n > 0, "recv: {}", io::Error::last_os_error());
        n as usize
    }

    /// Wait for `count` NLMSG_ERROR (ACK or error) messages; returns how many
    /// were errors.
    pub fn acks(&mut self, count: usize) -> usize {
        let mut seen = 0;
        let mut errors = 0;
        while seen < count {
            let n = self.recv();
            let mut off = 0;
            while off + 16 <= n {
                let len = u32::from_ne_bytes(self.buf[off..off + 4].try_into().unwrap()) as usize;
                let kind = u16::from_ne_bytes(self.buf[off + 4..off + 6].try_into().unwrap());
                if kind == nl::NLMSG_ERROR {
                    seen += 1;
                    let code = i32::from_ne_bytes(self.buf[off + 16..off + 20].try_into().unwrap());
                    if code != 0 {
                        errors += 1;
                    }
                }
                off += (len + 3) & !3;
            }
        }
        errors
    }

    /// Send a request that expects an ACK; panic on a NACK.
    pub fn ack(&mut self, bytes: &[u8]) {
        self.send(bytes);
        assert_eq!(self.acks(1), 0, "floor request refused");
    }

    /// Receive one reply datagram (a GET); returns its first message type.
    pub fn one(&mut self, bytes: &[u8]) -> u16 {
        self.send(bytes);
        self.recv();
        u16::from_ne_bytes(self.buf[4..6].try_into().unwrap())
    }

    /// Send a dump request and read until NLMSG_DONE; returns the number of
    /// data messages.
    pub fn dump(&mut self, bytes: &[u8]) -> usize {
        self.send(bytes);
        let mut msgs = 0;
        loop {
            let n = self.recv();
            let mut off = 0;
            while off + 16 <= n {
                let len = u32::from_ne_bytes(self.buf[off..off + 4].try_into().unwrap()) as usize;
                let kind = u16::from_ne_bytes(self.buf[off + 4..off + 6].try_into().unwrap());
                match kind {
                    nl::NLMSG_DONE => return msgs,
                    nl::NLMSG_ERROR => panic!("dump refused"),
                    _ => msgs += 1,
                }
                off += (len + 3) & !3;
            }
        }
    }
}

/// The floor's `ip link show dev NAME`: RTM_GETLINK by IFLA_IFNAME, stats
/// skipped (as the library asks).
pub fn getlink_by_name(name: &str) -> Msg {
    Msg::new(nl::RTM_GETLINK, nl::REQUEST, &ifinfomsg(0))
        .u32_attr(
            29, /* IFLA_EXT_MASK */
            8,  /* RTEXT_FILTER_SKIP_STATS */
        )
        .str_attr(3 /* IFLA_IFNAME */, name)
}

/// The floor's link dump, stats skipped.
pub fn getlink_dump() -> Msg {
    Msg::new(nl::RTM_GETLINK, nl::REQUEST | nl::DUMP, &ifinfomsg(0)).u32_attr(
        29, /* IFLA_EXT_MASK */
        8,  /* RTEXT_FILTER_SKIP_STATS */
    )
}

/// The floor's `ip link add NAME type veth peer name PEER`.
pub fn veth_add(name: &str, peer: &str) -> Msg {
    Msg::new(
        nl::RTM_NEWLINK,
        nl::REQUEST | nl::ACK | nl::CREATE_EXCL,
        &ifinfomsg(0),
    )
    .str_attr(3, name)
    .nest(18 /* IFLA_LINKINFO */)
    .str_attr(1 /* IFLA_INFO_KIND */, "veth")
    .nest(2 /* IFLA_INFO_DATA */)
    .nest(1 /* VETH_INFO_PEER */)
    .raw(&ifinfomsg(0))
    .str_attr(3, peer)
    .end()
    .end()
    .end()
}

/// The floor's `ip link del NAME`.
pub fn link_del(name: &str) -> Msg {
    Msg::new(nl::RTM_DELLINK, nl::REQUEST | nl::ACK, &ifinfomsg(0)).str_attr(3, name)
}

/// The floor's `ip link set NAME group G`.
pub fn link_set_group(name: &str, group: u32) -> Msg {
    Msg::new(nl::RTM_NEWLINK, nl::REQUEST | nl::ACK, &ifinfomsg(0))
        .str_attr(3, name)
        .u32_attr(27 /* IFLA_GROUP */, group)
}

/// The floor's `ip link del group G`.
pub fn link_del_group(group: u32) -> Msg {
    Msg::new(nl::RTM_DELLINK, nl::REQUEST | nl::ACK, &ifinfomsg(0)).u32_attr(27, group)
}

/// Create `pairs` veth pairs `{prefix}{i}` / `{prefix}{i}p` quickly (ip -batch).
pub fn make_veths(prefix: &str, pairs: usize) {
    let mut script = String::new();
    for i in 0..pairs {
        script.push_str(&format!(
            "link add {prefix}{i} type veth peer name {prefix}{i}p\n"
        ));
    }
    run_ip_batch(&script);
}

/// Run `ip -batch -` with `script` on stdin.
pub fn run_ip_batch(script: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new("ip")
        .args(["-batch", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("run ip");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "ip -batch failed");
}

/// `ip netns add` and `ip netns del` in bare libc: flock the directory, make
/// it shared, create the file, bind a helper thread's new namespace onto it;
/// then unmount and unlink.
pub fn floor_netns_create_delete(dir: &std::path::Path, path: &std::path::Path) {
    use std::ffi::CString;
    let cdir = CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
    let cpath = CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: plain system calls on valid NUL-terminated paths.
    unsafe {
        let lock = libc::open(
            cdir.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        );
        libc::flock(lock, libc::LOCK_EX);
        let none = c"none";
        libc::mount(
            c"".as_ptr(),
            cdir.as_ptr(),
            none.as_ptr(),
            libc::MS_SHARED | libc::MS_REC,
            std::ptr::null(),
        );
        libc::flock(lock, libc::LOCK_UN);
        libc::close(lock);
        let fd = libc::open(
            cpath.as_ptr(),
            libc::O_RDONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
            0,
        );
        assert!(fd >= 0);
        libc::close(fd);
    }
    let target = cpath.clone();
    std::thread::spawn(move || {
        // SAFETY: as above; this thread exits right after.
        unsafe {
            assert_eq!(libc::unshare(libc::CLONE_NEWNET), 0);
            let rc = libc::mount(
                c"/proc/thread-self/ns/net".as_ptr(),
                target.as_ptr(),
                c"none".as_ptr(),
                libc::MS_BIND,
                std::ptr::null(),
            );
            assert_eq!(rc, 0);
        }
    })
    .join()
    .unwrap();
    // SAFETY: as above.
    unsafe {
        libc::umount2(cpath.as_ptr(), libc::MNT_DETACH);
        libc::unlink(cpath.as_ptr());
    }
}

/// A fresh directory under the system temp dir, for a bench's namespaces.
pub fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("netns-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Unmount and remove a directory made by [`tempdir`].
pub fn cleanup_dir(dir: &std::path::Path) {
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: plain system call on a valid path.
    while unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } == 0 {}
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(test)]
netns_testutil::host_only!("unit test of the prebuilt floor messages, no kernel involved");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_messages_are_well_formed() {
        let m = veth_add("a", "b");
        let b = m.bytes();
        assert_eq!(
            u32::from_ne_bytes(b[0..4].try_into().unwrap()) as usize,
            b.len()
        );
        assert_eq!(b.len() % 4, 0);
        let g = getlink_by_name("eth0");
        assert_eq!(g.bytes().len(), 16 + 16 + 8 + 12);
    }
}
