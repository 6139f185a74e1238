"""RDS IAM database authentication, rehearsed: a real PostgreSQL that accepts an IAM token as RDS does.

On RDS, a login role granted `rds_iam` authenticates with a token instead of a password: a SigV4-presigned
request `<host>:<port>/?Action=connect&DBUser=<role>&X-Amz-...` signed for the service `rds-db` by an IAM principal
allowed `rds-db:connect` on `arn:aws:rds-db:<region>:<account>:dbuser:<resource id>/<role>`, valid 15 minutes.
The client makes it locally (botocore's `generate_db_auth_token`, no API call), so a fresh token per new connection
costs nothing.

Here PostgreSQL's PAM authentication runs `verify` (through pam_exec) for the members of `rds_iam`, which checks
what RDS checks of the token itself: the action, the user it names against the login role, the host and port, the
service and region, the expiry, and the signature against the credentials it was told about. What it cannot
check is the IAM policy (the embedded cloud evaluates none): the platform's tests read that policy back instead.

`pam_setup(folder, ...)` writes the PAM service and the verifier's configuration; `hba_line()` is the pg_hba.conf
line that routes the rds_iam members to it; `mount_wrapper()` runs the server in a mount namespace where
/etc/pam.d is that folder (nothing global changes).
"""

from __future__ import annotations

import datetime
import hmac
import json
import os
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from botocore.auth import SIGV4_TIMESTAMP, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

PAM_SERVICE = "rds-iam"
TOKEN_LIFETIME = 900  # seconds; what generate_db_auth_token signs and RDS honours


class Refused(Exception):
    """The token is not one RDS would accept for this login."""


def check(token: str, user: str, *, host: str, port: int, region: str, keys: dict[str, str],
          now: datetime.datetime | None = None) -> None:  # fmt: skip
    """Raise Refused unless `token` is a valid RDS IAM token for `user` at host:port."""
    netloc, _, query = token.partition("/?")
    params = dict(parse_qsl(query, keep_blank_values=True))
    if netloc != f"{host}:{port}":
        raise Refused(f"the token is for {netloc}, not {host}:{port}")
    if params.get("Action") != "connect" or params.get("DBUser") != user:
        raise Refused(f"the token is not a connect for {user}")
    if params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" or params.get("X-Amz-SignedHeaders") != "host":
        raise Refused("the token is not SigV4-signed over the host")
    key_id, day, token_region, service, _ = (params.get("X-Amz-Credential", "") + "////").split("/", 4)
    if token_region != region or service != "rds-db":
        raise Refused(f"the token is signed for {service} in {token_region}, not rds-db in {region}")
    if key_id not in keys:
        raise Refused(f"unknown access key {key_id}")
    signed_at = datetime.datetime.strptime(params.get("X-Amz-Date", ""), SIGV4_TIMESTAMP).replace(tzinfo=datetime.UTC)
    expires = int(params.get("X-Amz-Expires", "0"))
    now = now or datetime.datetime.now(datetime.UTC)
    if not 0 < expires <= TOKEN_LIFETIME or now > signed_at + datetime.timedelta(seconds=expires):
        raise Refused("the token has expired")
    if day != signed_at.strftime("%Y%m%d"):
        raise Refused("the token's credential scope and date disagree")
    # Sign the same request again, at the token's own time, and compare.
    request = AWSRequest(method="GET", url=f"https://{netloc}/?" + urlencode({"Action": "connect", "DBUser": user}))
    request.context["timestamp"] = params["X-Amz-Date"]
    signer = SigV4QueryAuth(Credentials(key_id, keys[key_id]), "rds-db", region, expires=expires)
    signer._modify_request_before_signing(request)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    if not hmac.compare_digest(expected, params.get("X-Amz-Signature", "")):
        raise Refused("the token's signature does not match")


def pam_setup(folder: Path, *, host: str, port: int, region: str, keys: dict[str, str]) -> Path:
    """Write <folder>/pam.d/rds-iam (pam_exec of `verify`) and the verifier's configuration; return <folder>/pam.d."""
    pam_d = folder / "pam.d"
    pam_d.mkdir(parents=True, exist_ok=True)
    config = folder / "rds-iam.json"
    config.write_text(json.dumps({"host": host, "port": port, "region": region, "keys": keys}))
    config.chmod(0o600)
    script = folder / "rds-iam-verify"
    script.write_text(
        f"#!/bin/sh\nexec {sys.executable} -m strata.tools.rds_iam_auth {config} {folder / 'rds-iam.log'}\n"
    )
    script.chmod(0o755)
    (pam_d / PAM_SERVICE).write_text(
        f"auth required pam_exec.so expose_authtok quiet {script}\naccount required pam_permit.so\n"
    )
    return pam_d


def hba_line(network: str = "127.0.0.1/32") -> str:
    """The pg_hba.conf line, before the others: the rds_iam members log in with a token, never a password."""
    return f"host all +rds_iam {network} pam pamservice={PAM_SERVICE}\n"


def mount_wrapper(pam_d: Path, argv: list[str]) -> list[str]:
    """argv run where /etc/pam.d is pam_d (a private mount namespace; needs root, which every lab run has)."""
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount --bind "$0" /etc/pam.d && exec "$@"', str(pam_d), *argv]  # fmt: skip


def main(argv: list[str]) -> int:
    """pam_exec entry point: the token on stdin, the login role in PAM_USER; exit 0 to accept."""
    config = json.loads(Path(argv[0]).read_text())
    user = os.environ.get("PAM_USER", "")
    token = sys.stdin.readline().rstrip("\n\0")
    try:
        check(token, user, host=config["host"], port=config["port"], region=config["region"], keys=config["keys"])
    except (Refused, ValueError) as exc:
        verdict = f"refused {user}: {exc}"
    else:
        verdict = f"accepted {user}"
    if len(argv) > 1:
        with open(argv[1], "a", encoding="utf-8") as log:
            log.write(verdict + "\n")
    return 0 if verdict.startswith("accepted") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
