package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// bailExitCode is what pulumi-language-python-exec exits with after it printed a message the
// user can act on; the engine then stops without adding an error of its own.
const bailExitCode = 32

// runtime is what a program needs to run: the project root and the Pulumi.yaml
// runtime options we honour (virtualenv, toolchain).
type runtime struct {
	root       string
	virtualenv string // absolute, or "" for "no virtualenv"
}

// runtimeFor resolves runtime options from the request's ProgramInfo (newer engines) or the
// command line (older engines). A relative virtualenv is relative to the project root.
func (h *host) runtimeFor(info *pulumirpc.ProgramInfo) runtime {
	root := info.GetRootDirectory()
	if root == "" {
		root = h.opts.root
	}
	if root == "" {
		root, _ = os.Getwd()
	}
	venv, toolchain := h.opts.virtualenv, h.opts.toolchain
	if opts := info.GetOptions().AsMap(); opts != nil {
		if v, ok := opts["virtualenv"].(string); ok && v != "" {
			venv = v
		}
		if v, ok := opts["toolchain"].(string); ok && v != "" {
			toolchain = v
		}
	}
	if venv == "" && toolchain == "uv" {
		venv = ".venv" // uv's convention, as in pulumi-resource-pulumi-python
	}
	if venv != "" && !filepath.IsAbs(venv) {
		venv = filepath.Join(root, venv)
	}
	return runtime{root: root, virtualenv: venv}
}

// python returns the interpreter: the virtualenv's, else $PULUMI_PYTHON_CMD, else python3.
func (rt runtime) python() (string, error) {
	if rt.virtualenv != "" {
		p := filepath.Join(rt.virtualenv, "bin", "python")
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("the 'virtualenv' option in Pulumi.yaml is set to %q, but it "+
				"does not contain bin/python; run `make setup` to create it", rt.virtualenv)
		}
		return p, nil
	}
	for _, name := range []string{os.Getenv("PULUMI_PYTHON_CMD"), "python3", "python"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no python found: set the virtualenv runtime option or PULUMI_PYTHON_CMD")
}

// buildRunCommand assembles `python -u <shim> --monitor ... PROGRAM ARGS` and its environment.
func buildRunCommand(
	shim, engine, tracing string, rt runtime, req *pulumirpc.RunRequest, environ []string,
) (*exec.Cmd, error) {
	python, err := rt.python()
	if err != nil {
		return nil, err
	}
	config, err := json.Marshal(nonNilMap(req.GetConfig()))
	if err != nil {
		return nil, fmt.Errorf("serializing configuration: %w", err)
	}
	secretKeys, err := json.Marshal(nonNilSlice(req.GetConfigSecretKeys()))
	if err != nil {
		return nil, fmt.Errorf("serializing secret configuration keys: %w", err)
	}

	args := append([]string{"-u", shim}, shimArgs(engine, tracing, rt, req)...)
	cmd := exec.Command(python, args...)

	env := setEnv(environ, "PULUMI_CONFIG", string(config))
	env = setEnv(env, "PULUMI_CONFIG_SECRET_KEYS", string(secretKeys))
	if rt.virtualenv != "" {
		env = activateVirtualenv(env, rt.virtualenv)
	}
	cmd.Env = env
	return cmd, nil
}

// shimArgs mirrors the official host's constructArguments: empty values are left out.
func shimArgs(engine, tracing string, rt runtime, req *pulumirpc.RunRequest) []string {
	var args []string
	add := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", engine)
	add("project", req.GetProject())
	add("stack", req.GetStack())
	add("pwd", req.GetPwd())
	add("dry_run", fmt.Sprintf("%v", req.GetDryRun()))
	add("parallel", fmt.Sprint(req.GetParallel()))
	add("tracing", tracing)
	add("organization", req.GetOrganization())
	add("root_directory", rt.root)
	args = append(args, programPath(req))
	return append(args, req.GetArgs()...)
}

// programPath is the program to run. ProgramInfo gives an absolute program directory plus an
// entry point ("." or a file name); joining them keeps it independent of the shim's --pwd.
func programPath(req *pulumirpc.RunRequest) string {
	info := req.GetInfo()
	if dir := info.GetProgramDirectory(); dir != "" {
		entry := info.GetEntryPoint()
		if entry == "" {
			entry = "."
		}
		return filepath.Join(dir, entry)
	}
	if p := req.GetProgram(); p != "" { //nolint:staticcheck // older engines only set this
		return p
	}
	return "."
}

// activateVirtualenv does what `source bin/activate` does, and tells dynamic providers (and
// anything else the program starts) which virtualenv is in use.
func activateVirtualenv(env []string, venv string) []string {
	bin := filepath.Join(venv, "bin")
	path := bin
	if old := getEnv(env, "PATH"); old != "" {
		path = bin + string(os.PathListSeparator) + old
	}
	env = setEnv(env, "PATH", path)
	env = setEnv(env, "VIRTUAL_ENV", venv)
	env = setEnv(env, "PULUMI_RUNTIME_VIRTUALENV", venv)
	return unsetEnv(env, "PYTHONHOME")
}

// runResponse turns the shim's exit status into the RunResponse the engine expects.
func runResponse(err error) *pulumirpc.RunResponse {
	if err == nil {
		return &pulumirpc.RunResponse{}
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		if exitErr.ExitCode() == bailExitCode {
			return &pulumirpc.RunResponse{Bail: true}
		}
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
		}
	}
	return &pulumirpc.RunResponse{
		Error: fmt.Sprintf("Problem executing program (could not run language executor): %v", err),
	}
}

func trimVersion(s string) string {
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "Python "))
}

func getEnv(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

func setEnv(env []string, key, value string) []string {
	return append(unsetEnv(env, key), key+"="+value)
}

func unsetEnv(env []string, key string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != key {
			out = append(out, kv)
		}
	}
	return out
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func nonNilSlice(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
