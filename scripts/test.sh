#!/usr/bin/env bash
# Installs the oracle tools the tests need (kubernetes-validate, checkov, promtool, amtool) and runs the
# whole test suite. The same command runs in CI (.ci/run) and on a developer's machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-oracles.sh
export PATH="${PLAT_ORACLE_VENV:-/opt/plat-oracles}/bin:$PATH"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo test --all-targets --locked "$@" 2>&1 | tee "$log"
# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "tests: %d passed, %d failed, %d ignored\n", p, f, i }' "$log" \
  | sed 's/, \([0-9]*\) ignored$/, \1 skipped/'
