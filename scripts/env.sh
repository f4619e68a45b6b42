# shellcheck shell=bash
# Sourced by the Makefile and .ci/run: where the project's tools live. Defines no behaviour.
FORNAX_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export FORNAX_ROOT
export FORNAX_CACHE=${FORNAX_CACHE:-$HOME/.cache/fornax}
# shellcheck source=../versions.env
source "$FORNAX_ROOT/versions.env"
export K8S_VERSION KWOK_VERSION
req_hash=$(cat "$FORNAX_ROOT/requirements.txt" "$FORNAX_ROOT/requirements-dev.txt" | sha256sum | cut -c1-12)
export FORNAX_VENV=$FORNAX_CACHE/venv-$req_hash
export FORNAX_SANITY_VENV=$FORNAX_CACHE/sanity-venv-$req_hash
export FORNAX_K8S_BIN=$FORNAX_CACHE/k8s/$K8S_VERSION/bin
# Ansible finds this collection through a link outside the checkout (a link inside it would loop).
link_id=$(printf '%s' "$FORNAX_ROOT" | sha256sum | cut -c1-12)
export FORNAX_COLLECTIONS=$FORNAX_CACHE/collections-$link_id
export ANSIBLE_COLLECTIONS_PATH=$FORNAX_COLLECTIONS
export PYTHONPATH=$FORNAX_COLLECTIONS:$FORNAX_ROOT/agent:$FORNAX_ROOT/tests${PYTHONPATH:+:$PYTHONPATH}
export PATH=$FORNAX_VENV/bin:$FORNAX_K8S_BIN:$PATH
export ANSIBLE_NOCOLOR=${ANSIBLE_NOCOLOR:-1}
export ANSIBLE_FORCE_COLOR=0
