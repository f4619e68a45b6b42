#!/usr/bin/env bash
# Build the collection artifact into DIR (default build/): DIR/centaurus-fornax-<version>.tar.gz
# and a copy without the version, DIR/centaurus-fornax.tar.gz (execution-environment.yml).
# The XDP objects must be built first (make -C bpf): the gateway role loads bpf/build/*.bpf.o.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build}
for prog in divider gateway host; do
  [[ -f bpf/build/$prog.bpf.o ]] || { echo "bpf/build/$prog.bpf.o missing: run make -C bpf first" >&2; exit 1; }
done
mkdir -p "$out"
version=$(sed -nE 's/^version: *([^ #]+).*/\1/p' galaxy.yml)
ansible-galaxy collection build --force --output-path "$out" . >/dev/null
cp "$out/centaurus-fornax-$version.tar.gz" "$out/centaurus-fornax.tar.gz"
echo "$out/centaurus-fornax-$version.tar.gz"
