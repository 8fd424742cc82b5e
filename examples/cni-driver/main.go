// Command cni-driver runs a CNI network configuration list the way container
// runtimes do, through libcni (v1.1.2, the one Debian 12's podman vendors).
// It is the test harness's stand-in for a runtime: examples/tests/cni_common
// builds it and drives plugins with it.
//
//	cni-driver -cmd add|check|del|gc|status|validate -conflist FILE -path DIR1:DIR2
//	    [-netns PATH] [-id CONTAINERID] [-ifname IFNAME] [-args 'K=V;K=V']
//	    [-cap JSON-OBJECT] [-cachedir DIR] [-valid JSON-LIST]
//
// add, check, del and validate are libcni's AddNetworkList, CheckNetworkList,
// DelNetworkList and ValidateNetworkList. libcni 1.1.2 predates GC and
// STATUS (spec 1.1): gc and status do what libcni >= 1.2's GCNetworkList and
// GetStatusNetworkList do, step for step (see gc and status below). Without
// -valid, GC gets no valid list at all (libcni's nil GCArgs); -valid '[]'
// declares every attachment stale.
//
// On success add prints the result as libcni returns it; the other commands
// print nothing. On failure it prints {"code":N,"msg":"...","details":"..."}
// for a plugin's error (-1 as the code for any other error) on stdout, the
// whole error text on stderr, and exits 1.
//
//	cni-driver -serve
//
// is the driver as a long-running runtime holds libcni (containerd and
// CRI-O call it inside their daemon): one command per line on stdin, a JSON
// object with the flags' names as keys ({"cmd":"add","conflist":...}), and
// one JSON line back per command on stdout: {"ns":N,"out":"...","error":E}
// with N the nanoseconds the command took inside this process (reading the
// conflist and the libcni call), out what the command prints and E the
// failure object above, or null. It exits at the end of stdin.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
)

// attachment is libcni 1.2's types.GCAttachment.
type attachment struct {
	ContainerID string `json:"containerID"`
	IfName      string `json:"ifname"`
}

// failure is what the driver prints on stdout when a command fails.
type failure struct {
	Code    int     `json:"code"`
	Msg     string  `json:"msg"`
	Details *string `json:"details,omitempty"`
}

func main() {
	cmd := flag.String("cmd", "", "add, check, del, gc, status or validate")
	conflist := flag.String("conflist", "", "the network configuration list file")
	path := flag.String("path", "", "plugin directories, separated by ':'")
	netns := flag.String("netns", "", "CNI_NETNS")
	id := flag.String("id", "", "CNI_CONTAINERID")
	ifname := flag.String("ifname", "", "CNI_IFNAME")
	args := flag.String("args", "", "CNI_ARGS as 'K=V;K=V'")
	capArgs := flag.String("cap", "", "capability arguments, a JSON object")
	cacheDir := flag.String("cachedir", "", "libcni's cache directory (default /var/lib/cni)")
	valid := flag.String("valid", "", "gc: the valid attachments, a JSON list of {containerID, ifname}")
	serveMode := flag.Bool("serve", false, "read commands from stdin, one JSON object per line")
	flag.Parse()

	if *serveMode {
		if err := serve(); err != nil {
			fmt.Fprintln(os.Stderr, "cni-driver:", err)
			os.Exit(1)
		}
		return
	}
	out, err := run(*cmd, *conflist, *path, *netns, *id, *ifname, *args, *capArgs, *cacheDir, *valid)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cni-driver:", err)
		b, _ := json.Marshal(failureOf(err))
		fmt.Println(string(b))
		os.Exit(1)
	}
	if out != "" {
		fmt.Println(out)
	}
}

// failureOf is the failure object of err: a plugin's code, message and
// details, or code -1 and the whole text.
func failureOf(err error) failure {
	var perr *types.Error
	if errors.As(err, &perr) {
		return failure{Code: int(perr.Code), Msg: perr.Msg, Details: &perr.Details}
	}
	return failure{Code: -1, Msg: err.Error()}
}

