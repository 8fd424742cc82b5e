package main

// Spec 1.1.0, which libcni 1.1.2's types do not know: a 1.1.0 config's
// prevResult is read, and its result written, as 1.0.0's under 1.1.0 (the
// driver of the tests, libcni 1.1.2, cannot read a 1.1.0 result, so this is
// checked here).

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
)

const prev11 = `{"cniVersion": "1.1.0", "name": "t", "type": "make-net", "netid": "n",
	"prevResult": {"cniVersion": "1.1.0",
		"interfaces": [{"name": "eth0", "mac": "02:00:00:00:00:01", "sandbox": "/run/netns/p"}],
		"ips": [{"address": "10.1.0.2/24", "gateway": "10.1.0.1", "interface": 0}],
		"routes": [{"dst": "0.0.0.0/0"}]}}`

func TestSpec110ResultsAreReadAndWritten(t *testing.T) {
	nc, v, err := netConf([]byte(prev11))
	if err != nil || v != "1.1.0" {
		t.Fatalf("netConf: %v, %q", err, v)
	}
	prev, err := prevResult(nc, v)
	if err != nil {
		t.Fatal(err)
	}
	if len(prev.Interfaces) != 1 || len(prev.IPs) != 1 || prev.IPs[0].Address.String() != "10.1.0.2/24" {
		t.Fatalf("prevResult read as %+v", prev)
	}
	var out bytes.Buffer
	if err := printResult(&out, prev, v); err != nil {
		t.Fatal(err)
	}
	var back map[string]interface{}
	if err := json.Unmarshal(out.Bytes(), &back); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if back["cniVersion"] != "1.1.0" || len(back["ips"].([]interface{})) != 1 {
		t.Errorf("written as %s", out.String())
	}
	// The IPAM plugin gets the config as 1.0.0, nothing else changed.
	stdin, err := ipamStdin([]byte(prev11), v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]interface{}
	if err := json.Unmarshal(stdin, &m); err != nil || m["cniVersion"] != "1.0.0" || m["netid"] != "n" {
		t.Errorf("IPAM's config: %s (%v)", stdin, err)
	}
	same, err := ipamStdin([]byte(`{"cniVersion": "0.4.0"}`), "0.4.0")
	if err != nil || string(same) != `{"cniVersion": "0.4.0"}` {
		t.Errorf("a 0.4.0 config changed: %s (%v)", same, err)
	}
}

func TestGCInputIsValidatedAsSkelValidatesIt(t *testing.T) {
	t.Setenv("CNI_PATH", "/nonexistent")
	for stdin, want := range map[string]*types.Error{
		`{"cniVersion": "1.0.0", "name": "t"}`: {Code: 1, Msg: "config version does not allow GC"},
		`{"cniVersion": "1.1.0"}`:              {Code: 7, Msg: "missing network name"},
		`{"cniVersion": "1.1.0", "name": "a b"}`: {Code: 7, Msg: "invalid characters found in network name",
			Details: "a b"},
		`{"cniVersion": "9.9.9", "name": "t"}`: {Code: 1, Msg: "incompatible CNI versions",
			Details: `config is "9.9.9", plugin supports ["0.1.0" "0.2.0" "0.3.0" "0.3.1" "0.4.0" "1.0.0" "1.1.0"]`},
		`{`: {Code: 6, Msg: "error unmarshall network config: unexpected end of JSON input"},
	} {
		_, err := gcOrStatusArgs("GC", bytes.NewReader([]byte(stdin)))
		e, ok := err.(*types.Error)
		if !ok || *e != *want {
			t.Errorf("%s: got %#v, want %#v", stdin, err, want)
		}
	}
	if _, err := gcOrStatusArgs("STATUS", bytes.NewReader([]byte(`{"cniVersion": "1.1.0", "name": "t"}`))); err != nil {
		t.Error(err)
	}
	t.Setenv("CNI_PATH", "")
	_, err := gcOrStatusArgs("GC", bytes.NewReader([]byte(`{"cniVersion": "1.1.0", "name": "t"}`)))
	if e, ok := err.(*types.Error); !ok || e.Code != 4 || e.Msg != "required env variables [CNI_PATH] missing" {
		t.Errorf("without CNI_PATH: %#v", err)
	}
	valid, err := validAttachments([]byte(`{"cni.dev/valid-attachments": [{"containerID": "c1", "ifname": "eth0"}, null]}`))
	if err != nil || len(valid) != 1 || valid[0] != (attachment{"c1", "eth0"}) {
		t.Errorf("valid attachments: %v, %v", valid, err)
	}
}
