#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager and kube-scheduler for the real-server test tier
# into a cache folder outside the repository, and prints that folder. Skips the build when all binaries
# are already there. Needs only Go and the Go module proxy; go.mod/go.sum pin every module.
#
# Output folder: ${PLAT_APISERVER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/plat-apiserver/<kubernetes version>}
set -euo pipefail
cd "$(dirname "$0")"
version="$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ { print $2; exit }' go.mod)"
if [ -z "$version" ]; then
  version="$(awk '/k8s.io\/kubernetes v/ { for (i = 1; i <= NF; i++) if ($i ~ /^v1\./) { print $i; exit } }' go.mod)"
fi
out="${PLAT_APISERVER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/plat-apiserver/$version}"
binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler)

all_present() {
  for b in "${binaries[@]}"; do [ -x "$out/$b" ] || return 1; done
}

if all_present; then
  echo "$out"
  exit 0
fi
mkdir -p "$out"
start=$(date +%s)
# Static, reproducible binaries; -trimpath keeps this machine's paths out of them. The version stamp is
# what `kubectl version` and discovery's /version report (otherwise "v0.0.0-master").
export CGO_ENABLED=0
minor="${version#v1.}"; minor="${minor%%.*}"
stamp="-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1"
stamp="$stamp -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
build() { # build OUTPUT PACKAGE: write to a temporary name first so a failed build leaves no binary
  go build -trimpath -ldflags="$stamp" -o "$out/$1.tmp" "$2"
  mv "$out/$1.tmp" "$out/$1"
}
build etcd ./etcd
for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
  build "$cmd" "k8s.io/kubernetes/cmd/$cmd"
done
echo "built ${binaries[*]} (Kubernetes $version) in $(( $(date +%s) - start )) s" >&2
echo "$out"
