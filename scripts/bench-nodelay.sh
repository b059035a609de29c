#!/bin/sh
# One new connection per run: `kubelab list-nodes -q --kubeconfig …` against the sandbox and
# against scripts/nagle-tls-server.py (which, like kube-apiserver's Go TLS stack, sends
# nothing after the client's TLS Finished, so Nagle's algorithm on the client shows), with
# curl (TCP_NODELAY by default) as the reference. BEFORE=/path/to/kubelab adds an older
# binary (e.g. one built without TCP_NODELAY). Needs hyperfine, python3, openssl, curl.
# See benches/RESULTS.md ("one connection").
set -eu
cd "$(dirname "$0")/.."
cargo build --quiet --bin kubelab
bin=target/debug/kubelab
work=$(mktemp -d)
export KUBELAB_HOME="$work/home"
$bin sandbox start -q

# A CA and a certificate for 127.0.0.1, and a kubeconfig, for the stand-in server.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=bench-ca \
  -keyout "$work/ca.key" -out "$work/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 \
  -keyout "$work/server.key" -out "$work/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$work/ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial -days 1 \
  -extfile "$work/ext" -out "$work/server.crt" 2>/dev/null
python3 scripts/nagle-tls-server.py "$work/server.crt" "$work/server.key" "$work/port" &
server=$!
trap 'kill $server; $bin sandbox stop -q; rm -rf "$work"' EXIT
while [ ! -s "$work/port" ]; do sleep 0.1; done
port=$(cat "$work/port")
cat >"$work/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: go-like
  cluster: {server: "https://127.0.0.1:$port", certificate-authority: "$work/ca.crt"}
contexts:
- name: go-like
  context: {cluster: go-like, user: bench}
current-context: go-like
users:
- name: bench
  user: {token: bench-token}
KC

sandbox_kc="$KUBELAB_HOME/kubeconfig"
sandbox_url="https://127.0.0.1:$(cat "$KUBELAB_HOME/sandbox.port")/api/v1/nodes"
token=$(cat "$KUBELAB_HOME/token")
set --
if [ -n "${BEFORE:-}" ]; then
  set -- "$@" --command-name "sandbox: BEFORE list-nodes -q" "$BEFORE list-nodes -q --kubeconfig $sandbox_kc"
fi
set -- "$@" --command-name "sandbox: kubelab list-nodes -q" "$bin list-nodes -q --kubeconfig $sandbox_kc" \
  --command-name "sandbox: curl" "curl -sf -o /dev/null --cacert $KUBELAB_HOME/ca.crt -H 'Authorization: Bearer $token' $sandbox_url"
if [ -n "${BEFORE:-}" ]; then
  set -- "$@" --command-name "go-like TLS: BEFORE list-nodes -q" "$BEFORE list-nodes -q --kubeconfig $work/kubeconfig"
fi
set -- "$@" --command-name "go-like TLS: kubelab list-nodes -q" "$bin list-nodes -q --kubeconfig $work/kubeconfig" \
  --command-name "go-like TLS: curl" "curl -sf -o /dev/null --cacert $work/ca.crt https://127.0.0.1:$port/api/v1/nodes"
hyperfine --warmup 5 --runs "${RUNS:-50}" -N "$@" --export-markdown "${BENCH_MD:-/dev/stdout}"
