// Built with `go build -modfile=../pulumi-build/go.mod` (see scripts/bootstrap.sh), so the
// language host resolves exactly the module versions (and go.sum hashes) the pulumi CLI build
// uses. This file only marks the directory as a module root; the build does not read it.
module neontenants.local/pulumibuild

go 1.26.6
