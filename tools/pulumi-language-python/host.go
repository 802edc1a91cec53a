package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// host implements pulumirpc.LanguageRuntimeServer. Methods we do not need (code generation,
// packing, templates, RunPlugin) fall through to the embedded Unimplemented server, which
// answers codes.Unimplemented: the engine treats that as "not supported by this language".
type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	shim string
	opts options

	mu            sync.Mutex
	engineAddress string
}

func newHost(shim string, opts options) *host {
	return &host{shim: shim, opts: opts, engineAddress: opts.engineAddress}
}

func (h *host) engine() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.engineAddress
}

// Handshake records the engine address; newer engines send it here as well as on argv.
func (h *host) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if addr := req.GetEngineAddress(); addr != "" {
		h.mu.Lock()
		h.engineAddress = addr
		h.mu.Unlock()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

// GetRequiredPlugins reports nothing: plugins are installed locally by scripts/bootstrap.sh and
// automatic plugin acquisition is disabled, so a list would only trigger download attempts.
func (h *host) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

// GetRequiredPackages: see GetRequiredPlugins.
func (h *host) GetRequiredPackages(
	context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

// InstallDependencies never installs: the project's virtualenv belongs to the bootstrap
// (`make setup`), and installing from here would reach for the network behind the user's back.
func (h *host) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest,
	stream grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	msg := "neon-tenants language host: dependencies are managed by scripts/bootstrap.sh " +
		"(make setup); nothing to install\n"
	return stream.Send(&pulumirpc.InstallDependenciesResponse{Stdout: []byte(msg)})
}

func (h *host) RuntimeOptionsPrompts(
	context.Context, *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

func (h *host) GetProgramDependencies(
	context.Context, *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	return &pulumirpc.GetProgramDependenciesResponse{}, nil
}

// About reports the python the program would run with (what `pulumi about` shows).
func (h *host) About(
	_ context.Context, req *pulumirpc.AboutRequest,
) (*pulumirpc.AboutResponse, error) {
	rt := h.runtimeFor(req.GetInfo())
	python, err := rt.python()
	if err != nil {
		return nil, err
	}
	out, err := exec.Command(python, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("running %s --version: %w", python, err)
	}
	return &pulumirpc.AboutResponse{
		Executable: python,
		Version:    trimVersion(string(out)),
		Metadata:   map[string]string{"host": "neon-tenants pulumi-language-python " + version},
	}, nil
}

// Run executes the program through Pulumi's exec shim and reports its outcome the way the
// official host does: exit 32 means the shim already showed an actionable message (bail).
func (h *host) Run(_ context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	rt := h.runtimeFor(req.GetInfo())
	cmd, err := buildRunCommand(h.shim, h.engine(), h.opts.tracing, rt, req, os.Environ())
	if err != nil {
		return nil, err
	}
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	return runResponse(cmd.Run()), nil
}
