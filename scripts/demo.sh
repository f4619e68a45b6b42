#!/usr/bin/env bash
# The Fornax demo on this machine: podman containers as the hosts of inventories/local/.
#
#   scripts/demo.sh up       build what is missing, start the hosts, run playbooks/site.yml,
#                            apply a sample Mission, print the tree with health and Mission states
#   scripts/demo.sh status   print the tree again
#   scripts/demo.sh down     playbooks/teardown.yml, then remove the containers and the network
#   scripts/demo.sh hosts    only start the containers (used by tests and bench)
#
# Settings (environment): FORNAX_DEMO_INVENTORY (default inventories/local/hosts.yml),
# FORNAX_DEMO_NETWORK / FORNAX_DEMO_SUBNET (fornax-demo, 10.89.70.0/24), FORNAX_DEMO_MISSION
# (default tests/data/missions/deployment-to-all.yaml).
set -euo pipefail
# shellcheck source=env.sh
source "$(dirname "$0")/env.sh"
cd "$FORNAX_ROOT"

INVENTORY=${FORNAX_DEMO_INVENTORY:-inventories/local/hosts.yml}
NETWORK=${FORNAX_DEMO_NETWORK:-fornax-demo}
SUBNET=${FORNAX_DEMO_SUBNET:-10.89.70.0/24}
MISSION=${FORNAX_DEMO_MISSION:-tests/data/missions/deployment-to-all.yaml}
LOGDIR=$FORNAX_CACHE/demo-logs
export ANSIBLE_INVENTORY_UNPARSED_FAILED=true

step=0
progress() { step=$((step + 1)); printf '\n[demo %d] %s\n' "$step" "$*" >&2; }
log() { printf '[demo] %s\n' "$*" >&2; }
die() { printf '[demo] ERROR: %s\n' "$*" >&2; exit 1; }

# Run a playbook with a one-line-per-task progress display; the full output goes to a log file.
run_playbook() {
  local name=$1 logfile
  shift
  mkdir -p "$LOGDIR"
  logfile=$LOGDIR/$name.log
  log "ansible-playbook $* (full log: $logfile)"
  set +e
  ansible-playbook -i "$INVENTORY" "$@" 2>&1 | tee "$logfile" \
    | grep --line-buffered -E '^(PLAY|TASK) \[|^(fatal|failed):|"msg": "(  )*[a-z0-9-]+ \(|clusters not up|^PLAY RECAP|^[a-z0-9-]+ +: ok=' \
    | sed -u -E 's/ \*+$//'
  local rc=${PIPESTATUS[0]}
  set -e
  return "$rc"
}

# "name address kind" of every host of the hierarchy file (each becomes a container of that
# name); kind is node for the hosts with the edge_node role (they run pods), host otherwise.
inventory_hosts() {
  python3 - "$INVENTORY" <<'PY'
import sys
import yaml
doc = yaml.safe_load(open(sys.argv[1]))
def walk(clusters):
    for cluster in clusters or []:
        for host in cluster.get("hosts") or []:
            kind = "node" if "edge_node" in (host.get("roles") or []) else "host"
            print(host["name"], host["address"], kind)
        walk(cluster.get("children"))
walk(doc.get("clusters"))
PY
}

# How a host's container boots. A node (containerd, runc and the kubelet nested inside) starts
# through scripts/fornax-node-init, which re-mounts the cgroup v1 hierarchies from a private
# cgroup namespace and then execs systemd (docs/nodes.md); other hosts boot systemd directly.
boot_args() {
  if [[ $1 == node ]]; then
    printf '%s\n' --systemd=false --cgroupns=private --env container=podman \
      --tmpfs /run:rw,nosuid,nodev --tmpfs /run/lock:rw,nosuid,nodev --tmpfs /tmp:rw,nosuid,nodev \
      --volume "$FORNAX_ROOT/scripts/fornax-node-init:/usr/local/sbin/fornax-node-init:ro" \
      "$2" /usr/local/sbin/fornax-node-init
  else
    printf '%s\n' --systemd=always "$2" /sbin/init
  fi
}

