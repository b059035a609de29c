#!/usr/bin/env bash
# Automating a cloud cluster with DigitalOcean's API v2, curl and jq, as the blog does it.
# Every action is one or two requests; `--dry-run` prints them (token masked) instead.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: do.sh [--dry-run] COMMAND [ARGS]

  token-check                         is the token good? (lists droplets)
  ssh-key NAME                        the id of the account's SSH key called NAME
  droplet create NAME [--region nyc1] [--size s-1vcpu-1gb] [--image ubuntu-24-04-x64] [--ssh-key NAME]
  droplet list
  droplet delete NAME|ID
  cluster options                     Kubernetes versions, regions and node sizes
  cluster create NAME [--region nyc1] [--pool NAME] [--count 2] [--size SLUG] [--version SLUG]
                                      (default: the latest version, s-2vcpu-4gb or the first size offered)
  cluster wait NAME|ID [--timeout 10m] [--interval 5s]
  cluster kubeconfig NAME|ID [-o FILE]
  cluster list
  cluster delete NAME|ID

DIGITALOCEAN_TOKEN holds the token; DIGITALOCEAN_API the base URL (default https://api.digitalocean.com).
EOF
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# --dry-run may come anywhere on the line.
args=()
for a in "$@"; do
  if [ "$a" = --dry-run ]; then export DRY_RUN=1; else args+=("$a"); fi
done
set -- "${args[@]+"${args[@]}"}"

# shellcheck source=api.sh
. "$here/api.sh"

# Seconds in a duration such as 90s, 10m, 1h or 0.5s.
seconds() {
  local d=$1
  [[ $d =~ ^([0-9]+(\.[0-9]+)?)(s|m|h)?$ ]] || die "not a duration: $d (as in 90s, 10m, 1h)"
  case ${BASH_REMATCH[3]} in
    m) echo $((${BASH_REMATCH[1]%.*} * 60)) ;;
    h) echo $((${BASH_REMATCH[1]%.*} * 3600)) ;;
    *) echo "${BASH_REMATCH[1]}" ;;
  esac
}

