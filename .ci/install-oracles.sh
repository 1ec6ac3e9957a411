#!/usr/bin/env bash
# Installs the external tools the tests use as oracles for generated manifests:
#   kubernetes-validate, checkov   -> Python virtualenv at $PLAT_ORACLE_VENV (bin/)
#   promtool, amtool               -> Debian packages prometheus, prometheus-alertmanager (/usr/bin)
#   kubectl (kustomize)            -> expected to be on the machine already; only checked
#   taplo                          -> built by scripts/taplo/install.sh into a cache folder, linked into
#                                     $PLAT_ORACLE_VENV/bin
# Idempotent: a second run with nothing to do takes about a second.
# Usage: bash .ci/install-oracles.sh      (as root; needs PyPI + Debian mirrors)
# Afterwards: export PATH="${PLAT_ORACLE_VENV:-/opt/plat-oracles}/bin:$PATH"
set -euo pipefail

VENV="${PLAT_ORACLE_VENV:-/opt/plat-oracles}"
KUBERNETES_VALIDATE_VERSION="1.37.0"   # ships schemas for Kubernetes 1.25 .. 1.37
CHECKOV_VERSION="3.3.30"

log() { printf '[install-oracles] %s\n' "$*" >&2; }

# ---------------------------------------------------------------- Python tools
pick_python() {
  if [[ -n "${PLAT_ORACLE_PYTHON:-}" ]]; then echo "$PLAT_ORACLE_PYTHON"; return; fi
  local p
  for p in python3.11 python3.12 python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys, venv; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
      echo "$p"; return
    fi
  done
  log "no python >= 3.9 with the venv module found"; exit 1
}

# Full lock of the dependency tree (resolved on CPython 3.11, linux x86_64), so that
# CI does not pick up new transitive releases. All of these install from wheels.
CONSTRAINTS="$(cat <<'EOF'
aiodns==3.6.1
aiohappyeyeballs==2.7.1
aiohttp==3.14.5
aiomultiprocess==0.9.1
aiosignal==1.4.0
annotated-types==0.8.0
argcomplete==3.7.2
asteval==1.0.6
attrs==26.1.0
bc-detect-secrets==1.5.52
bc-jsonpath-ng==1.6.1
bc-python-hcl2==0.4.3
beartype==0.23.1
beautifulsoup4==4.15.0
boolean.py==5.0
boto3==1.35.49
botocore==1.35.99
cached-property==2.0.1
cachetools==5.5.2
certifi==2026.10.19.post1
cffi==2.1.1
charset-normalizer==3.5.3
checkov==3.3.30
click==8.5.1
click-option-group==0.5.10
cloudsplaining==0.7.0
colorama==0.4.6
ConfigArgParse==1.9.0
contextlib2==21.6.0
cyclonedx-python-lib==7.6.2
decorator==5.3.1
defusedxml==0.7.1
docker==7.2.0
dockerfile-parse==2.0.1
dpath==2.1.3
ecdsa==0.19.2
frozenlist==1.8.0
gitdb==4.0.12
GitPython==3.2.1
idna==3.20
importlib_metadata==7.2.1
importlib_resources==7.1.0
Jinja2==3.1.6
jmespath==1.1.0
jsonschema==4.26.0
jsonschema-specifications==2025.9.1
junit-xml==1.9
kubernetes-validate==1.37.0
lark==1.3.1
license-expression==30.4.4
Markdown==3.11.3
MarkupSafe==3.0.4
multidict==7.2.1
networkx==2.6.3
numpy==2.4.6
orjson==3.13.0
packageurl-python==0.13.4
packaging==23.2
platformdirs==4.14.8
ply==3.11
policy_sentry==0.13.2
prettytable==3.18.0
propcache==0.5.4
py-serializable==1.1.2
pycares==4.11.0
pycep-parser==0.5.1
pycparser==3.12
pydantic==2.14.4
pydantic_core==2.50.5
pyparsing==3.3.3
python-dateutil==2.9.0.post0
PyYAML==6.0.4
rdflib==7.6.0
referencing==0.37.0
regex==2026.11.19
requests==2.34.2
rpds-py==2026.9.1
rustworkx==0.18.1
s3transfer==0.10.4
schema==0.7.5
semantic-version==2.10.0
six==1.17.0
smmap==5.0.3
sortedcontainers==2.4.0
soupsieve==4.1.3
spdx-tools==0.8.5
tabulate==0.9.0
termcolor==2.3.0
tqdm==4.70.1
typing-inspection==0.4.5
typing_extensions==4.16.0
unidiff==1.0.1
uritools==6.1.5
urllib3==2.8.0
wcwidth==0.9.4
xmltodict==1.0.4
yarl==1.25.1
zipp==4.1.2
EOF
)"

