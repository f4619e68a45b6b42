#!/usr/bin/env bash
# Build (or reuse) the images of a Fornax node without a registry: the pod sandbox (pause)
# image from images/pause.c, and the test/demo workloads (a static busybox, and busybox httpd
# serving on port 8080), each FROM scratch with podman, saved as an OCI archive.
#
#   scripts/node-images.sh          build what is missing or stale, print the image dir
#   scripts/node-images.sh --check  only verify the cache (exit 1 when missing or corrupt)
#
# Names and archive file names come from roles/containerd/defaults/main.yml (containerd_images),
# the one place that names them. Cache: ${FORNAX_CACHE:-~/.cache/fornax}/images/{*.oci.tar,
# SHA256SUMS,inputs.sha256}. Needs gcc, libc6-dev, podman and busybox-static (apt-packages.txt).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
dest=${FORNAX_CACHE:-$HOME/.cache/fornax}/images
busybox=/bin/busybox
[[ -x /usr/bin/busybox && ! -x $busybox ]] && busybox=/usr/bin/busybox

log() { printf '[node-images] %s\n' "$*" >&2; }
die() { printf '[node-images] ERROR: %s\n' "$*" >&2; exit 1; }

# "short name<TAB>image ref<TAB>archive" for each image of containerd_images.
images=$(python3 - "$here/roles/containerd/defaults/main.yml" <<'PY'
import sys, yaml
for image in yaml.safe_load(open(sys.argv[1]))["containerd_images"]:
    short = image["archive"].removeprefix("fornax-").removesuffix(".oci.tar")
    print(f"{short}\t{image['name']}\t{image['archive']}")
PY
)
inputs=$( (cat "$0" "$here/images/pause.c"; echo "$images"; sha256sum "$busybox" 2>/dev/null) | sha256sum | cut -c1-64)

cache_ok() {
  [[ -f $dest/SHA256SUMS && $(cat "$dest/inputs.sha256" 2>/dev/null) == "$inputs" ]] || return 1
  (cd "$dest" && sha256sum --quiet -c SHA256SUMS) >/dev/null 2>&1
}

if cache_ok; then echo "$dest"; exit 0; fi
[[ ${1:-} == --check ]] && { log "image cache at $dest is missing or stale"; exit 1; }

command -v podman >/dev/null || die "podman is missing: apt-get install podman"
command -v gcc >/dev/null || die "gcc is missing: apt-get install gcc libc6-dev"
file_out=$(file -L "$busybox" 2>/dev/null || true)
[[ -x $busybox && $file_out == *"statically linked"* ]] ||
  die "no static busybox at $busybox: apt-get install busybox-static"

# podman with the project's containers.conf (runc, ulimits that work here): scripts/podman-image.sh.
conf=$("$here/scripts/podman-image.sh" conf)
[[ -f $conf ]] && export CONTAINERS_CONF=$conf

work=$(mktemp -d "${TMPDIR:-/tmp}/fornax-images.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$dest"

# One root file system per image, COPY'd into an image FROM scratch (no RUN: nothing executes).
mkdir -p "$work/pause" "$work/busybox/bin" "$work/busybox/tmp"
gcc -static -Os -Wall -Wextra -Werror -o "$work/pause/pause" "$here/images/pause.c"
strip "$work/pause/pause"
cp "$busybox" "$work/busybox/bin/busybox"
for applet in $("$busybox" --list); do
  [[ $applet == busybox ]] || ln -sf busybox "$work/busybox/bin/$applet"
done
mkdir -p "$work/busybox/etc"
printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$work/busybox/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' > "$work/busybox/etc/group"
cp -a "$work/busybox" "$work/httpd"
mkdir -p "$work/httpd/www"
printf 'fornax httpd\n' > "$work/httpd/www/index.html"

declare -A recipe=(
  [pause]='ENTRYPOINT ["/pause"]'
  [busybox]='CMD ["/bin/sh"]'
  [httpd]='EXPOSE 8080
CMD ["/bin/httpd", "-f", "-v", "-p", "8080", "-h", "/www"]'
)

rm -f "$dest/SHA256SUMS"
while IFS=$'\t' read -r short ref archive; do
  [[ -n ${recipe[$short]:-} ]] || die "no recipe for image $short ($ref) in $0"
  printf 'FROM scratch\nCOPY . /\n%s\n' "${recipe[$short]}" > "$work/$short.Containerfile"
  log "building $ref"
  podman build --quiet --timestamp 0 --no-cache --pull=never --tag "$ref" \
    --file "$work/$short.Containerfile" "$work/$short" >/dev/null
  rm -f "$dest/$archive"
  podman save --quiet --format oci-archive --output "$dest/$archive" "$ref"
  (cd "$dest" && sha256sum "$archive") >> "$dest/SHA256SUMS"
done <<< "$images"
echo "$inputs" > "$dest/inputs.sha256"
cache_ok || die "the image cache at $dest does not verify after the build"
echo "$dest"
