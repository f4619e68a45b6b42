#!/usr/bin/env bash
# Podman for the project's container "hosts" (molecule scenarios, make demo), and their image.
#
#   scripts/podman-image.sh [ensure]   install podman + runc, write the project-local
#                                      containers.conf, build the base image if it is missing;
#                                      prints the image reference on stdout
#   scripts/podman-image.sh conf       print the path of the project-local containers.conf
#   scripts/podman-image.sh tag        print the image reference (without building)
#   scripts/podman-image.sh check      boot a throw-away privileged systemd container, exec in it
#   scripts/podman-image.sh prune      remove older fornax-debian images than the current tag
#   scripts/podman-image.sh ssh        print the directory of the SSH keys (made when missing)
#
# The image: Debian bookworm from debootstrap, from the machine's own Debian mirror (the one
# /etc/apt/sources.list* names), with systemd as init, python3, python3-yaml, python3-apt,
# ca-certificates, iproute2, procps and openssh-server, imported with `podman import`. Its tag is
# keyed by this script's hash, so changing the script builds a new image and an unchanged one
# never rebuilds.
#
# Ansible reaches the containers over SSH (one multiplexed connection per host, pipelining):
# `podman exec` costs a few hundred milliseconds here and the podman connection needs several per
# task. The image holds no key: $FORNAX_CACHE/ssh/ (made by `ensure`, outside the checkout) has the
# controller's key pair (id_ed25519), and host/ with the containers' host key and the
# authorized_keys, which every container mounts read-only at /etc/ssh/fornax; known_hosts pins
# that host key for the containers' addresses.
#
# Podman on these machines needs runc (crun fails) and ulimits no higher than the host's (the
# defaults fail): both live in $FORNAX_CACHE/podman/containers.conf, which every caller exports
# as CONTAINERS_CONF (source scripts/podman-env.sh). Nothing under /etc/containers is changed.
set -euo pipefail
# shellcheck source=env.sh
source "$(dirname "$0")/env.sh"

log() { printf '[podman-image] %s\n' "$*" >&2; }
die() { printf '[podman-image] ERROR: %s\n' "$*" >&2; exit 1; }

IMAGE_NAME=localhost/fornax-debian
SUITE=bookworm
PACKAGES=systemd,systemd-sysv,dbus,python3,python3-yaml,python3-apt,ca-certificates,iproute2,procps,openssh-server
CONF_DIR=$FORNAX_CACHE/podman
CONF=$CONF_DIR/containers.conf
SSH_DIR=$FORNAX_CACHE/ssh
script_hash=$(sha256sum "$0" | cut -c1-12)
TAG=$IMAGE_NAME:$SUITE-$script_hash

