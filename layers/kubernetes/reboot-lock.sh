#!/bin/sh
# edgeforge: one node of a Kubernetes cluster reboots at a time.
#
#   kube-reboot-lock [acquire]   the pre-reboot hook (/etc/edgeforge/pre-reboot.d):
#                                take the cluster's reboot lease, drain this node
#   kube-reboot-lock release     after a boot that edgeforge-agent found healthy:
#                                wait until this node is Ready, uncordon it if the
#                                hook drained it, give the lease back
#
# The lease is a coordination.k8s.io/v1 Lease (kube-system/edgeforge-reboot by
# default), taken and given back with the API server's optimistic concurrency
# (resourceVersion), so two nodes never both hold it. A holder that dies keeps
# it only until leaseDurationSeconds after its last renewal; then another node
# may take it over. Exit status 0 lets the agent reboot; anything else
# postpones the reboot (the staged slot stays staged, the next watch tries
# again). A single-node cluster takes no lease and is not drained: its
# maintenance window is its only guard. docs/channels.md.
#
# Settings (environment, or /etc/edgeforge/reboot-lock.env):
#   EDGEFORGE_KUBECONFIG          kubeconfig (default: the first of
#                                 /etc/edgeforge/kubeconfig, /etc/rancher/k3s/k3s.yaml,
#                                 /etc/kubernetes/admin.conf that exists)
#   EDGEFORGE_NODE_NAME           this node's name (default: hostname)
#   EDGEFORGE_LEASE_NAMESPACE     default kube-system
#   EDGEFORGE_LEASE_NAME          default edgeforge-reboot
#   EDGEFORGE_LEASE_SECONDS       how long a silent holder keeps the lease (default 3600)
#   EDGEFORGE_DRAIN_TIMEOUT       kubectl drain --timeout (default 600s)
#   EDGEFORGE_READY_TIMEOUT       seconds `release` waits for the node to be Ready (default 900)
#   EDGEFORGE_KUBECTL             kubectl to run (default: kubectl on PATH)
set -u

# shellcheck source=/dev/null
[ -r /etc/edgeforge/reboot-lock.env ] && . /etc/edgeforge/reboot-lock.env

me=kube-reboot-lock
ns=${EDGEFORGE_LEASE_NAMESPACE:-kube-system}
lease=${EDGEFORGE_LEASE_NAME:-edgeforge-reboot}
duration=${EDGEFORGE_LEASE_SECONDS:-3600}
drain_timeout=${EDGEFORGE_DRAIN_TIMEOUT:-600s}
ready_timeout=${EDGEFORGE_READY_TIMEOUT:-900}
kubectl_bin=${EDGEFORGE_KUBECTL:-kubectl}
node=${EDGEFORGE_NODE_NAME:-$(hostname)}
mark=edgeforge.io/drained-for-reboot

say() { echo "$me: $*"; }
# kubectl's last line of error output: what went wrong, in one line.
last() { printf '%s' "$1" | tail -n 1; }

kubeconfig() {
  if [ -n "${EDGEFORGE_KUBECONFIG:-}" ]; then
    echo "$EDGEFORGE_KUBECONFIG"
    return
  fi
  for f in /etc/edgeforge/kubeconfig /etc/rancher/k3s/k3s.yaml /etc/kubernetes/admin.conf; do
    if [ -r "$f" ]; then
      echo "$f"
      return
    fi
  done
}

k() { "$kubectl_bin" --kubeconfig "$config" --request-timeout=30s "$@"; }

now_micro() { date -u +%Y-%m-%dT%H:%M:%S.000000Z; }