// serve runs -serve: commands from stdin, one reply line each.
func serve() error {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var c struct {
			Cmd, Conflist, Path, Netns, ID, Ifname, Args, Cap, Cachedir, Valid string
		}
		if err := json.Unmarshal(in.Bytes(), &c); err != nil {
			return fmt.Errorf("-serve: a line is not a command object: %w", err)
		}
		var reply struct {
			Ns    int64    `json:"ns"`
			Out   string   `json:"out"`
			Error *failure `json:"error"`
		}
		start := time.Now()
		res, err := run(c.Cmd, c.Conflist, c.Path, c.Netns, c.ID, c.Ifname, c.Args, c.Cap, c.Cachedir, c.Valid)
		reply.Ns = time.Since(start).Nanoseconds()
		reply.Out = res
		if err != nil {
			f := failureOf(err)
			reply.Error = &f
		}
		if err := out.Encode(&reply); err != nil {
			return err
		}
	}
	return in.Err()
}

// run runs one command and returns what it prints on success.
func run(cmd, conflist, path, netns, id, ifname, args, capArgs, cacheDir, valid string) (string, error) {
	list, err := libcni.ConfListFromFile(conflist)
	if err != nil {
		return "", err
	}
	paths := filepath.SplitList(path)
	cni := libcni.NewCNIConfigWithCacheDir(paths, cacheDir, nil)
	rt := &libcni.RuntimeConf{ContainerID: id, NetNS: netns, IfName: ifname}
	if rt.Args, err = parseArgs(args); err != nil {
		return "", err
	}
	if capArgs != "" {
		if err := json.Unmarshal([]byte(capArgs), &rt.CapabilityArgs); err != nil {
			return "", fmt.Errorf("-cap: %w", err)
		}
	}
	ctx := context.Background()
	switch cmd {
	case "add":
		result, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			return "", err
		}
		b, err := json.Marshal(result)
		if err != nil {
			return "", err
		}
		return string(b), nil
	case "check":
		return "", cni.CheckNetworkList(ctx, list, rt)
	case "del":
		return "", cni.DelNetworkList(ctx, list, rt)
	case "validate":
		_, err := cni.ValidateNetworkList(ctx, list)
		return "", err
	case "gc":
		var attachments []attachment
		if valid != "" {
			attachments = []attachment{}
			if err := json.Unmarshal([]byte(valid), &attachments); err != nil {
				return "", fmt.Errorf("-valid: %w", err)
			}
		}
		return "", gc(ctx, cni, list, cacheDir, attachments, valid != "")
	case "status":
		return "", status(ctx, cni, list)
	}
	return "", fmt.Errorf("-cmd %q: not one of add, check, del, gc, status, validate", cmd)
}

