#!/usr/bin/env bash
# Smoke test of a running catalog service: liveness, readiness (its database), one read of the API and its OpenAPI
# document. Usage: scripts/smoke.sh BASE_URL [VERSION] (e.g. https://api.staging.strata.example.com, or env=local's
# Traefik). With VERSION, the service must also report that version (its OpenAPI document's info.version): a deploy
# that left the old release running fails here instead of passing on a 200.
set -euo pipefail

base="${1:?usage: scripts/smoke.sh BASE_URL [VERSION]}"
want_version="${2:-}"
base="${base%/}"
fail=0
check() {
  local path="$1" want="$2" got
  got=$(curl --silent --show-error --max-time 10 --retry 3 --retry-delay 2 --retry-all-errors \
    --output /dev/null --write-out '%{http_code}' "${base}${path}") || got="000"
  if [[ "$got" == "$want" ]]; then
    echo "ok   ${path} ${got}"
  else
    echo "FAIL ${path} ${got} (want ${want})" >&2
    fail=1
  fi
}
check /healthz 200
check /readyz 200
check "/api/v1/categories?limit=1" 200
check /api/v1/openapi.json 200
if [[ -n "$want_version" ]]; then
  served=$(curl --silent --show-error --max-time 10 "${base}/api/v1/openapi.json" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["info"]["version"])' 2>/dev/null) || served="?"
  if [[ "$served" == "$want_version" ]]; then
    echo "ok   version ${served}"
  else
    echo "FAIL version ${served} (want ${want_version})" >&2
    fail=1
  fi
fi
exit "$fail"
