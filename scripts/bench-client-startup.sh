#!/bin/sh
# Startup-to-result of `kubelab list-nodes -q` against a running sandbox, compared with the
# bare kube-rs program examples/bare_list_nodes.rs (same kubeconfig, same request).
# (scripts/bench.sh is the sandbox benchmark; this one is the client side.)
# Needs hyperfine (apt-get install -y hyperfine). Debug builds (as everything on the shared machine); see benches/RESULTS.md.
set -eu
cd "$(dirname "$0")/.."
cargo build --quiet --bin kubelab --example bare_list_nodes
export KUBELAB_HOME="${KUBELAB_HOME:-$(mktemp -d)}"
bin=target/debug/kubelab
$bin sandbox start -q
kubeconfig="$KUBELAB_HOME/kubeconfig"
trap '$bin sandbox stop -q' EXIT
hyperfine --warmup 5 --runs "${RUNS:-50}" -N \
  --command-name "bare kube-rs (KUBECONFIG)" "env KUBECONFIG=$kubeconfig target/debug/examples/bare_list_nodes" \
  --command-name "kubelab list-nodes -q --kubeconfig" "$bin list-nodes -q --kubeconfig $kubeconfig" \
  --command-name "kubelab list-nodes -q (sandbox of KUBELAB_HOME)" "$bin list-nodes -q" \
  --command-name "kubelab list-nodes (full narration)" "$bin list-nodes" \
  --export-markdown "${BENCH_MD:-/dev/stdout}"
