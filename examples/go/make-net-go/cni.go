package main

// The CNI side that libcni 1.1.2 leaves to the plugin: errors worded as the
// Rust make-net words them, results and prevResult of spec 1.1.0 (which
// 1.1.2's types do not know: a 1.1.0 result is a 1.0.0 one for what
// make-net reports), IPAM delegation with pkg/invoke, and the checks of
// GC and STATUS, which 1.1.2's skel lacks.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unicode"

	"example.invalid/netns"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/types/create"
	"github.com/containernetworking/cni/pkg/utils"
	"github.com/containernetworking/cni/pkg/version"
)

// specVersions are the spec versions make-net speaks (VERSION's
// supportedVersions): libcni 1.1.2's, and 1.1.0 (GC, STATUS).
var specVersions = []string{"0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}

// resultVersion is the version in which a result of spec version v is read
// and made: 1.1.0's result is 1.0.0's (its new keys are none make-net
// reports), which libcni 1.1.2 knows.
func resultVersion(v string) string {
	if v == "1.1.0" {
		return "1.0.0"
	}
	return v
}

// internal is code 999 (what the Rust make-net's Error::internal is).
func internal(format string, a ...interface{}) *types.Error {
	return types.NewError(types.ErrInternal, fmt.Sprintf(format, a...), "")
}

// libErr is an error of the netns library as the Rust plugins report a
// netns-core error: its text, code 11 (try again later) for EAGAIN, EBUSY
// and ENOBUFS, else 999.
func libErr(err error) *types.Error {
	var te *types.Error
	if errors.As(err, &te) {
		return te
	}
	code := types.ErrInternal
	var e *netns.Error
	if errors.As(err, &e) {
		switch e.Errno() {
		case syscall.EAGAIN, syscall.EBUSY, syscall.ENOBUFS:
			code = types.ErrTryAgainLater
		}
	}
	return types.NewError(code, err.Error(), "")
}

// wrapf is code 999 with the message "FORMAT: <err>", as the Rust make-net's
// fail(format!("...: {e}")).
func wrapf(err error, format string, a ...interface{}) *types.Error {
	return internal("%s: %s", fmt.Sprintf(format, a...), err.Error())
}

// isNotFound says whether a lookup failed because the object is not there.
func isNotFound(err error) bool {
	return errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.ENOENT)
}

// quote is Rust's {:?} of a string: "..." with \" \\ \t \r \n \0 escaped,
// other control characters as \u{N}.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		b.WriteString(escapeRune(c, '"'))
	}
	b.WriteByte('"')
	return b.String()
}

// quoteRune is Rust's {:?} of a char.
func quoteRune(c rune) string {
	return "'" + escapeRune(c, '\'') + "'"
}

