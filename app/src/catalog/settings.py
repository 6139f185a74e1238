"""All configuration, from the environment (twelve-factor). docs/app/configuration.md lists every variable.

Each field below is read from `CATALOG_<FIELD>` (for example `CATALOG_DB_HOST`). How the service proves who it is
to the database is CATALOG_DB_AUTH: `password` (CATALOG_DB_PASSWORD, the only secret: refused outside
`CATALOG_ENV=local` when it is the local default or empty), `iam` (a fresh RDS IAM token for each new connection,
signed with the pod's own role: no password exists) or `secret` (the password read from Secrets Manager at each new
connection, so that a rotation never leaves a stale copy behind: the migration Job's way to the master user).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL

LOCAL_DEFAULT_PASSWORD = "catalog-local-only"  # noqa: S105 - the documented local default, refused elsewhere
# The Amazon RDS certificate authorities (CATALOG_DB_SSLROOTCERT=rds), shipped in the wheel and so in the image.
RDS_CA_BUNDLE = Path(__file__).parent / "certs" / "rds-global-bundle.pem"
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class Settings(BaseSettings):
    """The service's settings; server (gunicorn) settings live in ServerSettings."""

    model_config = SettingsConfigDict(env_prefix="CATALOG_", extra="ignore", frozen=True)

    env: Literal["local", "dev", "staging", "production"] = "local"
    # Primary (writes, and reads when no replica is configured).
    db_host: str = "127.0.0.1"
    db_port: int = Field(5432, ge=1, le=65535)
    db_name: str = "catalog"
    db_user: str = "catalog"
    db_password: SecretStr = SecretStr(LOCAL_DEFAULT_PASSWORD)
    db_auth: Literal["password", "iam", "secret"] = "password"
    # db_auth=secret: the secret's ARN (or name); its JSON carries `password` (an RDS-managed master secret does).
    db_password_secret: str | None = None
    # db_auth=iam|secret: the region of the database and the secret (default: AWS_REGION, as boto3 reads it).
    db_region: str | None = None
    # catalog-migrate only: after migrating, make this login role able to read and write the tables and nothing
    # more (no DDL, no other database), and on RDS a member of rds_iam (it logs in with IAM tokens).
    db_app_role: str | None = None
    # catalog-migrate only: make this login the monitoring's (pg_monitor: statistics, never data), with the password
    # of the secret CATALOG_DB_MONITOR_PASSWORD_SECRET (the platform generates it; the exporter reads it).
    db_monitor_role: str | None = None
    db_monitor_password_secret: str | None = None
    # Reads go here when set: the RDS standby's read replica or the Aurora reader endpoint.
    db_replica_host: str | None = None
    db_replica_port: int | None = Field(None, ge=1, le=65535)
    db_sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "prefer"
    # The CA file that verify-ca/verify-full check the server's certificate against; `rds` is the Amazon RDS bundle
    # shipped in the package (catalog/certs/rds-global-bundle.pem). Under verify-full, the host must be a name the
    # certificate covers: on AWS the RDS endpoint itself, not a private CNAME pointing at it.
    db_sslrootcert: str | None = None
    db_pool_size: int = Field(5, ge=1, le=100)
    db_max_overflow: int = Field(5, ge=0, le=100)
    db_pool_timeout: float = Field(5.0, gt=0, le=120)
    db_pool_recycle: int = Field(1800, ge=-1)
    db_connect_timeout: int = Field(3, ge=1, le=60)
    db_statement_timeout_ms: int = Field(5000, ge=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    request_id_header: str = "X-Request-ID"
    root_path: str = ""
    # Tracing is on when an OTLP endpoint is set (here or as the standard OTEL_EXPORTER_OTLP_ENDPOINT).
    otel_endpoint: str | None = None
    otel_service_name: str = "catalog"

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        password = self.db_password.get_secret_value()
        if self.db_auth == "password" and self.env != "local" and password in ("", LOCAL_DEFAULT_PASSWORD):
            raise ValueError(
                f"CATALOG_DB_PASSWORD is empty or the local default while CATALOG_ENV={self.env}: "
                "set it from the database secret (Secrets Manager), never the local default"
            )
        if self.env == "production" and self.db_sslmode != "verify-full":
            raise ValueError(
                f"CATALOG_DB_SSLMODE={self.db_sslmode} while CATALOG_ENV=production: use verify-full (with "
                "CATALOG_DB_SSLROOTCERT=rds on AWS), so that the service talks to its database and nothing else"
            )
        if self.db_sslmode in ("verify-ca", "verify-full"):
            if not self.db_sslrootcert:
                raise ValueError(
                    f"CATALOG_DB_SSLMODE={self.db_sslmode} needs CATALOG_DB_SSLROOTCERT: the CA file to verify the "
                    "server against (rds: the Amazon RDS bundle shipped with the service)"
                )
            if not Path(self.sslrootcert_path or "").is_file():
                raise ValueError(f"CATALOG_DB_SSLROOTCERT={self.db_sslrootcert}: no such file")
        if self.db_auth == "secret" and not self.db_password_secret:
            raise ValueError("CATALOG_DB_AUTH=secret needs CATALOG_DB_PASSWORD_SECRET: the secret's ARN")
        if (
            self.db_auth == "iam"
            and self.env != "local"
            and self.db_sslmode not in ("require", "verify-ca", "verify-full")
        ):
            raise ValueError(
                f"CATALOG_DB_AUTH=iam with CATALOG_DB_SSLMODE={self.db_sslmode}: RDS accepts IAM tokens over TLS "
                "only; use verify-full (with CATALOG_DB_SSLROOTCERT=rds)"
            )
        for name, role in (("APP_ROLE", self.db_app_role), ("MONITOR_ROLE", self.db_monitor_role)):
            if role is not None and not ROLE_NAME.match(role):
                raise ValueError(
                    f"CATALOG_DB_{name}={role}: a lower-case letter or _, then lower-case letters, digits, _"
                )
        if bool(self.db_monitor_role) != bool(self.db_monitor_password_secret):
            raise ValueError(
                "CATALOG_DB_MONITOR_ROLE and CATALOG_DB_MONITOR_PASSWORD_SECRET go together: set both or neither"
            )
        if (self.db_replica_port is not None) and not self.db_replica_host:
            raise ValueError("CATALOG_DB_REPLICA_PORT is set without CATALOG_DB_REPLICA_HOST: set both or neither")
        return self

    @property
    def sslrootcert_path(self) -> str | None:
        """The CA file libpq reads: `rds` is the bundle shipped in this package."""
        if self.db_sslrootcert == "rds":
            return str(RDS_CA_BUNDLE)
        return self.db_sslrootcert

    def url(self, replica: bool = False) -> URL:
        host = self.db_replica_host if replica and self.db_replica_host else self.db_host
        port = (self.db_replica_port or self.db_port) if replica and self.db_replica_host else self.db_port
        return URL.create(
            "postgresql+psycopg",
            username=self.db_user,
            # iam and secret: catalog.db sets the password of each new connection (a token, the secret's value).
            password=self.db_password.get_secret_value() if self.db_auth == "password" else None,
            host=host,
            port=port,
            database=self.db_name,
            query={
                "sslmode": self.db_sslmode,
                "connect_timeout": str(self.db_connect_timeout),
                **({"sslrootcert": self.sslrootcert_path} if self.sslrootcert_path else {}),
            },
        )

    @property
    def has_replica(self) -> bool:
        return bool(self.db_replica_host)


class ServerSettings(BaseSettings):
    """gunicorn's settings (read by catalog.gunicorn_conf)."""

    model_config = SettingsConfigDict(env_prefix="CATALOG_", extra="ignore", frozen=True)

    bind: str = "127.0.0.1:8000"
    workers: int = Field(2, ge=1, le=64)
    timeout: int = Field(30, ge=1)
    graceful_timeout: int = Field(20, ge=1)
    keepalive: int = Field(5, ge=0)
    max_requests: int = Field(0, ge=0)
    max_requests_jitter: int = Field(0, ge=0)
    pidfile: str | None = None
    access_log: bool = False
    # On SIGTERM: answer /readyz 503 for this long before the listeners close, so that the load balancer's
    # health check takes the instance out of rotation first (Kubernetes: a preStop sleep does the same).
    drain_seconds: float = Field(0.0, ge=0, le=300)


def load_settings() -> Settings:
    """Settings from the environment, secrets also from files: with CATALOG_SECRETS_DIR set, a file named
    `catalog_db_password` there (a mounted Kubernetes Secret, the local runtime's secrets folder) provides
    CATALOG_DB_PASSWORD without putting it in the environment."""
    secrets_dir = os.environ.get("CATALOG_SECRETS_DIR")
    return Settings(_secrets_dir=secrets_dir) if secrets_dir else Settings()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
