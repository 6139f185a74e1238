"""TLS to the database for real: a PostgreSQL server with a certificate of its own CA, and the service's settings
under verify-full. The certificate must cover the name the service connects to - on AWS the RDS endpoint, never a
private CNAME pointing at it - and the CA file must be the server's (CATALOG_DB_SSLROOTCERT)."""

from __future__ import annotations

import datetime
import ipaddress
import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from app.tests.pg import Postgres
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError
from sqlalchemy import create_engine, text

from catalog.settings import RDS_CA_BUNDLE, Settings


def issue(subject: str, issuer: x509.Name | None, key: ec.EllipticCurvePrivateKey, signer: ec.EllipticCurvePrivateKey,
          *, ca: bool, names: list[x509.GeneralName] | None = None) -> x509.Certificate:  # fmt: skip
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(signer, hashes.SHA256())


@pytest.fixture(scope="module")
def tls_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Postgres, Path]]:
    folder = tmp_path_factory.mktemp("tls")
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = issue("strata test database CA", None, ca_key, ca_key, ca=True)
    names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    server = issue("localhost", ca.subject, server_key, ca_key, ca=False, names=names)
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server.pem").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key = folder / "server.key"
    key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key.chmod(0o600)
    pg = Postgres({"ssl": "on", "ssl_cert_file": str(folder / "server.pem"), "ssl_key_file": str(key)})
    try:
        pg.init()
        pg.start()
        yield pg, folder / "ca.pem"
    finally:
        pg.cleanup()


def settings(pg: Postgres, **overrides: object) -> Settings:
    base: dict[str, object] = {
        "db_host": "127.0.0.1",
        "db_port": pg.port,
        "db_name": "postgres",
        "db_user": "postgres",
        "db_password": pg.password,
        "db_sslmode": "verify-full",
    }
    return Settings(**{**base, **overrides})  # type: ignore[arg-type]


def server_tls(url: object) -> tuple[bool, str]:
    engine = create_engine(url)  # type: ignore[call-overload]
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).one()
            return bool(row[0]), str(row[1])
    finally:
        engine.dispose()


def test_verify_full_against_the_servers_ca_and_a_name_its_certificate_covers(
    tls_postgres: tuple[Postgres, Path],
) -> None:
    pg, ca = tls_postgres
    encrypted, version = server_tls(settings(pg, db_sslrootcert=str(ca)).url())
    assert encrypted and version.startswith("TLSv1.")


def test_another_ca_is_refused_so_the_url_carries_the_ca_file(tls_postgres: tuple[Postgres, Path]) -> None:
    """The RDS bundle does not vouch for this server: the connection fails, which proves the URL hands libpq the
    CA file of the setting (without it, libpq would look for ~/.postgresql/root.crt instead)."""
    pg, _ = tls_postgres
    with pytest.raises(Exception, match="certificate verify failed"):
        server_tls(settings(pg, db_sslrootcert="rds").url())


def test_a_private_cname_the_certificate_does_not_cover_fails_verify_full(tls_postgres: tuple[Postgres, Path]) -> None:
    """Why the service connects to the RDS endpoint: a name of the private zone (db.<env>.strata.internal) reaches
    the same server, but its certificate does not name it."""
    pg, ca = tls_postgres
    with pytest.raises(psycopg.OperationalError, match="does not match host name"):
        psycopg.connect(
            host="db.local.strata.internal", hostaddr="127.0.0.1", port=pg.port, dbname="postgres", user="postgres",
            password=pg.password, sslmode="verify-full", sslrootcert=str(ca), connect_timeout=3,
        ).close()  # fmt: skip


def test_verify_modes_need_a_ca_file_and_production_needs_verify_full() -> None:
    password = "from-secrets-manager"  # noqa: S105 - a test value, not a secret
    with pytest.raises(ValidationError, match="CATALOG_DB_SSLMODE=verify-full needs CATALOG_DB_SSLROOTCERT"):
        Settings(db_sslmode="verify-full")
    with pytest.raises(ValidationError, match=r"CATALOG_DB_SSLROOTCERT=/nonexistent\.pem: no such file"):
        Settings(db_sslmode="verify-ca", db_sslrootcert="/nonexistent.pem")
    with pytest.raises(ValidationError, match="use verify-full"):
        Settings(env="production", db_password=password, db_sslmode="require")  # type: ignore[arg-type]
    production = Settings(env="production", db_password=password, db_sslmode="verify-full", db_sslrootcert="rds")  # type: ignore[arg-type]
    assert production.sslrootcert_path == str(RDS_CA_BUNDLE)


def test_the_rds_bundle_ships_with_the_service_and_holds_the_regions_roots() -> None:
    """The bundle is AWS's roots, each self-signed and valid today, including eu-west-3's three (RSA2048, RSA4096,
    ECC384); CATALOG_DB_SSLROOTCERT=rds points at it."""
    pem = RDS_CA_BUNDLE.read_text()
    certs = [x509.load_pem_x509_certificate(block.encode()) for block in re.findall(
        r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", pem, re.DOTALL)]  # fmt: skip
    now = datetime.datetime.now(datetime.UTC)
    names = set()
    for cert in certs:
        cert.verify_directly_issued_by(cert)  # self-signed roots, intact
        assert cert.not_valid_before_utc <= now <= cert.not_valid_after_utc
        names.add(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
    assert {f"Amazon RDS eu-west-3 Root CA {kind} G1" for kind in ("RSA2048", "RSA4096", "ECC384")} <= names
    assert len(certs) > 60  # every region's roots, not one region's
    assert settings_path("rds") == str(RDS_CA_BUNDLE)


def settings_path(value: str) -> str | None:
    return Settings(db_sslmode="verify-full", db_sslrootcert=value).sslrootcert_path
