"""`python -m neon_tenants.archive`: the archive step `command.local.Command` runs on delete.

Exit 0 only when the archive file and its manifest are written; otherwise one line on stderr
saying why (no secret) and exit 1, which makes the engine keep the project.
"""

from __future__ import annotations

import sys

from neon_tenants.archive.dump import ArchiveError, take_archive


def main() -> int:
    try:
        path, manifest = take_archive()
    except ArchiveError as exc:
        sys.stderr.write(f"archive failed: {exc}\n")
        return 1
    sys.stdout.write(
        f"archived {manifest.tenant}: {path} "
        f"({manifest.size_bytes} bytes, sha256 {manifest.sha256})\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