# Prints the lease as "holder renewSeconds resourceVersion", nothing when
# there is none; fails when the API cannot be asked.
read_lease() {
  out=$(k get lease "$lease" -n "$ns" --ignore-not-found \
    -o 'jsonpath={.spec.holderIdentity}|{.spec.renewTime}|{.metadata.resourceVersion}' 2>&1) || {
    say "cannot read lease $ns/$lease: $(last "$out")"
    return 1
  }
  [ -n "$out" ] || return 0
  holder=${out%%|*}
  rest=${out#*|}
  renew=${rest%%|*}
  version=${rest#*|}
  renew_s=0
  if [ -n "$renew" ]; then renew_s=$(date -u -d "$renew" +%s 2>/dev/null || echo 0); fi
  echo "${holder:--} $renew_s $version"
}

# The lease object held by $1 ("" for nobody), as JSON; $2: resourceVersion or "".
lease_json() {
  rv=""
  [ -n "$2" ] && rv=",\"resourceVersion\":\"$2\""
  t=$(now_micro)
  reason=$(printf '%s' "${EDGEFORGE_REBOOT_REASON:-}" | tr -d '"\134[:cntrl:]' | cut -c1-200)
  printf '{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"%s","namespace":"%s"%s,"annotations":{"edgeforge.io/reason":"%s"}},"spec":{"holderIdentity":"%s","leaseDurationSeconds":%s,"acquireTime":"%s","renewTime":"%s"}}\n' \
    "$lease" "$ns" "$rv" "$reason" "$1" "$duration" "$t" "$t"
}

# Takes the lease for this node; 0 when it holds it.
take_lease() {
  state=$(read_lease) || return 1
  if [ -z "$state" ]; then
    if out=$(lease_json "$node" "" | k create --validate=false -f - 2>&1); then
      say "took lease $ns/$lease"
      return 0
    fi
    say "lease $ns/$lease: another node was first ($(last "$out"))"
    return 1
  fi
  # shellcheck disable=SC2086 # three words, split on purpose
  set -- $state
  holder=$1 renew_s=$2 version=$3
  now=$(date -u +%s)
  if [ "$holder" = "$node" ]; then
    say "already holds lease $ns/$lease (a reboot that did not happen); renewing it"
  elif [ "$holder" != "-" ] && [ $((renew_s + duration)) -gt "$now" ]; then
    say "node $holder holds lease $ns/$lease until $(date -u -d "@$((renew_s + duration))" +%Y-%m-%dT%H:%M:%SZ); reboot postponed"
    return 1
  elif [ "$holder" != "-" ]; then
    say "lease $ns/$lease of node $holder expired at $(date -u -d "@$((renew_s + duration))" +%Y-%m-%dT%H:%M:%SZ); taking it over"
  fi
  if out=$(lease_json "$node" "$version" | k replace --validate=false -f - 2>&1); then
    say "took lease $ns/$lease"
    return 0
  fi
  say "lease $ns/$lease changed under us; reboot postponed ($(last "$out"))"
  return 1
}

# Gives the lease back when this node holds it.
give_lease() {
  state=$(read_lease) || return 1
  [ -n "$state" ] || return 0
  # shellcheck disable=SC2086 # three words, split on purpose
  set -- $state
  [ "$1" = "$node" ] || return 0
  if out=$(lease_json "" "$3" | k replace --validate=false -f - 2>&1); then
    say "gave lease $ns/$lease back"
    return 0
  fi
  say "cannot give lease $ns/$lease back: $(last "$out")"
  return 1
}

acquire() {
  nodes=$(k get nodes -o name 2>&1) || {
    say "cannot list the cluster's nodes: $(last "$nodes"); reboot postponed"
    exit 1
  }
  if [ "$(printf '%s\n' "$nodes" | grep -c .)" -le 1 ]; then
    say "single-node cluster: no lease, no drain"
    exit 0
  fi
  take_lease || exit 1
  k annotate node "$node" --overwrite "$mark=$(now_micro)" >/dev/null 2>&1 || true
  if ! out=$(k drain "$node" --ignore-daemonsets --delete-emptydir-data --force \
    --timeout="$drain_timeout" 2>&1); then
    say "cannot drain node $node: $(last "$out"); uncordoning it, reboot postponed"
    k uncordon "$node" >/dev/null 2>&1
    k annotate node "$node" "$mark-" >/dev/null 2>&1
    give_lease
    exit 1
  fi
  say "drained node $node; it may reboot"
  exit 0
}

release() {
  waited=0
  while :; do
    ready=$(k get node "$node" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)
    [ "$ready" = "True" ] && break
    if [ "$waited" -ge "$ready_timeout" ]; then
      say "node $node is not Ready after ${ready_timeout}s; the lease stays held until it expires"
      exit 1
    fi
    sleep 5
    waited=$((waited + 5))
  done
  marked=$(k get node "$node" -o "jsonpath={.metadata.annotations.edgeforge\\.io/drained-for-reboot}" 2>/dev/null)
  if [ -n "$marked" ]; then
    k uncordon "$node" >/dev/null || {
      say "cannot uncordon node $node"
      exit 1
    }
    k annotate node "$node" "$mark-" >/dev/null 2>&1
    say "node $node is Ready; uncordoned it"
  fi
  give_lease || exit 1
  exit 0
}

config=$(kubeconfig)
if ! command -v "$kubectl_bin" >/dev/null 2>&1; then
  say "no kubectl; nothing to coordinate"
  exit 0
fi
if [ -z "$config" ]; then
  say "no kubeconfig (EDGEFORGE_KUBECONFIG, /etc/edgeforge/kubeconfig, /etc/rancher/k3s/k3s.yaml, /etc/kubernetes/admin.conf): a worker node needs /etc/edgeforge/kubeconfig with the rights in docs/channels.md; reboot postponed"
  exit 1
fi

case "${1:-acquire}" in
  acquire) acquire ;;
  release) release ;;
  *)
    say "usage: $me [acquire|release]"
    exit 2
    ;;
esac