install_packages() {
  local missing=()
  for p in podman runc debootstrap openssh-client; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  [[ $(id -u) -eq 0 ]] || die "missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install -y ${missing[*]}"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

# Largest process limit handed to a container: on these VMs runc fails to set RLIMIT_NPROC
# above 32768 ("error setting rlimit type 6: operation not permitted") even where the host's hard
# limit is higher; the containers run a handful of services, so 16384 leaves ample room.
NPROC_CAP=16384

write_conf() {
  # Ulimits no higher than the host's own hard limits (a container may not raise them); podman's
  # defaults (nofile 1048576, nproc 4194304) fail here.
  local nofile nproc cgroup_manager=cgroupfs tmp
  nofile=$(ulimit -Hn)
  nproc=$(ulimit -Hu)
  [[ $nofile == unlimited ]] && nofile=1048576
  [[ $nproc == unlimited || $nproc -gt $NPROC_CAP ]] && nproc=$NPROC_CAP
  # systemd as the host's init can own the containers' cgroups; otherwise podman writes them.
  [[ $(cat /proc/1/comm 2>/dev/null) == systemd ]] && cgroup_manager=systemd
  mkdir -p "$CONF_DIR"
  tmp=$(mktemp "$CONF_DIR/.containers.conf.XXXXXX")
  cat >"$tmp" <<EOF
# Written by scripts/podman-image.sh; used through CONTAINERS_CONF=$CONF.
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "$cgroup_manager"
events_logger = "file"
EOF
  if cmp -s "$tmp" "$CONF"; then rm -f "$tmp"; else mv "$tmp" "$CONF"; log "wrote $CONF"; fi
}

# The first deb URI of the machine's configured Debian archive (deb822 or one-line format).
debian_mirror() {
  local uri
  uri=$(grep -hsE '^[[:space:]]*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | awk '{print $2}' | grep -v -- '-security' | head -1 || true)
  if [[ -z $uri ]]; then
    uri=$(grep -hsE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | sed -E 's/\[[^]]*\]//' | awk '{print $2}' | grep -v -- '-security' | head -1 || true)
  fi
  [[ -n $uri ]] || die "no Debian mirror found in /etc/apt/sources.list* (debootstrap needs one)"
  printf '%s\n' "$uri"
}

build_image() {
  local mirror work started
  mirror=$(debian_mirror)
  work=$(mktemp -d "${TMPDIR:-/tmp}/fornax-rootfs.XXXXXX")
  # shellcheck disable=SC2064 # expand now: the trap must remove this very directory
  trap "rm -rf '$work'" EXIT
  started=$(date +%s)
  log "building $TAG: debootstrap $SUITE from $mirror (a few minutes; log: $work.log)"
  if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$work/rootfs" "$mirror" >"$work.log" 2>&1; then
    tail -n 20 "$work.log" >&2
    die "debootstrap failed (full log: $work.log)"
  fi
  local root=$work/rootfs
  # A container image: no machine identity, no apt caches, no getty on consoles it lacks.
  : >"$root/etc/machine-id"
  rm -f "$root/var/lib/dbus/machine-id"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  for unit in getty@tty1.service serial-getty@.service systemd-remount-fs.service \
    systemd-modules-load.service sys-kernel-config.mount sys-kernel-debug.mount; do
    ln -sfn /dev/null "$root/etc/systemd/system/$unit"
  done
  printf 'fornax\n' >"$root/etc/hostname"
  # sshd: keys only, from the read-only mount /etc/ssh/fornax (see ensure_ssh); no host key of the
  # image's own (the containers share the one of $SSH_DIR/host).
  rm -f "$root"/etc/ssh/ssh_host_*
  cat >"$root/etc/ssh/sshd_config.d/fornax.conf" <<'EOF'
# Written by scripts/podman-image.sh: the controller logs in as root with its key only.
HostKey /etc/ssh/fornax/ssh_host_ed25519_key
AuthorizedKeysFile /etc/ssh/fornax/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
MaxSessions 64
MaxStartups 64:30:128
EOF
  tar -C "$root" --numeric-owner -c . \
    | podman import --change 'CMD ["/sbin/init"]' --change 'ENV container=podman' \
      --change 'STOPSIGNAL SIGRTMIN+3' - "$TAG" >/dev/null \
    || die "podman import failed"
  rm -f "$work.log"
  log "built $TAG in $(($(date +%s) - started)) s"
}

# The SSH keys of the container hosts, made once: the controller's key pair, the containers'
# host key with authorized_keys (mounted by each container at /etc/ssh/fornax), and known_hosts.
ensure_ssh() {
  mkdir -p "$SSH_DIR/host"
  chmod 0700 "$SSH_DIR" "$SSH_DIR/host"
  [[ -f $SSH_DIR/id_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -C fornax-controller -f "$SSH_DIR/id_ed25519"
  [[ -f $SSH_DIR/host/ssh_host_ed25519_key ]] \
    || ssh-keygen -q -t ed25519 -N '' -C fornax-host -f "$SSH_DIR/host/ssh_host_ed25519_key"
  cmp -s "$SSH_DIR/id_ed25519.pub" "$SSH_DIR/host/authorized_keys" \
    || install -m 0644 "$SSH_DIR/id_ed25519.pub" "$SSH_DIR/host/authorized_keys"
  # Any address: the file is used only for the container hosts (their ansible_ssh_common_args).
  printf '* %s\n' "$(cut -d' ' -f1,2 "$SSH_DIR/host/ssh_host_ed25519_key.pub")" >"$SSH_DIR/known_hosts"
}

ensure() {
  install_packages
  write_conf
  ensure_ssh
  export CONTAINERS_CONF=$CONF
  if ! podman image exists "$TAG"; then
    build_image
  fi
  printf '%s\n' "$TAG"
}

check() {
  local name=fornax-image-check-$$ out
  ensure >/dev/null
  export CONTAINERS_CONF=$CONF
  # shellcheck disable=SC2064 # expand now: the trap must remove this very container
  trap "podman rm -f -t 5 '$name' >/dev/null 2>&1 || true" EXIT
  podman run -d --name "$name" --privileged --systemd=always --network none \
    --volume "$SSH_DIR/host:/etc/ssh/fornax:ro" "$TAG" /sbin/init >/dev/null
  for _ in $(seq 1 60); do
    out=$(podman exec "$name" systemctl is-system-running 2>/dev/null || true)
    [[ $out == running || $out == degraded ]] && break
    sleep 1
  done
  [[ $out == running || $out == degraded ]] || die "systemd in $TAG did not finish booting (state: ${out:-none})"
  podman exec "$name" python3 -c 'import yaml, apt; print("python3 + yaml + apt: ok")'
  podman exec "$name" systemctl is-active --quiet ssh.service || die "sshd does not run in $TAG"
  log "systemd state: $out; podman exec works"
}

prune() {
  local ref
  export CONTAINERS_CONF=$CONF
  podman images --format '{{.Repository}}:{{.Tag}}' --filter "reference=$IMAGE_NAME" | while read -r ref; do
    [[ $ref == "$TAG" ]] || { log "removing $ref"; podman rmi "$ref" >/dev/null || true; }
  done
}

case ${1:-ensure} in
  ensure) ensure ;;
  conf) printf '%s\n' "$CONF" ;;
  tag) printf '%s\n' "$TAG" ;;
  check) check ;;
  prune) prune ;;
  ssh) ensure_ssh; printf '%s\n' "$SSH_DIR" ;;
  *) die "usage: $0 [ensure|conf|tag|check|prune|ssh]" ;;
esac
