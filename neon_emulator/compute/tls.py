"""The emulator's certificate authority and the server certificates its endpoints present.

Neon hands out URIs with `sslmode=require&channel_binding=require` (issue #15), so every
endpoint and pooler address speaks TLS. One CA per data dir (`tls/ca.pem`, also copied next
to credentials.json as `ca.pem`, so `sslrootcert=` makes `verify-ca`/`verify-full` work) and
one server key; each endpoint gets a leaf certificate for its own addresses (direct and
pooler IPs), because the hosts are loopback IPs allocated on the fly and no single SAN
list could cover them all. Everything is made with `cryptography` on first use and reused
afterwards (the files are the cache). EC P-256 keys: generation costs milliseconds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALID = dt.timedelta(days=3650)
CA_NAME = "ca.pem"


@dataclass(frozen=True)
class Identity:
    """What a listener presents: the TLS context and its certificate (for channel binding)."""

    context: ssl.SSLContext
    end_point_hash: bytes  # RFC 5929 tls-server-end-point: hash of the DER certificate


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    tmp.replace(path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "neon-emulator"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


class Authority:
    """The CA and server key under `<data_dir>/tls`; leaf certificates on demand."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._identities: dict[tuple[str, ...], Identity] = {}

    @property
    def ca_file(self) -> Path:
        return self.root / CA_NAME

    @property
    def _ca_key(self) -> Path:
        return self.root / "ca.key"

    @property
    def _server_key(self) -> Path:
        return self.root / "server.key"

    def ensure(self) -> Path:
        """Create the CA and the server key once; returns the CA file."""
        with self._lock:
            if self.ca_file.exists() and self._server_key.exists():
                return self.ca_file
            self.root.mkdir(parents=True, exist_ok=True)
            key = ec.generate_private_key(ec.SECP256R1())
            now = dt.datetime.now(dt.UTC)
            name = _name("neon-emulator local CA")
            cert = (
                x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + _VALID)
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(
                    digital_signature=True, key_cert_sign=True, crl_sign=True,
                    content_commitment=False, key_encipherment=False, data_encipherment=False,
                    key_agreement=False, encipher_only=False, decipher_only=False),
                    critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                               critical=False)
                .sign(key, hashes.SHA256())
            )
            _write(self._ca_key, _key_pem(key), 0o600)
            _write(self._server_key, _key_pem(ec.generate_private_key(ec.SECP256R1())), 0o600)
            _write(self.ca_file, cert.public_bytes(serialization.Encoding.PEM), 0o644)
            return self.ca_file

    def identity(self, hosts: list[str]) -> Identity:
        """A server identity for these hosts (IPs or names), signed by the CA; cached."""
        key = tuple(sorted(set(hosts)))
        with self._lock:
            cached = self._identities.get(key)
        if cached is not None:
            return cached
        self.ensure()
        certs = self.root / "certs"
        certs.mkdir(exist_ok=True)
        path = certs / (hashlib.sha256(",".join(key).encode()).hexdigest()[:24] + ".pem")
        if not path.exists():
            _write(path, self._issue(list(key)), 0o644)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(str(path), str(self._server_key))
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        algo = cert.signature_hash_algorithm
        name = "sha256" if algo is None or algo.name in ("md5", "sha1") else algo.name
        der = cert.public_bytes(serialization.Encoding.DER)
        ident = Identity(ctx, hashlib.new(name, der).digest())
        with self._lock:
            self._identities[key] = ident
        return ident

    def _issue(self, hosts: list[str]) -> bytes:
        ca_key = serialization.load_pem_private_key(self._ca_key.read_bytes(), password=None)
        server_key = serialization.load_pem_private_key(self._server_key.read_bytes(),
                                                        password=None)
        ca = x509.load_pem_x509_certificate(self.ca_file.read_bytes())
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        assert isinstance(server_key, ec.EllipticCurvePrivateKey)
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder().subject_name(_name(hosts[0])).issuer_name(ca.subject)
            .public_key(server_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + _VALID)
            .add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM)