start_hosts() {
  local image name address ssh_dir
  progress "podman, runc, the SSH keys and the Debian base image (built once, cached)"
  image=$("$FORNAX_ROOT/scripts/podman-image.sh" ensure)
  ssh_dir=$("$FORNAX_ROOT/scripts/podman-image.sh" ssh)
  CONTAINERS_CONF=$("$FORNAX_ROOT/scripts/podman-image.sh" conf)
  export CONTAINERS_CONF
  progress "podman network $NETWORK ($SUBNET) and one container per host of $INVENTORY"
  podman network exists "$NETWORK" || podman network create --subnet "$SUBNET" "$NETWORK" >/dev/null
  while read -r name address kind; do
    if podman container exists "$name"; then
      if [[ $(podman inspect -f '{{.ImageName}} {{index .Config.Labels "fornax.kind"}}' "$name") == "$image $kind" ]]; then
        [[ $(podman inspect -f '{{.State.Running}}' "$name") == true ]] || podman start "$name" >/dev/null
        log "$name: running"
        continue
      fi
      log "$name: made from an older image or as another kind of host, replacing it"
      podman rm -f -t 5 "$name" >/dev/null
    fi
    # sshd in the container uses the host key and authorized_keys of $ssh_dir/host.
    mapfile -t boot < <(boot_args "$kind" "$image")
    podman run -d --name "$name" --hostname "$name" --privileged \
      --network "$NETWORK" --ip "$address" --label fornax.demo="$NETWORK" --label fornax.kind="$kind" \
      --volume "$ssh_dir/host:/etc/ssh/fornax:ro" "${boot[@]}" >/dev/null
    log "$name: started at $address ($kind)"
  done < <(inventory_hosts)
  while read -r name _; do
    local state=""
    for _ in $(seq 1 60); do
      state=$(podman exec "$name" systemctl is-system-running 2>/dev/null || true)
      [[ $state == running || $state == degraded ]] && break
      sleep 1
    done
    [[ $state == running || $state == degraded ]] || die "systemd in $name did not boot in 60 s (state: ${state:-none})"
  done < <(inventory_hosts)
}

root_kubeconfig() {
  local pki
  pki=$(ansible -i "$INVENTORY" 'tier_0:&control_plane' -m ansible.builtin.debug \
    -a 'msg={{ control_plane_pki_local_dir }}/{{ fornax_cluster }}/admin.kubeconfig' -o 2>/dev/null \
    | sed -nE 's/.*"msg": "([^"]+)".*/\1/p' | head -1)
  [[ -n $pki && -f $pki ]] || die "no admin kubeconfig of the root cluster (is the demo up? scripts/demo.sh up)"
  printf '%s\n' "$pki"
}

# "path@kubeconfig" of every cluster that has nodes (edge_node hosts): its admin kubeconfig
node_clusters() {
  ansible -i "$INVENTORY" edge_nodes -m ansible.builtin.debug \
    -a 'msg={{ fornax_path }}@{{ control_plane_pki_local_dir }}/{{ fornax_cluster }}/admin.kubeconfig' \
    -o 2>/dev/null | sed -nE 's/.*"msg": "([^"]+)".*/\1/p' | sort -u
}

