#!/usr/bin/env python3
"""Capture real NETLINK_NETFILTER replies (nftables and conntrack) as fuzz
seeds. Run through capture_nf.sh (it builds a throwaway network namespace
with a table, chains, rules, a verdict map and conntrack entries first).
Writes every datagram of each dump to seeds/nft_reply/<name>-<n> or
seeds/conntrack_reply/<name>-<n>.
"""
import os
import socket
import struct
import sys

NETLINK_NETFILTER = 12
SOL_NETLINK = 270
NETLINK_CAP_ACK, NETLINK_EXT_ACK = 10, 11
F_REQUEST, F_ACK, F_DUMP = 0x1, 0x4, 0x300
NFT = 10 << 8
GETTABLE, GETCHAIN, GETRULE, GETSET, GETSETELEM = 1, 4, 7, 10, 13
CT_GET = (1 << 8) | 1
AF_UNSPEC, AF_INET, AF_INET6 = 0, 2, 10

out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
for opt in (NETLINK_CAP_ACK, NETLINK_EXT_ACK):
    s.setsockopt(SOL_NETLINK, opt, 1)
s.bind((0, 0))
seq = 0


def attr(kind, value):
    n = 4 + len(value)
    return struct.pack("=HH", n, kind) + value + b"\0" * ((4 - n % 4) % 4)


def request(target, name, kind, family, flags, attrs=b"", limit=64):
    """Send one request, save every datagram until its DONE or error."""
    global seq
    seq += 1
    body = struct.pack("=BBH", family, 0, 0) + attrs
    msg = struct.pack("=IHHII", 16 + len(body), kind, F_REQUEST | flags, seq, 0) + body
    s.send(msg)
    d_dir = os.path.join(out, target)
    os.makedirs(d_dir, exist_ok=True)
    n = 0
    while n < limit:
        size = len(s.recv(65536, socket.MSG_PEEK | socket.MSG_TRUNC))
        d = s.recv(max(size, 16))
        with open(os.path.join(d_dir, f"{name}-{n}"), "wb") as f:
            f.write(d)
        off, last = 0, False
        while off + 16 <= len(d):
            ln, ty, fl, sq, _ = struct.unpack_from("=IHHII", d, off)
            if ln < 16 or off + ln > len(d):
                break
            if ty in (2, 3):
                last = True
            off += (ln + 3) & ~3
        n += 1
        if last or not flags & F_DUMP:
            return


cstr = lambda t: t.encode() + b"\0"
for fam, tag in ((AF_UNSPEC, "all"), (AF_INET, "ip")):
    request("nft_reply", f"tables-{tag}", NFT | GETTABLE, fam, F_DUMP)
    request("nft_reply", f"chains-{tag}", NFT | GETCHAIN, fam, F_DUMP)
    request("nft_reply", f"rules-{tag}", NFT | GETRULE, fam, F_DUMP)
request("nft_reply", "sets-inet", NFT | GETSET, 1, F_DUMP)
# NFTA_SET_ELEM_LIST_TABLE 1, _SET 2.
request("nft_reply", "elems-vmap", NFT | GETSETELEM, 1, F_DUMP, attr(1, cstr("seed")) + attr(2, cstr("vm")))
request("nft_reply", "elems-set", NFT | GETSETELEM, 1, F_DUMP, attr(1, cstr("seed")) + attr(2, cstr("ports")))
request("nft_reply", "err-no-table", NFT | GETCHAIN, 1, F_ACK, attr(1, cstr("nosuch")) + attr(3, cstr("x")))
for fam, tag in ((AF_INET, "v4"), (AF_INET6, "v6"), (AF_UNSPEC, "all")):
    request("conntrack_reply", f"ct-dump-{tag}", CT_GET, fam, F_DUMP)
