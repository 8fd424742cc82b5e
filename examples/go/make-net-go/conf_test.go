package main

// The config checks, as the Rust make-net's unit tests have them
// (examples/make-net/conf.rs, run by tests/make_net_conf.rs). No kernel is
// involved: build.sh runs these before it builds the plugin.

import (
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
)

func k8s(t *testing.T, raw string) *k8sArgs {
	t.Helper()
	var a k8sArgs
	if err := types.LoadArgs(raw, &a); err != nil {
		t.Fatalf("CNI_ARGS %q: %v", raw, err)
	}
	return &a
}

func TestNetidTemplates(t *testing.T) {
	a := k8s(t, "IgnoreUnknown=true;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=router;K8S_POD_UID=u-1")
	for template, want := range map[string]string{
		"1234567":                             "1234567",
		"{K8S_POD_NAMESPACE}-{K8S_POD_NAME}":  "ns1-router",
		"bgp-{K8S_POD_UID}":                   "bgp-u-1",
		"{K8S_POD_NAME}{K8S_POD_NAME}-double": "routerrouter-double",
	} {
		got, err := expandNetid(template, a)
		if err != nil || got != want {
			t.Errorf("expandNetid(%q) = %q, %v; want %q", template, got, err, want)
		}
	}
	for _, bad := range []string{"{K8S_POD_INFRA_CONTAINER_ID}", "{FOO}", "x{K8S_POD_NAME", "x}"} {
		if got, err := expandNetid(bad, a); err == nil {
			t.Errorf("expandNetid(%q) = %q, want an error", bad, got)
		}
	}
	_, err := expandNetid("{K8S_POD_UID}", k8s(t, ""))
	want := `netid "{K8S_POD_UID}": CNI_ARGS has no K8S_POD_UID to fill {K8S_POD_UID} with`
	if e, ok := err.(*types.Error); !ok || e.Msg != want || e.Code != types.ErrInvalidNetworkConfig {
		t.Errorf("got %#v, want code 7 %q", err, want)
	}
}

func TestPeerNamesFit(t *testing.T) {
	if got := derivedPeerName("1234567"); got != "v1234567" {
		t.Errorf("got %q", got)
	}
	if got := derivedPeerName("12345678901234"); got != "v12345678901234" {
		t.Errorf("got %q", got)
	}
	long := derivedPeerName("default-router-0d9c0a86-3f5e-4bde")
	if len(long) != 15 || !strings.HasPrefix(long, "mn") {
		t.Errorf("got %q", long)
	}
	if long == derivedPeerName("default-router-0d9c0a86-3f5e-4bdf") {
		t.Errorf("two netids, one peer name %q", long)
	}
	for _, odd := range []string{"cust:1", "r%d"} {
		p := derivedPeerName(odd)
		if !strings.HasPrefix(p, "mn") || len(p) != 15 {
			t.Errorf("%q: %q", odd, p)
		}
		if err := checkIfname("peerName", p); err != nil {
			t.Errorf("%q: %v", p, err)
		}
	}
	if checkIfname("ifName", "eth%d") == nil {
		t.Errorf("eth%%d taken")
	}
}

func TestNetidsThatAreNotNames(t *testing.T) {
	for _, bad := range []string{"../x", "a/b", "..", ".", "a b", "tab\there", "é", ".lock", ".x", "", "nul\x00"} {
		if checkNetid(bad) == nil {
			t.Errorf("%q taken", bad)
		}
	}
	if err := checkNetid(strings.Repeat("x", 255)); err != nil {
		t.Error(err)
	}
	if checkNetid(strings.Repeat("x", 256)) == nil {
		t.Error("256 bytes taken")
	}
	err := checkNetid("é")
	if want := `invalid netid "é": 'é' is not a printable ASCII character`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

func TestAddressesAreReadAsTheRustPluginReadsThem(t *testing.T) {
	for s, want := range map[string]string{
		"10.0.0.5/24": "10.0.0.5/24",
		"fd81::5/64":  "fd81::5/64",
		"0.0.0.0/0":   "0.0.0.0/0",
		"::/128":      "::/128",
	} {
		p, err := parsePrefix(s)
		if err != nil || p.String() != want {
			t.Errorf("parsePrefix(%q) = %v, %v; want %s", s, p, err, want)
		}
	}
	for _, bad := range []string{"10.0.0.300/24", "10.0.0.1", "10.0.0.1/33", "fd81::5/129", "fe80::1%eth0/64", "10.0.0.1/", "10.0.0.1/+8", "x/8"} {
		if _, err := parsePrefix(bad); err == nil || err.Error() != "invalid IP address syntax" {
			t.Errorf("parsePrefix(%q): %v", bad, err)
		}
	}
}

func TestQuoteIsRustsDebug(t *testing.T) {
	for s, want := range map[string]string{
		`a"b\c`:  `"a\"b\\c"`,
		"t\tn\n": `"t\tn\n"`,
		"\x00":   `"\0"`,
		"\x01é":  `"\u{1}é"`,
	} {
		if got := quote(s); got != want {
			t.Errorf("quote(%q) = %s, want %s", s, got, want)
		}
	}
}
