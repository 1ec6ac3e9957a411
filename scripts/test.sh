#!/usr/bin/env bash
# Installs the oracle tools the tests need (kubernetes-validate, checkov, promtool, amtool) and runs the
# whole test suite. The same command runs in CI (.ci/run) and on a developer's machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-oracles.sh
export PATH="${PLAT_ORACLE_VENV:-/opt/plat-oracles}/bin:$PATH"
cargo test --all-targets --locked "$@"