# The value after a flag, or a one-line error.
value() {
  if [ $# -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value"; fi
  echo "$2"
}

# -- account ----------------------------------------------------------------------------------

token_check() {
  local r
  r=$(do_api GET "/v2/droplets?per_page=1")
  dry_run && return 0
  echo "token ok: $(jq -r '.meta.total' <<<"$r") droplet(s) in the account"
}

# NAME -> the key's id (what POST /v2/droplets wants in ssh_keys).
ssh_key_id() {
  local name=$1 keys id
  keys=$(do_api GET "/v2/account/keys?per_page=200")
  if dry_run; then echo "<id of SSH key $name>"; return 0; fi
  id=$(jq -r --arg n "$name" 'first(.ssh_keys[] | select(.name == $n) | .id) // empty' <<<"$keys")
  [ -n "$id" ] || die "no SSH key named \"$name\" in the account (it has: $(jq -r '[.ssh_keys[].name] | join(", ")' <<<"$keys"))"
  echo "$id"
}

# -- droplets ---------------------------------------------------------------------------------

droplet_create() {
  local name="" region=nyc1 size=s-1vcpu-1gb image=ubuntu-24-04-x64 key="" key_id="" body r
  while [ $# -gt 0 ]; do
    case $1 in
      --region) region=$(value "$@"); shift ;;
      --size) size=$(value "$@"); shift ;;
      --image) image=$(value "$@"); shift ;;
      --ssh-key) key=$(value "$@"); shift ;;
      -*) die "droplet create: unknown flag $1" ;;
      *) [ -z "$name" ] || die "droplet create: one name only"; name=$1 ;;
    esac
    shift
  done
  [ -n "$name" ] || die "droplet create: which name? (do.sh droplet create NAME)"
  [ -z "$key" ] || key_id=$(ssh_key_id "$key")
  body=$(jq -cn --arg name "$name" --arg region "$region" --arg size "$size" --arg image "$image" --arg key "$key_id" \
    '{name: $name, region: $region, size: $size, image: $image,
      ssh_keys: (if $key == "" then [] else [$key | (tonumber? // .)] end)}')
  r=$(do_api POST /v2/droplets "$body")
  dry_run && return 0
  jq -r '.droplet | "droplet \(.name) created: id \(.id), status \(.status)"' <<<"$r" >&2
  jq -r '.droplet.id' <<<"$r"
}

droplet_list() {
  local r
  r=$(do_api GET "/v2/droplets?per_page=200")
  dry_run && return 0
  {
    echo "ID NAME REGION SIZE STATUS PUBLIC-IP"
    jq -r '.droplets[] | [.id, .name, .region.slug, .size_slug, .status,
      (first(.networks.v4[] | select(.type == "public") | .ip_address) // "-")] | join(" ")' <<<"$r"
  } | table
}

# NAME or ID -> ID, looking the name up in the list.
droplet_id() {
  local ref=$1 r id
  if [[ $ref =~ ^[0-9]+$ ]]; then echo "$ref"; return 0; fi
  r=$(do_api GET "/v2/droplets?per_page=200")
  if dry_run; then echo "<id of droplet $ref>"; return 0; fi
  id=$(jq -r --arg n "$ref" 'first(.droplets[] | select(.name == $n) | .id) // empty' <<<"$r")
  [ -n "$id" ] || die "no droplet named \"$ref\""
  echo "$id"
}

droplet_delete() {
  [ $# -eq 1 ] || die "droplet delete: which droplet? (do.sh droplet delete NAME|ID)"
  local id
  id=$(droplet_id "$1")
  do_api DELETE "/v2/droplets/$id" >/dev/null
  dry_run || echo "droplet $1 deleted"
}

# -- Kubernetes -------------------------------------------------------------------------------

cluster_options() {
  local r
  r=$(do_api GET /v2/kubernetes/options)
  dry_run && return 0
  jq -r '.options | "versions  \([.versions[].slug] | join(" "))",
    "regions   \([.regions[].slug] | join(" "))", "sizes     \([.sizes[].slug] | join(" "))"' <<<"$r"
}

cluster_create() {
  local name="" region=nyc1 pool="" count=2 size="" version="" options body r
  while [ $# -gt 0 ]; do
    case $1 in
      --region) region=$(value "$@"); shift ;;
      --pool) pool=$(value "$@"); shift ;;
      --count) count=$(value "$@"); shift ;;
      --size) size=$(value "$@"); shift ;;
      --version) version=$(value "$@"); shift ;;
      -*) die "cluster create: unknown flag $1" ;;
      *) [ -z "$name" ] || die "cluster create: one name only"; name=$1 ;;
    esac
    shift
  done
  [ -n "$name" ] || die "cluster create: which name? (do.sh cluster create NAME)"
  [[ $count =~ ^[1-9][0-9]*$ ]] || die "cluster create: --count wants a number of nodes, not \"$count\""
  pool=${pool:-$name-default-pool}
  # The latest version and a size come from the options the API offers right now.
  if [ -z "$version" ] || [ -z "$size" ]; then
    options=$(do_api GET /v2/kubernetes/options)
    if dry_run; then
      version=${version:-<latest version from /v2/kubernetes/options>}
      size=${size:-<a size from /v2/kubernetes/options>}
    else
      [ -n "$version" ] || version=$(jq -r '[.options.versions[]
        | {slug, v: (.kubernetes_version | split(".") | map(tonumber? // 0))}] | max_by(.v) | .slug // empty' <<<"$options")
      [ -n "$version" ] || die "the API offers no Kubernetes version"
      [ -n "$size" ] || size=$(jq -r '[.options.sizes[].slug] | if any(.[]; . == "s-2vcpu-4gb") then "s-2vcpu-4gb" else .[0] // empty end' <<<"$options")
      [ -n "$size" ] || die "the API offers no node size"
    fi
  fi
  body=$(jq -cn --arg name "$name" --arg region "$region" --arg version "$version" \
    --arg pool "$pool" --arg size "$size" --argjson count "$count" \
    '{name: $name, region: $region, version: $version, node_pools: [{size: $size, count: $count, name: $pool}]}')
  r=$(do_api POST /v2/kubernetes/clusters "$body")
  dry_run && return 0
  jq -r '.kubernetes_cluster | "cluster \(.name) created: version \(.version), pool \(.node_pools[0].name) of \(.node_pools[0].count) x \(.node_pools[0].size), state \(.status.state)"' <<<"$r" >&2
  jq -r '.kubernetes_cluster.id' <<<"$r"
}

# NAME or ID -> ID (cluster ids are UUIDs).
cluster_id() {
  local ref=$1 r id
  if [[ $ref =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]]; then echo "$ref"; return 0; fi
  r=$(do_api GET "/v2/kubernetes/clusters?per_page=200")
  if dry_run; then echo "<id of cluster $ref>"; return 0; fi
  id=$(jq -r --arg n "$ref" 'first(.kubernetes_clusters[] | select(.name == $n) | .id) // empty' <<<"$r")
  [ -n "$id" ] || die "no Kubernetes cluster named \"$ref\""
  echo "$id"
}

# Polls the cluster until status.state is running, printing each state on stderr.
cluster_wait() {
  local ref="" timeout=600 interval=5 id r state start elapsed last="" inline=0
  while [ $# -gt 0 ]; do
    case $1 in
      --timeout) timeout=$(value "$@"); timeout=$(seconds "$timeout"); shift ;;
      --interval) interval=$(value "$@"); interval=$(seconds "$interval"); shift ;;
      -*) die "cluster wait: unknown flag $1" ;;
      *) ref=$1 ;;
    esac
    shift
  done
  [ -n "$ref" ] || die "cluster wait: which cluster? (do.sh cluster wait NAME|ID)"
  timeout=${timeout%.*}
  id=$(cluster_id "$ref")
  if dry_run; then
    do_api GET "/v2/kubernetes/clusters/$id"
    echo "(then again every ${interval}s until .kubernetes_cluster.status.state is \"running\", for at most ${timeout}s)"
    return 0
  fi
  start=$SECONDS
  while :; do
    r=$(do_api GET "/v2/kubernetes/clusters/$id")
    state=$(jq -r '.kubernetes_cluster.status.state' <<<"$r")
    elapsed=$((SECONDS - start))
    # One line per state; on a terminal the current line also counts the seconds.
    if [ "$state" != "$last" ]; then
      [ "$inline" = 0 ] || echo >&2
      echo "cluster $ref: $state (${elapsed}s)" >&2
      last=$state inline=0
    elif [ -t 2 ]; then
      printf '\rcluster %s: %s (%ss)' "$ref" "$state" "$elapsed" >&2
      inline=1
    fi
    if [ "$inline" = 1 ] && { [ "$state" = running ] || [ "$elapsed" -ge "$timeout" ]; }; then echo >&2; fi
    case $state in
      running) echo "cluster $ref is running"; return 0 ;;
      errored | error | deleted | deleting)
        die "cluster $ref is $state: $(jq -r '.kubernetes_cluster.status.message // ""' <<<"$r")" ;;
    esac
    [ "$elapsed" -lt "$timeout" ] || die "cluster $ref did not become running within ${timeout}s (still $state)"
    sleep "$interval"
  done
}

