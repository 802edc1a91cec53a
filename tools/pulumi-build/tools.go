//go:build tools

// Package tools pins the Pulumi engine for scripts/bootstrap.sh (issue 2).
//
// `go install github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v3.274.1` is refused because pkg's
// go.mod has replace lines, so this wrapper module requires pkg/v3 and sdk/v3 at the same
// version and repeats pkg's one non-local replace (atotto/clipboard). The bootstrap runs
// `go build github.com/pulumi/pulumi/pkg/v3/cmd/pulumi` here, with the official release flags.
// Our language host (../pulumi-language-python) builds with -modfile=this go.mod, so both
// binaries come from exactly these module versions and go.sum hashes.
// To move to another version: change both requires, `go mod tidy`, and
// PULUMI_VERSION in neon_tenants/_settings.py and scripts/env.sh.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
