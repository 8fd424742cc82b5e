#!/bin/sh
# Capture real replies of etcd's JSON gateway as seeds for etcd_wire: a
# single-member etcd in a throwaway network namespace, the requests
# EtcdStore makes (ranges, keys-only ranges, txns that succeed and fail,
# a delete), and refused requests. Needs root, etcd and curl.
# Usage: fuzz/seeds/capture_etcd.sh [OUT_DIR]   (default: fuzz/seeds)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="${1:-$here}/etcd_wire"
mkdir -p "$out"
exec unshare -n sh -eu -c '
out=$0
ip link set lo up
dir=$(mktemp -d)
etcd --data-dir "$dir" --listen-client-urls http://127.0.0.1:23790 \
  --advertise-client-urls http://127.0.0.1:23790 --listen-peer-urls http://127.0.0.1:23800 \
  >"$dir/log" 2>&1 & pid=$!
trap "kill $pid; rm -rf $dir" EXIT
u=http://127.0.0.1:23790/v3
# Wait until the member serves (a bounded poll of its readiness).
i=0; until curl -sf -X POST -d "{}" $u/maintenance/status >/dev/null; do
  i=$((i+1)); [ $i -lt 100 ] || exit 1; sleep 0.1; done
b() { printf %s "$1" | base64 -w0; }
k4=$(b /netns-ipam/n/ips/v4/0a000005); k6=$(b /netns-ipam/n/ips/v6/20010db8000000000000000000000005)
ok=$(b /netns-ipam/n/owners/c1/eth0/v4/0a000005); cur=$(b /netns-ipam/n/cursor/0)
own=$(b "{\"ip\":\"10.0.0.5\",\"containerID\":\"c1\",\"ifname\":\"eth0\",\"node\":\"n1\"}")
post() { curl -s -X POST -d "$2" "$u/$1" >"$out/$3"; }
post kv/range "{\"key\":\"$k4\"}" range-empty
post kv/txn "{\"compare\":[{\"key\":\"$k4\",\"target\":\"CREATE\",\"create_revision\":\"0\"}],\"success\":[{\"request_put\":{\"key\":\"$k4\",\"value\":\"$own\"}},{\"request_put\":{\"key\":\"$ok\",\"value\":\"\"}},{\"request_put\":{\"key\":\"$cur\",\"value\":\"$(b 10.0.0.5)\"}}],\"failure\":[{\"request_range\":{\"key\":\"$k4\"}}]}" txn-reserve-ok
post kv/txn "{\"compare\":[{\"key\":\"$k4\",\"target\":\"CREATE\",\"create_revision\":\"0\"}],\"success\":[{\"request_put\":{\"key\":\"$k4\",\"value\":\"$own\"}}],\"failure\":[{\"request_range\":{\"key\":\"$k4\"}}]}" txn-reserve-lost
post kv/put "{\"key\":\"$k6\",\"value\":\"$own\"}" put
post kv/range "{\"key\":\"$(b /netns-ipam/n/ips/)\",\"range_end\":\"$(b /netns-ipam/n/ips0)\",\"limit\":\"1\"}" range-page-more
post kv/range "{\"key\":\"$(b /netns-ipam/n/ips/)\",\"range_end\":\"$(b /netns-ipam/n/ips0)\"}" range-all
post kv/range "{\"key\":\"$(b /netns-ipam/n/owners/c1/eth0/)\",\"range_end\":\"$(b /netns-ipam/n/owners/c1/eth00)\",\"keys_only\":true}" range-keys-only
post kv/range "{\"key\":\"$cur\",\"serializable\":true,\"limit\":\"1\"}" range-cursor
post kv/txn "{\"compare\":[{\"key\":\"$k4\",\"target\":\"MOD\",\"mod_revision\":\"99\"}],\"success\":[{\"request_delete_range\":{\"key\":\"$k4\"}}],\"failure\":[{\"request_range\":{\"key\":\"$k4\"}}]}" txn-release-lost
post kv/txn "{\"compare\":[{\"key\":\"$k4\",\"target\":\"MOD\",\"mod_revision\":\"2\"}],\"success\":[{\"request_delete_range\":{\"key\":\"$k4\"}},{\"request_delete_range\":{\"key\":\"$ok\"}}],\"failure\":[{\"request_range\":{\"key\":\"$k4\"}}]}" txn-release
post kv/range "{\"key\":\"***\"}" err-bad-base64
post kv/range "{\"key\":\"$k4\",\"limit\":\"x\"}" err-bad-int
post kv/txn "{\"compare\":[{\"key\":\"\"}]}" err-empty-key
post maintenance/status "{}" status
' "$out"
