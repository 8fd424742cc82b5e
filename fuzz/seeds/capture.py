#!/usr/bin/env python3
"""Capture real NETLINK_ROUTE replies as fuzz seeds.

Run through capture.sh (it builds a throwaway network namespace first).
Writes every datagram the kernel sends to seeds/netlink_datagram/<name>-<n>
and the payload of every message in it (after the 16-byte nlmsghdr) to
seeds/netlink_payload/<name>-<n>-<m>. The socket has the options netns-core
sets (extended acks, capped acks, strict dump checks), so the error replies
carry the same TLVs the library sees.
"""
import os
import socket
import struct
import sys

SOL_NETLINK = 270
NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK = 10, 11, 12
F_REQUEST, F_ACK, F_DUMP, F_CREATE, F_EXCL = 0x1, 0x4, 0x300, 0x400, 0x200
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_GETADDR = 20, 22
RTM_NEWROUTE, RTM_GETROUTE = 24, 26
RTM_GETNEIGH = 30
AF_UNSPEC, AF_INET, AF_INET6 = 0, 2, 10

out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
dgram_dir = os.path.join(out, "netlink_datagram")
payload_dir = os.path.join(out, "netlink_payload")
os.makedirs(dgram_dir, exist_ok=True)
os.makedirs(payload_dir, exist_ok=True)

s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
for opt in (NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK):
    s.setsockopt(SOL_NETLINK, opt, 1)
s.bind((0, 0))
seq = 0


def attr(kind, value):
    n = 4 + len(value)
    return struct.pack("=HH", n, kind) + value + b"\0" * ((4 - n % 4) % 4)


def request(name, kind, flags, body, limit=64):
    """Send one request, save every datagram until its DONE or ACK/error."""
    global seq
    seq += 1
    msg = struct.pack("=IHHII", 16 + len(body), kind, F_REQUEST | flags, seq, 0) + body
    s.send(msg)
    n = 0
    while n < limit:
        # Peek at the size and read exactly that much: the kernel sizes later
        # dump datagrams after our receive buffer, so this keeps them small.
        size = len(s.recv(65536, socket.MSG_PEEK | socket.MSG_TRUNC))
        d = s.recv(max(size, 16))
        with open(os.path.join(dgram_dir, f"{name}-{n}"), "wb") as f:
            f.write(d)
        off, m, last = 0, 0, False
        while off + 16 <= len(d):
            ln, ty, fl, sq, _ = struct.unpack_from("=IHHII", d, off)
            if ln < 16 or off + ln > len(d):
                break
            with open(os.path.join(payload_dir, f"{name}-{n}-{m}"), "wb") as f:
                f.write(d[off + 16 : off + ln])
            if ty in (2, 3):  # NLMSG_ERROR (ack or error), NLMSG_DONE
                last = True
            off += (ln + 3) & ~3
            m += 1
        n += 1
        if last or not flags & F_DUMP:
            return


ifinfo = lambda family=AF_UNSPEC, index=0: struct.pack("=BBHiII", family, 0, 0, index, 0, 0)
ifaddr = lambda family, plen=0, index=0: struct.pack("=BBBBI", family, plen, 0, 0, index)
rtmsg = lambda family, dlen=0, table=0, proto=0, scope=0, rtype=0: struct.pack(
    "=BBBBBBBBI", family, dlen, 0, 0, table, proto, scope, rtype, 0
)
ndmsg = lambda family: struct.pack("=BBHiHBB", family, 0, 0, 0, 0, 0, 0)
lo = socket.if_nametoindex("lo")
br0 = socket.if_nametoindex("br0")

# Dumps of what capture.sh set up.
request("link-dump", RTM_GETLINK, F_DUMP, ifinfo())
request("link-get-v0", RTM_GETLINK, 0, ifinfo(index=socket.if_nametoindex("v0")))
request("addr-dump", RTM_GETADDR, F_DUMP, ifaddr(AF_UNSPEC))
request("route4-dump", RTM_GETROUTE, F_DUMP, rtmsg(AF_INET))
request("route6-dump", RTM_GETROUTE, F_DUMP, rtmsg(AF_INET6))
request("neigh-dump", RTM_GETNEIGH, F_DUMP, ndmsg(AF_UNSPEC))

# Acks and errors, with extended-ack TLVs where the kernel gives them.
request("ack-addr", RTM_NEWADDR, F_ACK | F_CREATE | F_EXCL,
        ifaddr(AF_INET, 24, br0) + attr(1, socket.inet_aton("10.3.0.1")) + attr(2, socket.inet_aton("10.3.0.1")))
request("err-exists-addr", RTM_NEWADDR, F_ACK | F_CREATE | F_EXCL,
        ifaddr(AF_INET, 24, br0) + attr(1, socket.inet_aton("10.3.0.1")) + attr(2, socket.inet_aton("10.3.0.1")))
request("err-unknown-kind", RTM_NEWLINK, F_ACK | F_CREATE | F_EXCL,
        ifinfo() + attr(3, b"zz0\0") + attr(18 | 0x8000, attr(1, b"nosuchkind\0")))
request("err-nodev", RTM_DELLINK, F_ACK, ifinfo(index=99999))
request("err-bad-prefix", RTM_NEWADDR, F_ACK | F_CREATE,
        ifaddr(AF_INET, 40, lo) + attr(2, socket.inet_aton("10.9.0.1")))
request("err-gateway", RTM_NEWROUTE, F_ACK | F_CREATE,
        rtmsg(AF_INET, 24, 254, 3, 0, 1) + attr(1, socket.inet_aton("10.77.0.0"))
        + attr(5, socket.inet_aton("10.99.0.1")))
request("err-strict-dump", RTM_GETLINK, F_DUMP, ifinfo(index=lo))
request("err-strict-route-dump", RTM_GETROUTE, F_DUMP, rtmsg(AF_INET, dlen=8))
request("err-neigh-get", RTM_GETNEIGH, 0, ndmsg(AF_INET))
print(f"wrote {len(os.listdir(dgram_dir))} datagrams, {len(os.listdir(payload_dir))} payloads")
