#!/usr/bin/env bash
# Builds Taplo (crate taplo-cli, pinned) for tests/taplo.rs, which checks the editor schemas with the real
# tool, into a cache folder outside the repository, and prints the path of the `taplo` binary. A no-op
# when that version is already built. Needs cargo and the crate registry; the cold build takes several minutes.
#
# Install root: ${PLAT_TAPLO_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/plat-taplo/<version>}
set -euo pipefail
version="0.10.0"
root="${PLAT_TAPLO_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/plat-taplo/$version}"
bin="$root/bin/taplo"

if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q " $version\$"; then
  echo "$bin"
  exit 0
fi
start=$(date +%s)
# Only `lint` (check with schemas, which needs the schema feature) and rustls: no language server, no
# completions, no toml-test runner. --locked takes the crate's own lock file.
cargo install --quiet --locked --force --root "$root" --version "$version" taplo-cli \
  --no-default-features --features lint,rustls-tls >&2
echo "built taplo $version in $(( $(date +%s) - start )) s" >&2
echo "$bin"
