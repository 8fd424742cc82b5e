#!/bin/sh
# Build make-net-go (examples/go/make-net-go), the Go make-net, into
# <target>/go/make-net-go, offline, from any directory:
#
#   examples/go/build.sh
#
# <target> is $CARGO_TARGET_DIR if set, else the repository's target/.
#
# 1. The library: `cargo build --release -p netns-ffi` (libnetns.a and
#    libnetns.so in <target>/release); or, when NETNS_LIBNETNS_A names a
#    libnetns.a already built (the tests pass the one cargo built for their
#    run, saving a release build of the workspace), that archive.
# 2. Go in GOPATH mode (GO111MODULE=off, GOPROXY=off, GOTOOLCHAIN=local, no
#    GOFLAGS of the caller's), as the tests build their libcni driver: a
#    GOPATH made in <target>/go/gopath of symlinks, to Debian's libcni source
#    (golang-github-appc-cni-dev: src/github.com/containernetworking/cni) and
#    to examples/go (src/example.invalid/netns, the netns package); Go's
#    caches in <target>/go too.
# 3. libnetns linked statically, so the plugin needs no LD_LIBRARY_PATH and
#    no libnetns.so at run time: <target>/go/lib holds libnetns.a alone (a
#    symlink), and CGO_LDFLAGS puts that directory first, so the package's
#    `-lnetns` finds the archive there before any libnetns.so (the linker
#    takes the first directory that has either, and prefers .so only within
#    one directory); the system libraries a Rust staticlib needs follow
#    (what `cargo rustc -p netns-ffi --crate-type staticlib -- --print
#    native-static-libs` prints). CGO_CFLAGS names include/ for netns.h: the
#    package's own -I is relative to its directory as Go sees it, the
#    symlink in the GOPATH.
#
# The sources must be gofmt-formatted and pass `go vet` and their unit tests
# (the config checks, no privileges needed): all checked here, before the build.
#
# Idempotent: a second run rebuilds only what changed (cargo's and Go's
# caches), and the binary is replaced by a rename, so a running test never
# executes a half-written file.
set -eu

here=$(cd "$(dirname "$0")" && pwd -P)
root=$(cd "$here/../.." && pwd -P)
target=${CARGO_TARGET_DIR:-$root/target}
case $target in
/*) ;;
*) target=$(pwd -P)/$target ;;
esac
libcni=/usr/share/gocode/src/github.com/containernetworking/cni

command -v cargo >/dev/null || { echo "build.sh: cargo is not in PATH" >&2; exit 1; }
command -v go >/dev/null || {
	echo "build.sh: go is not installed: install the Debian package golang-go" >&2
	exit 1
}
[ -f "$libcni/pkg/skel/skel.go" ] || {
	echo "build.sh: $libcni is missing: install the Debian package golang-github-appc-cni-dev" >&2
	exit 1
}

if [ -n "${NETNS_LIBNETNS_A:-}" ]; then
	archive=$NETNS_LIBNETNS_A
else
	(cd "$root" && CARGO_TARGET_DIR=$target cargo build --release -p netns-ffi)
	archive=$target/release/libnetns.a
fi
[ -f "$archive" ] || { echo "build.sh: $archive was not built" >&2; exit 1; }

out=$target/go
gopath=$out/gopath
mkdir -p "$out/lib" "$gopath/src/github.com/containernetworking" "$gopath/src/example.invalid"
ln -sfn "$archive" "$out/lib/libnetns.a"
ln -sfn "$libcni" "$gopath/src/github.com/containernetworking/cni"
ln -sfn "$here" "$gopath/src/example.invalid/netns"

cd "$here/make-net-go"
gofmt=$(GOTOOLCHAIN=local go env GOROOT)/bin/gofmt
unformatted=$("$gofmt" -l .)
[ -z "$unformatted" ] || { echo "build.sh: not gofmt-formatted: $unformatted" >&2; exit 1; }

tmp=$out/.make-net-go.$$
trap 'rm -f "$tmp"' EXIT
gocmd() {
	env -u GOFLAGS -u GOENV \
		HOME="$out" \
		GOPATH="$gopath" \
		GOCACHE="$out/cache" \
		GO111MODULE=off \
		GOPROXY=off \
		GOTOOLCHAIN=local \
		GOFLAGS= \
		CGO_ENABLED=1 \
		CGO_CFLAGS="-g -O2 -I$root/include" \
		CGO_LDFLAGS="-L$out/lib -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc" \
		go "$@"
}
gocmd vet .
gocmd test .
gocmd build -trimpath -o "$tmp" .
mv -f "$tmp" "$out/make-net-go"
trap - EXIT
echo "$out/make-net-go"
