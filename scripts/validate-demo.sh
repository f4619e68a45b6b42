#!/usr/bin/env bash
# make validate: release validation (playbooks/validate.yml) of a Fornax tree on this machine,
# the loopback demo tree (python -m fornax_harness demo up starts it when none runs; it keeps
# running afterwards: make demo-loopback-down stops it).
#
# Settings (environment): FORNAX_VALIDATE_RESULTS (the results directory, default
# $FORNAX_CACHE/validation/<UTC time>), FORNAX_DEMO_DIR (where the loopback demo lives),
# VALIDATE_ARGS (more ansible-playbook arguments, e.g. -e validate_destructive=true).
# Exit status: the playbook's (non-zero when a show-stopper failed).
set -euo pipefail
# shellcheck source=env.sh
source "$(dirname "$0")/env.sh"
cd "$FORNAX_ROOT"

log() { printf '[validate] %s\n' "$*" >&2; }

# A demo that runs is validated as it is (stopped parts included); none runs: start one.
if ! inventory=$(python -m fornax_harness demo inventory 2>/dev/null); then
  log "no loopback demo tree runs: starting one (python -m fornax_harness demo up)"
  python -m fornax_harness demo up
  inventory=$(python -m fornax_harness demo inventory)
fi
results=${FORNAX_VALIDATE_RESULTS:-$FORNAX_CACHE/validation/$(date -u +%Y%m%dT%H%M%SZ)}
log "validating the tree of $inventory into $results"
export ANSIBLE_INVENTORY_UNPARSED_FAILED=true
status=0
# shellcheck disable=SC2086 # VALIDATE_ARGS is a list of arguments
ansible-playbook -i "$inventory" playbooks/validate.yml -e "validate_results_dir=$results" \
  ${VALIDATE_ARGS:-} || status=$?
if [[ -f $results/index.html ]]; then
  log "report: $results/index.html (suites: $results/<layer>/<suite>/report.html, test_info.yaml)"
else
  log "no report was written (see the playbook's output above)"
fi
exit "$status"