cluster_kubeconfig() {
  local ref="" file="" id
  while [ $# -gt 0 ]; do
    case $1 in
      -o | --output) file=$(value "$@"); shift ;;
      -*) die "cluster kubeconfig: unknown flag $1" ;;
      *) ref=$1 ;;
    esac
    shift
  done
  [ -n "$ref" ] || die "cluster kubeconfig: which cluster? (do.sh cluster kubeconfig NAME|ID [-o FILE])"
  id=$(cluster_id "$ref")
  if [ -z "$file" ]; then
    do_api GET "/v2/kubernetes/clusters/$id/kubeconfig"
    return 0
  fi
  do_api GET "/v2/kubernetes/clusters/$id/kubeconfig" >"$TMP/kubeconfig"
  dry_run && return 0
  # It holds an admin token: readable by its owner only.
  install -m 600 "$TMP/kubeconfig" "$file"
  echo "kubeconfig of cluster $ref written to $file"
}

cluster_list() {
  local r
  r=$(do_api GET "/v2/kubernetes/clusters?per_page=200")
  dry_run && return 0
  {
    echo "ID NAME REGION VERSION STATE NODES"
    jq -r '.kubernetes_clusters[] | [.id, .name, .region, .version, .status.state,
      ([.node_pools[].count] | add | tostring)] | join(" ")' <<<"$r"
  } | table
}

cluster_delete() {
  [ $# -eq 1 ] || die "cluster delete: which cluster? (do.sh cluster delete NAME|ID)"
  local id
  id=$(cluster_id "$1")
  do_api DELETE "/v2/kubernetes/clusters/$id" >/dev/null
  dry_run || echo "cluster $1 deleted"
}

# Space-separated rows -> aligned columns.
table() {
  awk '{ for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n[NR] = NF }
    END { for (r = 1; r <= NR; r++) { line = ""; for (i = 1; i <= n[r]; i++)
      line = line (i < n[r] ? sprintf("%-" w[i] + 2 "s", cell[r, i]) : cell[r, i]); print line } }'
}

command -v jq >/dev/null || die "jq is needed (apt-get install jq)"
command -v curl >/dev/null || die "curl is needed (apt-get install curl)"

case "${1:-}:${2:-}" in
  token-check:*) shift; [ $# -eq 0 ] || die "token-check takes no arguments"; token_check ;;
  ssh-key:*) [ $# -eq 2 ] || die "ssh-key: which key? (do.sh ssh-key NAME)"; ssh_key_id "$2" ;;
  droplet:create) shift 2; droplet_create "$@" ;;
  droplet:list) droplet_list ;;
  droplet:delete) shift 2; droplet_delete "$@" ;;
  cluster:options) cluster_options ;;
  cluster:create) shift 2; cluster_create "$@" ;;
  cluster:wait) shift 2; cluster_wait "$@" ;;
  cluster:kubeconfig) shift 2; cluster_kubeconfig "$@" ;;
  cluster:list) cluster_list ;;
  cluster:delete) shift 2; cluster_delete "$@" ;;
  -h:* | --help:* | help:*) usage ;;
  :) usage >&2; exit 2 ;;
  *) die "unknown command: $* (do.sh --help lists them)" ;;
esac
