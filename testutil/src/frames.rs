//! Raw Ethernet frames on a link, for the MAC spoof check tests: a packet
//! socket bound to an interface of the calling thread's namespace, frames
//! sent with a chosen source MAC, and what a neighbour received. (Opening
//! the socket in another namespace is the caller's business, e.g.
//! netns-core's `NetNs::run`: this crate does not depend on netns-core.)

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// An IEEE local experimental EtherType: nothing else on the test's links
/// sends it.
pub const ETHERTYPE: u16 = 0x88b5;

/// A packet socket for [`ETHERTYPE`] bound to `ifname` of the calling
/// thread's namespace (it stays bound to that device wherever it is used
/// from). Reads time out after 10 s, so a frame that never comes fails the
/// test instead of hanging it (no assertion on time).
pub fn packet_socket_here(ifname: &str) -> OwnedFd {
    let ifname = std::ffi::CString::new(ifname).expect("name");
    // SAFETY: plain socket(2); the result is checked and owned below.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(ETHERTYPE.to_be()),
        )
    };
    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: fd is a new descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifname is a NUL-terminated string.
    let index = unsafe { libc::if_nametoindex(ifname.as_ptr()) };
    assert!(index > 0, "no {ifname:?}");
    // SAFETY: sockaddr_ll is plain data; all-zero is valid.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = ETHERTYPE.to_be();
    sll.sll_ifindex = index as i32;
    // SAFETY: sll is a valid sockaddr_ll of the size given.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    assert_eq!(r, 0, "bind: {}", std::io::Error::last_os_error());
    let tv = libc::timeval {
        tv_sec: 10,
        tv_usec: 0,
    };
    // SAFETY: tv is a valid timeval of the size given.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as u32,
        )
    };
    assert_eq!(r, 0, "SO_RCVTIMEO");
    fd
}

/// Send on `sock` (a [`packet_socket_here`]) one broadcast frame per
/// `(source MAC, tag)`, in order, from one CPU (frames sent from one CPU
/// through veth and a bridge are received in the order they were sent).
pub fn send_frames_on(sock: &OwnedFd, frames: &[([u8; 6], u8)]) {
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: cpu_set_t is plain data; the calls only write it and
            // set this thread's affinity.
            unsafe {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(0, &mut set);
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
            }
            for &(src, tag) in frames {
                let mut f = vec![0xffu8; 6];
                f.extend_from_slice(&src);
                f.extend_from_slice(&ETHERTYPE.to_be_bytes());
                f.push(tag);
                f.resize(60, 0);
                // SAFETY: f is valid for reads of its length.
                let n = unsafe { libc::send(sock.as_raw_fd(), f.as_ptr().cast(), f.len(), 0) };
                assert_eq!(
                    n,
                    f.len() as isize,
                    "send: {}",
                    std::io::Error::last_os_error()
                );
            }
        });
    });
}

/// The (source MAC, tag) of every frame `sock` receives up to and
/// including the one tagged `last`.
pub fn receive_until(sock: &OwnedFd, last: u8) -> Vec<([u8; 6], u8)> {
    let mut got = Vec::new();
    loop {
        let mut b = [0u8; 1600];
        // SAFETY: b is valid for writes of its length.
        let n = unsafe { libc::recv(sock.as_raw_fd(), b.as_mut_ptr().cast(), b.len(), 0) };
        assert!(
            n >= 15,
            "no frame tagged {last} came (got {got:?}): {}",
            std::io::Error::last_os_error()
        );
        let mut src = [0u8; 6];
        src.copy_from_slice(&b[6..12]);
        got.push((src, b[14]));
        if b[14] == last {
            return got;
        }
    }
}
