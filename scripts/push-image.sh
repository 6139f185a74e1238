#!/usr/bin/env bash
# Pushes the image `make image` built to the environment's ECR repository (strata/api) and prints, for
# $GITHUB_OUTPUT, the version (its tag) and the digest the registry gave it. Credentials: the standard chain (in CI,
# the OIDC role of aws-actions/configure-aws-credentials); the registry password goes to podman on stdin.
set -euo pipefail
cd "$(dirname "$0")/.."

region="${AWS_REGION:-eu-west-3}"
repository="${ECR_REPOSITORY:-strata/api}"
version=$(.venv/bin/python -c 'import tomllib; print(tomllib.load(open("app/pyproject.toml", "rb"))["project"]["version"])')
registry=$(.venv/bin/python - "$region" <<'PY'
import sys, boto3
account = boto3.client("sts", region_name=sys.argv[1]).get_caller_identity()["Account"]
print(f"{account}.dkr.ecr.{sys.argv[1]}.amazonaws.com")
PY
)
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/lab/containers.conf}"
.venv/bin/python - "$region" <<'PY' | podman login --username AWS --password-stdin "$registry" >&2
import base64, sys, boto3
token = boto3.client("ecr", region_name=sys.argv[1]).get_authorization_token()["authorizationData"][0]
print(base64.b64decode(token["authorizationToken"]).decode().split(":", 1)[1])
PY
target="${registry}/${repository}:${version}"
podman tag "localhost/strata-catalog:${version}" "$target" >&2
podman push --digestfile digest.txt "$target" >&2
echo "version=${version}"
echo "digest=$(cat digest.txt)"
