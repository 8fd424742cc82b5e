#!/bin/sh
# Runs inside the VM, through .ci/vm/run (see .ci/vm/selftest): creates every
# link kind the development kernel lacks with the real ip/bridge, checks each
# with `ip -j`, then exits with status $1 (to prove the runner passes it back).
set -eu
want_rc=${1:-0}
ns=vmselftest
step() { echo "== $*"; }
x() { ip -n "$ns" "$@"; }
has() { # has WHAT JSON-FRAGMENT... : every fragment is in stdin
    what=$1; shift; j=$(cat)
    for f in "$@"; do
        case $j in *"$f"*) ;; *) echo "FAIL: $what: no $f in: $j" >&2; exit 1 ;; esac
    done
}

echo "kernel $(uname -r), NETNS_TEST_KERNEL=${NETNS_TEST_KERNEL:-unset}, sh=$(readlink -f /bin/sh)"
step "ip netns add (named namespace under /run/netns)"
ip netns add "$ns"
step "veth"
x link add veth0 type veth peer name veth1
step "vlan 802.1Q and 802.1ad on the veth"
x link add link veth0 name veth0.10 type vlan id 10
x link add link veth0 name veth0.20 type vlan protocol 802.1ad id 20
x -d -j link show veth0.10 | has vlan10 '"protocol":"802.1Q","id":10'
x -d -j link show veth0.20 | has vlan20 '"protocol":"802.1ad","id":20'
step "dummy"
x link add dum0 type dummy
x -d -j link show dum0 | has dummy '"info_kind":"dummy"'
step "ipvlan l2 and l3 (the mode belongs to the parent: one parent each)"
x link add dum4 type dummy
x link add ipv0 link dum0 type ipvlan mode l2
x link add ipv1 link dum4 type ipvlan mode l3
x -d -j link show ipv0 | has ipvlan-l2 '"info_kind":"ipvlan"' '"mode":"l2"'
x -d -j link show ipv1 | has ipvlan-l3 '"mode":"l3"'
step "bond active-backup and 802.3ad, ports added and removed"
x link add dum1 type dummy
x link add dum2 type dummy
x link add bond0 type bond mode active-backup miimon 100
x link add bond1 type bond mode 802.3ad
x link set dum1 master bond0
x link set dum2 master bond1
x -d -j link show bond0 | has bond-ab '"mode":"active-backup"'
x -d -j link show bond1 | has bond-lacp '"mode":"802.3ad"'
x -j link show dum1 | has bond-port '"master":"bond0"'
x link set dum1 nomaster
step "vrf with a table, a port and a route in it"
x link add vrf10 type vrf table 10
x link set vrf10 up
x link set veth1 master vrf10
x link set veth1 up
x addr add 10.0.0.1/24 dev veth1
x route add 10.9.0.0/16 via 10.0.0.2 dev veth1 vrf vrf10 onlink
x -d -j link show vrf10 | has vrf '"info_kind":"vrf"' '"table":10'
x -j route show table 10 | has vrf-route '"dst":"10.9.0.0/16"'
step "bridge with vlan_filtering=1, a port with pvid 10 untagged"
x link add br0 type bridge vlan_filtering 1
x link add dum3 type dummy
x link set dum3 master br0
ip netns exec "$ns" bridge vlan add dev dum3 vid 10 pvid untagged
x -d -j link show br0 | has bridge '"vlan_filtering":1'
ip netns exec "$ns" bridge -j vlan show dev dum3 | has bridge-vlan '"vlan":10,"flags":["PVID","Egress Untagged"]'
step "unshare -n and nsenter"
unshare -n sh -c 'ip link add d0 type dummy && ip -o link show d0 >/dev/null'
nsenter --net=/run/netns/"$ns" ip -o link show br0 >/dev/null
ip netns del "$ns"
echo "ALL LINK KINDS OK on $(uname -r)"
exit "$want_rc"
