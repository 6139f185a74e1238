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

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: missing ${missing[*]}; install them with your package manager and re-run" >&2
    exit 1
  fi
  echo "bootstrap: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
