package main

import (
	"errors"
	"os/exec"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

func TestParseArgsTakesEngineAddressAfterFlags(t *testing.T) {
	o := parseArgs([]string{"-logtostderr", "-v=9", "-tracing", "http://x", "--root=/p", "127.0.0.1:5"})
	if o.engineAddress != "127.0.0.1:5" || o.tracing != "http://x" || o.root != "/p" {
		t.Fatalf("unexpected %+v", o)
	}
}

func TestParseArgsBareVDoesNotSwallowAddress(t *testing.T) {
	if o := parseArgs([]string{"-v", "127.0.0.1:7"}); o.engineAddress != "127.0.0.1:7" {
		t.Fatalf("engine address lost: %+v", o)
	}
}

func TestRuntimeForResolvesVirtualenvAgainstRoot(t *testing.T) {
	opts, _ := structpb.NewStruct(map[string]any{"virtualenv": ".venv"})
	rt := (&host{}).runtimeFor(&pulumirpc.ProgramInfo{RootDirectory: "/proj", Options: opts})
	if rt.virtualenv != "/proj/.venv" {
		t.Fatalf("virtualenv = %q", rt.virtualenv)
	}
}

func TestShimArgsUseProgramDirectoryAndEntryPoint(t *testing.T) {
	req := &pulumirpc.RunRequest{
		MonitorAddress: "m:1", Project: "p", Stack: "s", Pwd: "/proj/app", DryRun: true, Parallel: 4,
		Info: &pulumirpc.ProgramInfo{RootDirectory: "/proj", ProgramDirectory: "/proj/app", EntryPoint: "."},
	}
	got := shimArgs("e:2", "", runtime{root: "/proj"}, req)
	want := []string{"--monitor", "m:1", "--engine", "e:2", "--project", "p", "--stack", "s",
		"--pwd", "/proj/app", "--dry_run", "true", "--parallel", "4", "--root_directory", "/proj", "/proj/app"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("arg %d: got %q want %q (all: %v)", i, got[i], want[i], got)
		}
	}
}

func TestRunResponseMapsExitCodes(t *testing.T) {
	bail := runResponse(exec.Command("sh", "-c", "exit 32").Run())
	if !bail.Bail || bail.Error != "" {
		t.Fatalf("exit 32 should bail: %+v", bail)
	}
	failed := runResponse(exec.Command("sh", "-c", "exit 3").Run())
	if failed.Bail || failed.Error != "Program exited with non-zero exit code: 3" {
		t.Fatalf("exit 3: %+v", failed)
	}
	if r := runResponse(errors.New("no such file")); r.Error == "" {
		t.Fatal("exec failure must be an error")
	}
	if r := runResponse(nil); r.Error != "" || r.Bail {
		t.Fatalf("success: %+v", r)
	}
}