status() {
  local kc nodes
  kc=$(root_kubeconfig)
  mapfile -t nodes < <(node_clusters | tr '@' '\n')
  python3 - "$kc" "${nodes[@]}" <<'PY'
import json
import subprocess
import sys

def get(kind, kubeconfig=sys.argv[1], *extra):
    out = subprocess.run(
        ["kubectl", "--kubeconfig", kubeconfig, "get", kind, *extra, "-o", "json"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout
    return json.loads(out)["items"]

print("\nClusters (as the root sees them):")
print("  root: healthy (this cluster)")
for item in sorted(get("edgeclusters.edgeclusters.kubeedge.io"), key=lambda i: i["metadata"]["name"]):
    name = item["metadata"]["name"]
    status = item.get("status") or {}
    print(f"  root/{name}: {status.get('healthStatus', 'unknown')}")
    for path, health in sorted((status.get("subEdgeClusterStates") or {}).items()):
        print(f"  root/{name}/{path}: {health}")
print("\nMissions (state per cluster path, as reported up to the root):")
missions = get("missions.edgeclusters.kubeedge.io")
if not missions:
    print("  (none)")
for item in missions:
    print(f"  {item['metadata']['name']}:")
    for path, state in sorted(((item.get("status") or {}).get("states") or {}).items()):
        print(f"    {path}: {state}")
print("\nPods on the nodes (per cluster with nodes, from its own API server):")
clusters = sys.argv[2:]
if not clusters:
    print("  (no cluster has nodes: no host has the edge_node role)")
for path, kubeconfig in zip(clusters[::2], clusters[1::2]):
    pods = get("pods", kubeconfig, "--all-namespaces")
    pods = [p for p in pods if p["metadata"]["namespace"] != "kube-system"]
    print(f"  {path}:" + ("" if pods else " (no pods)"))
    for pod in sorted(pods, key=lambda p: (p["spec"].get("nodeName") or "", p["metadata"]["name"])):
        status = pod.get("status") or {}
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or [])
        print(
            f"    {pod['metadata']['namespace']}/{pod['metadata']['name']}: {status.get('phase')}"
            f"{', Ready' if ready else ''} on node {pod['spec'].get('nodeName') or '(none)'},"
            f" IP {status.get('podIP') or '(none)'}"
        )
PY
}

up() {
  local started=$SECONDS
  progress "project prerequisites (Debian packages, venv, collection link, Kubernetes binaries, node images)"
  bash "$FORNAX_ROOT/scripts/bootstrap.sh" apt venv link k8s images
  start_hosts
  progress "playbooks/site.yml: control planes, CRDs, agents, tier by tier"
  run_playbook site playbooks/site.yml || die "site.yml failed (see the summary above and $LOGDIR/site.log)"
  progress "apply the sample Mission $MISSION at the root and wait until every cluster runs it"
  run_playbook mission playbooks/mission.yml -e "fornax_mission_file=$FORNAX_ROOT/$MISSION" \
    || die "mission.yml failed (see $LOGDIR/mission.log)"
  status
  printf '\nThe demo is up (%d s). Containers: podman ps --filter label=fornax.demo=%s\n' \
    $((SECONDS - started)) "$NETWORK"
  printf 'Root kubeconfig: %s\n' "$(root_kubeconfig)"
  printf 'Tear it down with: scripts/demo.sh down   (or make demo-down)\n'
}

down() {
  CONTAINERS_CONF=$("$FORNAX_ROOT/scripts/podman-image.sh" conf)
  export CONTAINERS_CONF
  local names
  names=$(podman ps -a --filter "label=fornax.demo=$NETWORK" --format '{{.Names}}')
  if [[ -n $names ]] && podman ps --filter "label=fornax.demo=$NETWORK" --format '{{.Names}}' | grep -q .; then
    progress "playbooks/teardown.yml, bottom-up"
    run_playbook teardown playbooks/teardown.yml || log "teardown.yml failed; removing the containers anyway"
  fi
  progress "remove the containers and the network"
  for name in $names; do
    podman rm -f -t 5 "$name" >/dev/null && log "$name: removed"
  done
  podman network exists "$NETWORK" && podman network rm "$NETWORK" >/dev/null && log "network $NETWORK: removed"
  log "the demo is down"
}

case ${1:-up} in
  up) up ;;
  down) down ;;
  status) status ;;
  hosts) start_hosts ;;
  *) die "usage: $0 up|status|down|hosts" ;;
esac
