#!/bin/sh
# Capture real kernel replies as seeds for netlink_datagram and
# netlink_payload, in a throwaway network namespace (needs root, veth and
# bridge). Usage: fuzz/seeds/capture.sh [OUT_DIR]   (default: fuzz/seeds)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec unshare -n sh -eu -c '
ip link set lo up
ip link add v0 type veth peer name v1
ip link add br0 type bridge
ip link set v0 master br0
ip link set v1 mtu 1400 txqlen 500 group 7 alias "seed peer"
ip link add link v1 name mv0 type macvlan mode bridge || true
unshare -n sleep 60 & other=$!
sleep 0.2
ip link add v2 type veth peer name v3 netns "$other"
for l in v0 v1 br0 v2; do ip link set "$l" up; done
ip addr add 10.1.0.1/24 broadcast + label br0:a dev br0
ip addr add 10.1.0.9/24 dev br0 valid_lft 300 preferred_lft 100
ip addr add 2001:db8:1::1/64 dev br0 nodad
ip addr add 10.2.0.1/24 dev v1
ip route add 10.20.0.0/16 via 10.1.0.2 metric 50
ip route add 10.30.0.0/16 nexthop via 10.1.0.2 weight 2 nexthop via 10.2.0.3 dev v1
ip route add 10.40.0.0/16 dev v1 src 10.2.0.1 table 100
ip route add 2001:db8:2::/64 via 2001:db8:1::2 dev br0
ip route add blackhole 10.50.0.0/16
ip neigh add 10.1.0.5 lladdr 02:00:00:00:00:05 dev br0 nud permanent
ip neigh add 2001:db8:1::5 lladdr 02:00:00:00:00:06 dev br0 nud reachable
python3 "$0" "$1"
kill "$other"
' "$here/capture.py" "${1:-$here}"
