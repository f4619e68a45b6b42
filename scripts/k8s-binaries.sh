#!/usr/bin/env bash
# Build (or reuse) the Kubernetes control-plane binaries, etcd, kubectl and kwok from source
# through the Go module proxy, and cache them outside the checkout, keyed by version.
#
#   scripts/k8s-binaries.sh          build what is missing, verify the cache, print the bin dir
#   scripts/k8s-binaries.sh --check  only verify the cache (exit 1 when missing or corrupt)
#
# Cache layout: ${FORNAX_CACHE:-~/.cache/fornax}/k8s/<K8S_VERSION>/{bin/,SHA256SUMS,build-seconds}
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../versions.env
source "$here/versions.env"

cache_root=${FORNAX_CACHE:-$HOME/.cache/fornax}
dest=$cache_root/k8s/$K8S_VERSION
bin=$dest/bin
# kubelet and kube-proxy run on the node hosts (roles/kubelet); the rest is the control plane.
k8s_cmds=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy)
binaries=("${k8s_cmds[@]}" etcd kwok)

log() { printf '[k8s-binaries] %s\n' "$*" >&2; }
die() { printf '[k8s-binaries] ERROR: %s\n' "$*" >&2; exit 1; }

cache_ok() {
  [[ -f $dest/SHA256SUMS ]] || return 1
  for b in "${binaries[@]}"; do [[ -x $bin/$b ]] || return 1; done
  (cd "$bin" && sha256sum --quiet -c "$dest/SHA256SUMS") >/dev/null 2>&1
}

if cache_ok; then
  echo "$bin"
  exit 0
fi
[[ ${1:-} == --check ]] && { log "cache at $dest is missing or does not match SHA256SUMS"; exit 1; }

command -v go >/dev/null || die "no Go toolchain on PATH: install Go 1.24 or newer (https://go.dev/doc/install or Debian's golang package) and re-run"
go_minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
[[ $go_minor -ge 24 ]] || die "Go $(go env GOVERSION) is too old for Kubernetes $K8S_VERSION: need go1.24 or newer"

k8s_minor=$(echo "$K8S_VERSION" | cut -d. -f2)
k8s_patch=$(echo "$K8S_VERSION" | cut -d. -f3)
staging_version=v0.$k8s_minor.$k8s_patch

work=$cache_root/build/k8s-$K8S_VERSION
mkdir -p "$work/etcd" "$bin"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
start=$(date +%s)

log "resolving k8s.io/kubernetes@$K8S_VERSION through the Go module proxy"
cd "$work"
rm -f go.mod go.sum
go mod init fornax.local/k8s-build >/dev/null 2>&1
go mod edit -require "k8s.io/kubernetes@$K8S_VERSION"
upstream_mod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -nE 's/^\s*"GoMod": "(.*)",?$/\1/p')
[[ -f $upstream_mod ]] || die "could not download k8s.io/kubernetes@$K8S_VERSION (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))"
# k8s.io/kubernetes points its staging modules at ./staging; a dependent module must point them
# at their published versions instead (v0.<minor>.<patch> for Kubernetes v1.<minor>.<patch>).
grep -Eo '^\s*k8s\.io/[a-z0-9-]+ => \./staging' "$upstream_mod" | awk '{print $1}' | while read -r m; do
  go mod edit -replace "$m=$m@$staging_version"
done
# etcd: the server version Kubernetes itself requires, started through its own entry point.
cat > etcd/main.go <<'GO'
// Command etcd starts the etcd server of the version that Kubernetes pins.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO

vpkg=k8s.io/component-base/version
cpkg=k8s.io/client-go/pkg/version
ldflags="-s -w"
for p in $vpkg $cpkg; do
  ldflags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$k8s_minor"
  ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done

# A binary already in the cache with its recorded sum is kept: adding one to the list builds
# only the new one.
have() {
  [[ -x $bin/$1 && -f $dest/SHA256SUMS ]] || return 1
  local want
  want=$(awk -v f="$1" '$2 == f {print $1}' "$dest/SHA256SUMS")
  [[ -n $want && $(sha256sum "$bin/$1" | cut -d' ' -f1) == "$want" ]]
}

for b in "${k8s_cmds[@]}"; do
  have "$b" && continue
  log "building $b (cold builds take a while on 2 cores)"
  go build -trimpath -ldflags "$ldflags" -o "$bin/$b.tmp" "k8s.io/kubernetes/cmd/$b" || die "go build of $b failed (see the output above)"
  mv "$bin/$b.tmp" "$bin/$b"
done
have etcd || {
  log "building etcd"
  go build -trimpath -ldflags "-s -w" -o "$bin/etcd.tmp" ./etcd || die "go build of etcd failed"
  mv "$bin/etcd.tmp" "$bin/etcd"
}

# kwok (simulated nodes, so Deployments become ready without a kubelet) lives in its own module.
have kwok || {
  mkdir -p "$work/kwok" && cd "$work/kwok"
  rm -f go.mod go.sum
  go mod init fornax.local/kwok-build >/dev/null 2>&1
  go mod edit -require "sigs.k8s.io/kwok@$KWOK_VERSION"
  log "building kwok $KWOK_VERSION"
  go build -trimpath -ldflags "-s -w" -o "$bin/kwok.tmp" sigs.k8s.io/kwok/cmd/kwok || die "go build of kwok failed"
  mv "$bin/kwok.tmp" "$bin/kwok"
}

(cd "$bin" && sha256sum "${binaries[@]}") > "$dest/SHA256SUMS"
echo $(( $(date +%s) - start )) > "$dest/build-seconds"
log "built in $(cat "$dest/build-seconds") s; sha256 recorded in $dest/SHA256SUMS"
echo "$bin"