// parseArgs splits 'K=V;K=V' into libcni's RuntimeConf.Args.
func parseArgs(s string) ([][2]string, error) {
	var out [][2]string
	if s == "" {
		return out, nil
	}
	for _, kv := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("-args: %q is not K=V", kv)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// gc is libcni 1.2's GCNetworkList: nothing if the list says disableGC; DEL
// for every attachment of this network in the cache that is not valid; then,
// if the list's version is at least 1.1.0, GC to every plugin with the valid
// attachments injected (under both names: cni#1101). Errors are collected,
// not fatal. As in libcni, a cache without results/ ends GC silently, before
// any plugin is called.
func gc(ctx context.Context, cni *libcni.CNIConfig, list *libcni.NetworkConfigList, cacheDir string, valid []attachment, haveValid bool) error {
	var opts struct {
		DisableGC bool `json:"disableGC"`
	}
	if err := json.Unmarshal(list.Bytes, &opts); err != nil {
		return err
	}
	if opts.DisableGC {
		return nil
	}
	if cacheDir == "" {
		cacheDir = libcni.CacheDir
	}
	dir := filepath.Join(cacheDir, "results")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	isValid := map[attachment]bool{}
	for _, a := range valid {
		isValid[a] = true
	}
	var errs []error
	for _, e := range entries {
		// libcni's cachedInfo; 1.1.2 does not cache the netns, so the DEL
		// has none (it is optional on DEL).
		var cached struct {
			Kind           string                 `json:"kind"`
			ContainerID    string                 `json:"containerId"`
			IfName         string                 `json:"ifName"`
			NetworkName    string                 `json:"networkName"`
			NetNS          string                 `json:"netns"`
			CniArgs        [][2]string            `json:"cniArgs"`
			CapabilityArgs map[string]interface{} `json:"capabilityArgs"`
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil || json.Unmarshal(b, &cached) != nil || cached.Kind != libcni.CNICacheV1 ||
			cached.IfName == "" || cached.NetworkName != list.Name {
			continue
		}
		if isValid[attachment{cached.ContainerID, cached.IfName}] {
			continue
		}
		rt := &libcni.RuntimeConf{ContainerID: cached.ContainerID, NetNS: cached.NetNS, IfName: cached.IfName,
			Args: cached.CniArgs, CapabilityArgs: cached.CapabilityArgs}
		if err := cni.DelNetworkList(ctx, list, rt); err != nil {
			errs = append(errs, fmt.Errorf("failed to delete stale attachment %s %s: %w", rt.ContainerID, rt.IfName, err))
		}
	}
	if gt, _ := version.GreaterThanOrEqualTo(list.CNIVersion, "1.1.0"); gt {
		inject := map[string]interface{}{"name": list.Name, "cniVersion": list.CNIVersion}
		if haveValid {
			inject["cni.dev/valid-attachments"] = valid
			inject["cni.dev/attachments"] = valid
		}
		for _, plugin := range list.Plugins {
			if err := execPlugin(ctx, cni, plugin, inject, "GC"); err != nil {
				errs = append(errs, fmt.Errorf("failed to GC plugin %s: %w", plugin.Network.Type, err))
			}
		}
	}
	return join(errs)
}

// status is libcni 1.2's GetStatusNetworkList: nothing below version 1.1.0,
// else STATUS to every plugin, stopping at the first error.
func status(ctx context.Context, cni *libcni.CNIConfig, list *libcni.NetworkConfigList) error {
	if gt, _ := version.GreaterThanOrEqualTo(list.CNIVersion, "1.1.0"); !gt {
		return nil
	}
	inject := map[string]interface{}{"name": list.Name, "cniVersion": list.CNIVersion}
	for _, plugin := range list.Plugins {
		if err := execPlugin(ctx, cni, plugin, inject, "STATUS"); err != nil {
			return err
		}
	}
	return nil
}

// execPlugin runs one plugin with only CNI_COMMAND and CNI_PATH set, and
// its configuration with inject added, as libcni 1.2's gcNetwork and
// getStatusNetwork do.
func execPlugin(ctx context.Context, cni *libcni.CNIConfig, plugin *libcni.NetworkConfig, inject map[string]interface{}, command string) error {
	conf, err := libcni.InjectConf(plugin, inject)
	if err != nil {
		return err
	}
	exe, err := invoke.FindInPath(plugin.Network.Type, cni.Path)
	if err != nil {
		return err
	}
	args := &invoke.Args{Command: command, Path: strings.Join(cni.Path, string(os.PathListSeparator))}
	return invoke.ExecPluginWithoutResult(ctx, exe, conf.Bytes, args, nil)
}

// join is errors.Join (Go 1.20) for Go 1.19: the first error stays
// reachable with errors.As, the text lists them all.
func join(errs []error) error {
	if len(errs) <= 1 {
		if len(errs) == 1 {
			return errs[0]
		}
		return nil
	}
	msgs := make([]string, 0, len(errs)-1)
	for _, e := range errs[1:] {
		msgs = append(msgs, e.Error())
	}
	return fmt.Errorf("%w; %s", errs[0], strings.Join(msgs, "; "))
}
