#!/usr/bin/env bash
# Install everything the project needs on a fresh machine, and nothing twice:
#   apt   Debian packages of scripts/apt-packages.txt that are missing
#   venv  the pinned Python venv (outside the checkout, keyed by requirements*.txt): the
#         runtime requirements and the development tools (requirements-dev.txt includes both)
#   sanity  a separate venv for ansible-test sanity (its linters are pinned by ansible-test)
#   link  ansible_collections/centaurus/fornax -> this checkout
#   k8s   Kubernetes binaries built from source (scripts/k8s-binaries.sh)
#   images  the node's OCI image archives (pause, busybox, httpd; scripts/node-images.sh):
#         not in the default stages (podman builds them); `make images` and the node tests run it
# With no argument: all of them, in that order.
set -euo pipefail
# shellcheck source=env.sh
source "$(dirname "$0")/env.sh"

log() { printf '[bootstrap] %s\n' "$*" >&2; }
die() { printf '[bootstrap] ERROR: %s\n' "$*" >&2; exit 1; }

stage_apt() {
  local wanted missing=()
  wanted=$(sed -E 's/#.*//' "$FORNAX_ROOT/scripts/apt-packages.txt" | xargs)
  for p in $wanted; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  [[ $(id -u) -eq 0 ]] || die "missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install -y ${missing[*]}"
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
}

stage_venv() {
  [[ -f $FORNAX_VENV/.complete ]] && return 0
  local py=${PYTHON:-python3.11}
  command -v "$py" >/dev/null || die "$py not found: install Python 3.11 (Debian: apt-get install python3.11 python3.11-venv)"
  log "creating the project venv $FORNAX_VENV (pinned requirements-dev.txt + requirements.txt)"
  rm -rf "$FORNAX_VENV"
  "$py" -m venv "$FORNAX_VENV" || die "python venv creation failed (Debian: apt-get install python3.11-venv)"
  "$FORNAX_VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip >/dev/null
  "$FORNAX_VENV/bin/pip" install -q --disable-pip-version-check -r "$FORNAX_ROOT/requirements-dev.txt" \
    || die "pip install -r requirements-dev.txt failed"
  touch "$FORNAX_VENV/.complete"
}

stage_sanity() {
  # ansible-test sanity gets a venv of its own: --requirements installs pinned linters into the
  # environment it runs in, and --venv would download a pip bootstrap script from a host that
  # only the package registries stand in for here.
  local pip_version cached
  if [[ ! -f $FORNAX_SANITY_VENV/.complete ]]; then
    make_sanity_venv
  fi
  # The pip version ansible-test bootstraps into its venvs (its default_packages).
  pip_version=$(grep -hoE "pip='[0-9.]+'" "$FORNAX_SANITY_VENV"/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py | head -1 | cut -d"'" -f2)
  [[ -n $pip_version ]] || die "cannot tell which pip version ansible-test bootstraps"
  cached=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
  if ! cmp -s "$FORNAX_ROOT/scripts/get_pip_standin.py" "$cached"; then
    mkdir -p "$(dirname "$cached")"
    cp "$FORNAX_ROOT/scripts/get_pip_standin.py" "$cached"
  fi
}

make_sanity_venv() {
  local core
  core=$(grep -E '^ansible-core==' "$FORNAX_ROOT/requirements.txt")
  log "creating the ansible-test sanity venv $FORNAX_SANITY_VENV ($core)"
  rm -rf "$FORNAX_SANITY_VENV"
  "${PYTHON:-python3.11}" -m venv "$FORNAX_SANITY_VENV" || die "python venv creation failed"
  "$FORNAX_SANITY_VENV/bin/pip" install -q --disable-pip-version-check "$core" PyYAML \
    || die "pip install $core failed"
  touch "$FORNAX_SANITY_VENV/.complete"
}

stage_link() {
  local ns=$FORNAX_COLLECTIONS/ansible_collections/centaurus
  mkdir -p "$ns"
  [[ $(readlink "$ns/fornax" 2>/dev/null) == "$FORNAX_ROOT" ]] || ln -sfn "$FORNAX_ROOT" "$ns/fornax"
}

stage_k8s() { "$FORNAX_ROOT/scripts/k8s-binaries.sh" >/dev/null; }

stage_images() { "$FORNAX_ROOT/scripts/node-images.sh" >/dev/null; }

# podman + runc, the project-local containers.conf and the Debian base image of the container
# hosts (molecule, make demo); built once per version of scripts/podman-image.sh.
stage_podman() { "$FORNAX_ROOT/scripts/podman-image.sh" ensure >/dev/null; }

stages=("$@")
((${#stages[@]})) || stages=(apt venv sanity link k8s)
for s in "${stages[@]}"; do
  declare -F "stage_$s" >/dev/null || die "unknown stage '$s' (apt, venv, sanity, link, k8s, images, podman)"
  "stage_$s"
done
