#!/usr/bin/env bash
# Static checks: ruff (lint + format), ansible-lint (production profile), ansible-test sanity.
set -euo pipefail
cd "$FORNAX_ROOT"
echo "== ruff"
ruff check .
ruff format --check .
echo "== ansible-lint"
ansible-lint --offline -q
echo "== ansible-test sanity"
# ansible-test needs the collection at ansible_collections/<ns>/<name>; copy what git would ship.
tree=$FORNAX_CACHE/sanity-$(printf '%s' "$FORNAX_ROOT" | sha256sum | cut -c1-12)
dest=$tree/ansible_collections/centaurus/fornax
rm -rf "$dest"
mkdir -p "$dest"
git ls-files -co --exclude-standard -z | rsync -a --from0 --files-from=- ./ "$dest/"
cd "$dest"
"$FORNAX_SANITY_VENV/bin/ansible-test" sanity --color no --python 3.11 --local --requirements
