package main

import (
	"strconv"
	"strings"
)

// options are the command-line settings the engine (or a user) may pass.
//
// The engine starts a language host with only its own gRPC address as the last positional
// argument, sometimes preceded by logging flags (-logtostderr, -v=N, -tracing URL). Older
// engines also passed -root and -virtualenv. Unknown flags are ignored rather than fatal so
// that a newer engine never fails to start us.
type options struct {
	engineAddress string
	tracing       string
	root          string
	virtualenv    string
	toolchain     string
	executor      string
	version       bool
}

// valueFlags take a value either as -name=value or as the next argument.
var valueFlags = map[string]bool{
	"tracing": true, "root": true, "virtualenv": true, "toolchain": true,
	"typechecker": true, "use-executor": true, "log_dir": true,
}

func parseArgs(args []string) options {
	var o options
	var positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		name := strings.TrimLeft(a, "-")
		value, hasValue := "", false
		if k, v, ok := strings.Cut(name, "="); ok {
			name, value, hasValue = k, v, true
		}
		if !hasValue && i+1 < len(args) && takesNextArg(name, args[i+1]) {
			value = args[i+1]
			i++
		}
		switch name {
		case "tracing":
			o.tracing = value
		case "root":
			o.root = value
		case "virtualenv":
			o.virtualenv = value
		case "toolchain":
			o.toolchain = value
		case "use-executor":
			o.executor = value
		case "version":
			o.version = true
		}
	}
	if len(positional) > 0 {
		o.engineAddress = positional[0]
	}
	return o
}

// takesNextArg says whether a flag without "=value" consumes the following argument.
// -v is special: glog accepts "-v 9", but a bare -v must not swallow the engine address.
func takesNextArg(name, next string) bool {
	if valueFlags[name] {
		return true
	}
	if name == "v" {
		_, err := strconv.Atoi(next)
		return err == nil
	}
	return false
}
