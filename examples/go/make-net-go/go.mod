// make-net-go is a module of its own so that the module of the netns Go
// package (examples/go, example.invalid/netns) does not include it: `go vet
// ./...` and `go test ./...` there never see it. It is built in GOPATH mode,
// offline, against Debian's libcni source: examples/go/build.sh.
module example.invalid/make-net-go

go 1.19
