#!/usr/bin/env bash
# Sandbox benchmarks: the in-repo harness (benches/sandbox.rs) and wrk for raw create
# throughput over 16 connections. Figures go to benches/RESULTS.md by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }

cargo bench --bench sandbox

cargo build --release --quiet
home=$(mktemp -d)
trap 'KUBELAB_HOME=$home target/release/kubelab sandbox stop -q >/dev/null 2>&1; rm -rf "$home"' EXIT
KUBELAB_HOME=$home target/release/kubelab sandbox start -q
port=$(cat "$home/sandbox.port")
token=$(cat "$home/token")
lua=$(mktemp --suffix=.lua)
cat > "$lua" <<LUA
-- every request creates a uniquely named pod
local n = 0
local thread_id = 0
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end
request = function()
  n = n + 1
  local body = '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"wrk-' .. id .. '-' .. n .. '"},"spec":{"containers":[{"name":"app","image":"nginx:1.27"}]}}'
  return wrk.format("POST", "/api/v1/namespaces/default/pods", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer $token"}, body)
end
LUA
echo "wrk: creates with 16 connections for 10 s"
wrk -t2 -c16 -d10s -s "$lua" "https://127.0.0.1:$port"
echo "resident memory after the wrk run: $(grep VmRSS /proc/$(cat "$home/sandbox.pid")/status)"
echo "objects: $(KUBELAB_HOME=$home target/release/kubelab sandbox status -o json | grep objects)"