func escapeRune(c, q rune) string {
	switch c {
	case q, '\\':
		return `\` + string(c)
	case '\t':
		return `\t`
	case '\r':
		return `\r`
	case '\n':
		return `\n`
	case 0:
		return `\0`
	}
	if !unicode.IsPrint(c) && c != ' ' {
		return fmt.Sprintf(`\u{%x}`, c)
	}
	return string(c)
}

// osMessage is an OS error as Rust's io::Error shows it: "Permission denied
// (os error 13)".
func osMessage(err error) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return err.Error()
	}
	msg := errno.Error()
	if msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
	}
	return fmt.Sprintf("%s (os error %d)", msg, int(errno))
}

// netConf is the shared keys of the config, with the version in force
// (cniVersion, or 0.1.0).
func netConf(stdin []byte) (*types.NetConf, string, error) {
	nc := &types.NetConf{}
	if err := json.Unmarshal(stdin, nc); err != nil {
		return nil, "", types.NewError(types.ErrDecodingFailure, fmt.Sprintf("error unmarshall network config: %v", err), "")
	}
	v := nc.CNIVersion
	if v == "" {
		v = "0.1.0"
	}
	return nc, v, nil
}

// prevResult is the config's prevResult (nil without one), read as the
// config's version and converted to 1.0.0.
func prevResult(nc *types.NetConf, v string) (*current.Result, error) {
	if nc.RawPrevResult == nil {
		return nil, nil
	}
	fail := func(err error) error {
		return internal("could not parse prevResult: %v", err)
	}
	raw := nc.RawPrevResult
	if rv := resultVersion(v); rv != v {
		// A 1.1.0 result, read as the 1.0.0 one it is for make-net.
		raw = make(map[string]interface{}, len(nc.RawPrevResult))
		for k, x := range nc.RawPrevResult {
			raw[k] = x
		}
		raw["cniVersion"] = rv
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, fail(err)
	}
	r, err := create.Create(resultVersion(v), b)
	if err != nil {
		return nil, fail(err)
	}
	cur, err := current.NewResultFromResult(r)
	if err != nil {
		return nil, fail(err)
	}
	return cur, nil
}

// printResult writes r in spec version v.
func printResult(w io.Writer, r *current.Result, v string) error {
	out, err := r.GetAsVersion(resultVersion(v))
	if err != nil {
		return err
	}
	if v == resultVersion(v) {
		return out.PrintTo(w)
	}
	// 1.1.0: the 1.0.0 result under its version.
	c, ok := out.(*current.Result)
	if !ok {
		return fmt.Errorf("cannot convert the result to %s", v)
	}
	cp := *c
	cp.CNIVersion = v
	return cp.PrintTo(w)
}

// ipamStdin is the config as the IPAM plugin gets it for ADD, DEL and
// CHECK: unchanged, but for a 1.1.0 config, given as 1.0.0 (the same
// commands, and the version whose result libcni 1.1.2 reads; IPAM plugins
// that predate 1.1.0, as Debian's host-local, refuse 1.1.0).
func ipamStdin(stdin []byte, v string) ([]byte, error) {
	if resultVersion(v) == v {
		return stdin, nil
	}
	return withVersion(stdin, resultVersion(v))
}

// withVersion is the config with cniVersion set to v.
func withVersion(stdin []byte, v string) ([]byte, error) {
	var m map[string]interface{}
	if err := json.Unmarshal(stdin, &m); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, fmt.Sprintf("error unmarshall network config: %v", err), "")
	}
	m["cniVersion"] = v
	return json.Marshal(m)
}

// ipamAdd is the IPAM plugin's ADD (invoke.DelegateAdd), its result in
// 1.0.0.
func ipamAdd(args *skel.CmdArgs, ipamType, v string) (*current.Result, error) {
	stdin, err := ipamStdin(args.StdinData, v)
	if err != nil {
		return nil, err
	}
	r, err := invoke.DelegateAdd(context.TODO(), ipamType, stdin, nil)
	if err != nil {
		return nil, err
	}
	cur, err := current.NewResultFromResult(r)
	if err != nil {
		return nil, internal("%v", err)
	}
	return cur, nil
}

// ipamDel is the IPAM plugin's DEL (invoke.DelegateDel).
func ipamDel(args *skel.CmdArgs, ipamType, v string) error {
	stdin, err := ipamStdin(args.StdinData, v)
	if err != nil {
		return err
	}
	return invoke.DelegateDel(context.TODO(), ipamType, stdin, nil)
}

// ipamCheck is the IPAM plugin's CHECK (invoke.DelegateCheck).
func ipamCheck(args *skel.CmdArgs, ipamType, v string) error {
	stdin, err := ipamStdin(args.StdinData, v)
	if err != nil {
		return err
	}
	return invoke.DelegateCheck(context.TODO(), ipamType, stdin, nil)
}

// ipamPlugin is the IPAM plugin's path in CNI_PATH, and whether it speaks
// spec version v (by its VERSION).
func ipamPlugin(ipamType, path, v string) (string, bool, error) {
	exe, err := invoke.FindInPath(ipamType, filepath.SplitList(path))
	if err != nil {
		return "", false, err
	}
	info, err := invoke.GetVersionInfo(context.TODO(), exe, nil)
	if err != nil {
		return "", false, err
	}
	for _, s := range info.SupportedVersions() {
		if s == v {
			return exe, true, nil
		}
	}
	return exe, false, nil
}

// ipamExec runs the IPAM plugin at exe for command with stdin and the
// environment given, as pkg/invoke runs a delegate.
func ipamExec(exe, command string, stdin []byte, args *invoke.Args) error {
	args.Command = command
	return invoke.ExecPluginWithoutResult(context.TODO(), exe, stdin, args, nil)
}

// ownNetns says whether path is the namespace the plugin runs in (skel's
// CheckNetNS of later libcni; a path that cannot be read is not).
func ownNetns(path string) bool {
	var theirs, ours syscall.Stat_t
	if syscall.Stat(path, &theirs) != nil || syscall.Stat("/proc/self/ns/net", &ours) != nil {
		return false
	}
	return theirs.Dev == ours.Dev && theirs.Ino == ours.Ino
}

// gcArgs is what GC and STATUS get (libcni 1.1.2's skel predates them): the
// environment and config validated as the Rust skel validates them (and as
// libcni >= 1.2's skel does), or the error to print.
type gcArgs struct {
	command string
	path    string
	stdin   []byte
	conf    *types.NetConf
	version string
}

// gcOrStatusArgs reads and validates GC's or STATUS's input.
func gcOrStatusArgs(command string, stdin io.Reader) (*gcArgs, error) {
	path := os.Getenv("CNI_PATH")
	if path == "" {
		return nil, types.NewError(types.ErrInvalidEnvironmentVariables, "required env variables [CNI_PATH] missing", "")
	}
	data, err := io.ReadAll(stdin)
	if err != nil {
		return nil, types.NewError(types.ErrIOFailure, fmt.Sprintf("error reading from stdin: %v", err), "")
	}
	nc, v, err := netConf(data)
	if err != nil {
		return nil, err
	}
	if nc.Name == "" {
		return nil, types.NewError(types.ErrInvalidNetworkConfig, "missing network name", "")
	}
	if e := utils.ValidateNetworkName(nc.Name); e != nil {
		return nil, e
	}
	ge, err := version.GreaterThanOrEqualTo(v, "1.1.0")
	if err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, err.Error(), "")
	}
	if !ge {
		return nil, types.NewError(types.ErrIncompatibleCNIVersion, "config version does not allow "+command, "")
	}
	supported := false
	for _, s := range specVersions {
		if s == v {
			supported = true
		}
	}
	if !supported {
		quoted := make([]string, len(specVersions))
		for i, s := range specVersions {
			quoted[i] = fmt.Sprintf("%q", s)
		}
		return nil, types.NewError(types.ErrIncompatibleCNIVersion, "incompatible CNI versions",
			fmt.Sprintf("config is %q, plugin supports [%s]", v, strings.Join(quoted, " ")))
	}
	return &gcArgs{command: command, path: path, stdin: data, conf: nc, version: v}, nil
}

// attachment is one entry of GC's cni.dev/valid-attachments.
type attachment struct {
	ContainerID string `json:"containerID"`
	IfName      string `json:"ifname"`
}

// validAttachments is GC's cni.dev/valid-attachments.
func validAttachments(stdin []byte) ([]attachment, error) {
	var gc struct {
		Valid []*attachment `json:"cni.dev/valid-attachments"`
	}
	if err := json.Unmarshal(stdin, &gc); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, fmt.Sprintf("error unmarshall network config: %v", err), "")
	}
	var out []attachment
	for _, a := range gc.Valid {
		if a != nil {
			out = append(out, *a)
		}
	}
	return out, nil
}
