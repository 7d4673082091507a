"""A Redis reached over TLS only (``rediss://``, with a password too): the hub's store
pool and its feed reader both connect through TLS from the one URL. The certificates are
made here, for a redis-server started with ``--port 0 --tls-port``."""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.integration.test_redis_auth import confirm_round_trip
from tests.support.redis_proc import free_port
from tests.support.timing import MS

PASSWORD = "tls-s3cret"


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name | None,
          issuer_key: ec.EllipticCurvePrivateKey | None, *, ca: bool) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder().subject_name(name).issuer_name(issuer or name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        ), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def make_certs(folder: Path) -> tuple[Path, Path, Path]:
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _cert("tether test CA", ca_key, None, None, ca=True)
    cert = _cert("127.0.0.1", key, ca.subject, ca_key, ca=False)
    paths = folder / "ca.pem", folder / "redis.pem", folder / "redis.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))
    return paths


def tls_answers(port: int, ca: Path, proc: subprocess.Popen[bytes]) -> bool:
    context = ssl.create_default_context(cafile=str(ca))
    deadline = time.monotonic() + 5000 * MS
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as raw, \
                    context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"-NOAUTH")
        except OSError:
            time.sleep(10 * MS)  # poll interval of a deadline-bound wait
    return False


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[str]:
    """A ``rediss://`` URL (password, CA) of a redis-server that speaks only TLS."""
    binary = shutil.which("redis-server")
    assert binary is not None
    ca, cert, key = make_certs(tmp_path)
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(cert), "--tls-key-file", str(key), "--tls-ca-cert-file", str(ca),
         "--tls-auth-clients", "no", "--requirepass", PASSWORD, "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path), "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        if not tls_answers(port, ca, proc):
            pytest.fail("redis-server with TLS did not start")
        yield f"rediss://:{PASSWORD}@127.0.0.1:{port}/0?ssl_ca_certs={ca}"
    finally:
        proc.terminate()
        proc.wait()


async def test_a_hub_works_against_a_redis_over_tls(tls_redis: str) -> None:
    await confirm_round_trip(tls_redis)


def _sentinel_knows_primary(port: int, ca: Path, proc: subprocess.Popen[bytes]) -> bool:
    import redis

    deadline = time.monotonic() + 10_000 * MS
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with redis.Redis(port=port, ssl=True, ssl_ca_certs=str(ca), socket_timeout=1) as s:
                state = s.sentinel_master("tls-service")
                if state["is_master"] and not state["is_sdown"]:
                    return True
        except redis.RedisError:
            pass
        time.sleep(20 * MS)  # poll interval of a deadline-bound wait
    return False


@pytest.fixture
def tls_sentinel(tls_redis: str, tmp_path: Path) -> Iterator[str]:
    """A ``rediss+sentinel://`` URL: one sentinel that speaks only TLS, monitoring the
    ``tls_redis`` primary (with the same certificates)."""
    binary = shutil.which("redis-server")
    assert binary is not None
    primary_port = tls_redis.split("@127.0.0.1:", 1)[1].split("/", 1)[0]
    ca, cert, key = (tmp_path / name for name in ("ca.pem", "redis.pem", "redis.key"))
    sentinel_port = free_port()
    conf = tmp_path / "sentinel.conf"
    conf.write_text("\n".join([
        "port 0", f"tls-port {sentinel_port}", "bind 127.0.0.1", f"dir {tmp_path}",
        f"tls-cert-file {cert}", f"tls-key-file {key}", f"tls-ca-cert-file {ca}",
        "tls-auth-clients no", "tls-replication yes", "loglevel warning",
        f"sentinel monitor tls-service 127.0.0.1 {primary_port} 1",
        f"sentinel auth-pass tls-service {PASSWORD}", "",
    ]))
    proc = subprocess.Popen([binary, str(conf), "--sentinel"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        if not _sentinel_knows_primary(sentinel_port, ca, proc):
            pytest.fail("redis-sentinel with TLS did not start")
        yield (f"rediss+sentinel://:{PASSWORD}@127.0.0.1:{sentinel_port}/tls-service/0"
               f"?ssl_ca_certs={ca}")
    finally:
        proc.terminate()
        proc.wait()


async def test_a_hub_works_behind_a_sentinel_over_tls(tls_sentinel: str) -> None:
    """``rediss+sentinel://``: TLS to the sentinel (to find the primary) and to the primary
    (the store's pool and the feed reader), the primary's password and CA from the URL."""
    await confirm_round_trip(tls_sentinel)
