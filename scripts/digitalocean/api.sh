# shellcheck shell=bash
# One request to DigitalOcean's API v2 with curl: `do_api METHOD PATH [JSON BODY]` prints the
# response body, or stops the script with one line saying what went wrong. Sourced by do.sh.
#
#   DIGITALOCEAN_TOKEN   the personal access token (required)
#   DIGITALOCEAN_API     the API's base URL (default https://api.digitalocean.com)
#   DRY_RUN=1            print each request instead of sending it (do.sh --dry-run)

DIGITALOCEAN_API="${DIGITALOCEAN_API:-https://api.digitalocean.com}"
DIGITALOCEAN_API="${DIGITALOCEAN_API%/}"
DRY_RUN="${DRY_RUN:-0}"

# Dry-run output goes to fd 3, the script's stdout, even from inside `$(do_api ...)`.
exec 3>&1

die() {
  echo "do.sh: error: $*" >&2
  exit 1
}

dry_run() { [ "$DRY_RUN" = 1 ]; }

need_token() {
  [ -n "${DIGITALOCEAN_TOKEN:-}" ] ||
    die "DIGITALOCEAN_TOKEN is not set (create a token at https://cloud.digitalocean.com/account/api/tokens)"
}

# The token as dry-run shows it: its dop_v1_ prefix and last four characters, no more.
masked_token() {
  local t=$DIGITALOCEAN_TOKEN prefix=""
  case $t in dop_v1_*) prefix=dop_v1_ t=${t#dop_v1_} ;; esac
  if [ "${#t}" -gt 8 ]; then echo "$prefix****${t: -4}"; else echo "$prefix****"; fi
}

do_api() {
  local method=$1 path=$2 body=${3:-}
  local url="$DIGITALOCEAN_API$path"
  need_token
  if dry_run; then
    {
      echo "$method $url"
      echo "Authorization: Bearer $(masked_token)"
      if [ -n "$body" ]; then
        echo "Content-Type: application/json"
        jq . <<<"$body"
      fi
      echo
    } >&3
    return 0
  fi
  local out="$TMP/response" code
  # The token goes to curl on stdin (a config line), so it never shows in `ps`.
  if ! code=$(curl -sS -o "$out" -w '%{http_code}' -X "$method" \
    --config - \
    -H 'Content-Type: application/json' -H 'Accept: application/json' \
    --user-agent "kubelab-do.sh/1 curl" \
    ${body:+--data-binary "$body"} \
    "$url" 2>"$TMP/curl-error" <<<"header = \"Authorization: Bearer $DIGITALOCEAN_TOKEN\""); then
    die "$method $url: $(sed -n '1s/^curl: ([0-9]*) //p' "$TMP/curl-error")"
  fi
  case $code in
    2??) cat "$out" ;;
    *)
      local why
      why=$(jq -r 'select(.id and .message) | "\(.id): \(.message)"' "$out" 2>/dev/null) || why=""
      [ -n "$why" ] || why=$(head -c 200 "$out" | tr -s '\n' ' ')
      die "$method $path: HTTP $code ${why:-(no body)}"
      ;;
  esac
}
