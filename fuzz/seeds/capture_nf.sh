#!/bin/sh
# Capture real nftables and conntrack replies as seeds for nft_reply and
# conntrack_reply, in a throwaway network namespace (needs root, nft, and
# nf_conntrack): the ruleset of capture_nf.nft, a UDP packet and a TCP
# connection over loopback per family (conntrack entries), then
# capture_nf.py's dumps. Usage: fuzz/seeds/capture_nf.sh [OUT_DIR]
# (default: fuzz/seeds)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec unshare -n sh -eu -c '
ip link set lo up
ip addr add 2001:db8::1/128 dev lo nodad
nft -f "$0"
python3 - "$1" "$2" <<PY
import socket, subprocess, sys
keep = []
for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "2001:db8::1")):
    u = socket.socket(fam, socket.SOCK_DGRAM)
    u.sendto(b"x", (addr, 8053))
    l = socket.socket(fam, socket.SOCK_STREAM)
    l.bind((addr, 0))
    l.listen(1)
    c = socket.create_connection((addr, l.getsockname()[1]))
    keep += [u, l, c]
subprocess.run([sys.executable, sys.argv[1], sys.argv[2]], check=True)
PY
' "$here/capture_nf.nft" "$here/capture_nf.py" "${1:-$here}"
