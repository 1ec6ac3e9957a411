#!/usr/bin/env bash
# Installs the oracle tools the tests need (kubernetes-validate, checkov, promtool, amtool, taplo), builds the
# real API server of the cluster tests (scripts/apiserver/build.sh) and runs the whole test suite. The
# same command runs in CI (.ci/run) and on a developer's machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-oracles.sh
# The real-server tier (tests/cluster_apiserver*.rs): etcd and kube-apiserver built from Go modules into
# a cache folder outside the repository; a no-op when they are already built. Its tests fail if this
# could not build them.
PLAT_APISERVER_DIR="$(bash scripts/apiserver/build.sh)"
export PLAT_APISERVER_DIR
export PATH="${PLAT_ORACLE_VENV:-/opt/plat-oracles}/bin:$PATH"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo test --all-targets --locked "$@" 2>&1 | tee "$log"
# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "tests: %d passed, %d failed, %d ignored\n", p, f, i }' "$log" \
  | sed 's/, \([0-9]*\) ignored$/, \1 skipped/'
