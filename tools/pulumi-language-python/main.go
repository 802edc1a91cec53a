// Command pulumi-language-python is neon-tenants' own minimal Python language host.
//
// Why it exists: the Pulumi engine runs a Python program through a "language host" plugin
// (a gRPC LanguageRuntime server). The official one lives in the Go module
// github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3, which the Go module proxy
// reachable from our machines does not serve (403 at every version). Everything else we need
// (the engine in pkg/v3, the gRPC interfaces in sdk/v3) is served, so this small host is
// compiled against sdk/v3's real proto/go interfaces instead.
//
// What it does: it serves LanguageRuntime on 127.0.0.1, prints the port on stdout (the plugin
// protocol), and for Run spawns Pulumi's own `pulumi-language-python-exec` shim (found beside
// this binary, as the official host does) with the virtualenv's python, exactly the way the
// official host does. Exit code 32 from the shim means "message already shown": Run bails.
//
// What it does not do: it never installs anything (InstallDependencies only reports that the
// project's virtualenv is managed by scripts/bootstrap.sh), it reports no required plugins
// (our plugins are laid out locally by the bootstrap, and the engine loads them on demand),
// and it does not implement code generation, packing, templates or debugger attach.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

// version is set at build time with -ldflags "-X main.version=v3.274.1".
var version = "v0.0.0-dev"

// execShimName is the Python shim the official host also runs; it ships in the sdk/v3 module.
const execShimName = "pulumi-language-python-exec"

func main() {
	opts := parseArgs(os.Args[1:])
	if opts.version {
		fmt.Println(version) // for `neon-tenants doctor`; the engine asks over gRPC instead
		return
	}

	shim := opts.executor
	if shim == "" {
		self, err := os.Executable()
		if err == nil {
			self, err = filepath.EvalSymlinks(self)
		}
		if err != nil {
			fail("could not determine the language host's own path: %v", err)
		}
		shim = filepath.Join(filepath.Dir(self), execShimName)
	}
	if _, err := os.Stat(shim); err != nil {
		fail("missing executor %s (scripts/bootstrap.sh installs it beside this binary)", shim)
	}

	host := newHost(shim, opts)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fail("could not start language host RPC server: %v", err)
	}

	// The engine reads the port from the first line of our stdout.
	fmt.Printf("%d\n", handle.Port)

	if err := <-handle.Done; err != nil {
		fail("language host RPC stopped serving: %v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: "+format+"\n", args...)
	os.Exit(1)
}