PY="$(pick_python)"
STAMP="$VENV/.plat-oracles-stamp"
WANT_STAMP="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])') kubernetes-validate==$KUBERNETES_VALIDATE_VERSION checkov==$CHECKOV_VERSION $(printf '%s' "$CONSTRAINTS" | cksum | cut -d' ' -f1)"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT_STAMP" \
      && -x "$VENV/bin/kubernetes-validate" && -x "$VENV/bin/checkov" ]]; then
  log "python oracles already installed in $VENV"
else
  log "creating virtualenv $VENV with $PY ($("$PY" --version 2>&1))"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  cfile="$(mktemp)"
  trap 'rm -f "$cfile"' EXIT
  printf '%s\n' "$CONSTRAINTS" > "$cfile"
  log "pip install kubernetes-validate==$KUBERNETES_VALIDATE_VERSION checkov==$CHECKOV_VERSION (about 35 s)"
  # --only-binary: everything comes as wheels, no compiler or headers needed.
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/pip" install --quiet --only-binary ':all:' \
    -c "$cfile" \
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "checkov==$CHECKOV_VERSION"
  printf '%s\n' "$WANT_STAMP" > "$STAMP"
fi

# ---------------------------------------------------------------- Debian tools
if command -v promtool >/dev/null 2>&1 && command -v amtool >/dev/null 2>&1; then
  log "promtool and amtool already installed"
else
  log "apt-get install prometheus prometheus-alertmanager (about 15 s)"
  export DEBIAN_FRONTEND=noninteractive
  aptlog="$(mktemp)"
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends \
           prometheus prometheus-alertmanager; } >"$aptlog" 2>&1; then
    cat "$aptlog" >&2; rm -f "$aptlog"; log "apt-get failed"; exit 1
  fi
  rm -f "$aptlog"
fi

# ---------------------------------------------------------------- Taplo (cargo)
# Built once into a cache outside the virtualenv (which the Python step may recreate), then linked.
TAPLO_BIN="$(bash "$(dirname "$0")/../scripts/taplo/install.sh")"
ln -sf "$TAPLO_BIN" "$VENV/bin/taplo"

# ---------------------------------------------------------------- kubectl (kustomize)
if ! command -v kubectl >/dev/null 2>&1; then
  log "WARNING: kubectl not found on PATH; 'kubectl kustomize' oracle unavailable"
fi

# ---------------------------------------------------------------- report
echo "oracle bin dir:       $VENV/bin"
echo "kubernetes-validate:  $("$VENV/bin/kubernetes-validate" --version)"
echo "checkov:              $(CKV_SKIP_PACKAGE_UPDATE_CHECK=true "$VENV/bin/checkov" --version)"
echo "promtool:             $(promtool --version 2>&1 | head -n1)"
echo "amtool:               $(amtool --version 2>&1 | head -n1)"
echo "taplo:                $("$VENV/bin/taplo" --version)"
if command -v kubectl >/dev/null 2>&1; then
  echo "kubectl:              $(kubectl version --client 2>/dev/null | tr '\n' ' ')"
fi
