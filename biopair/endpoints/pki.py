"""A deterministic test PKI: the same keys, certificates and bytes on every run.

Every key is derived from a label (``sha256(label)`` seeds it), certificates have fixed
serials and dates, and the CA signs with Ed25519, whose signatures are deterministic, so
each certificate's DER is identical on every machine.  In the handshake itself:

* ``ed25519`` (the default) and ``rsa-2048`` sign CertificateVerify with a fixed-length
  signature (Ed25519 is deterministic; RSA-PSS uses a random salt but a fixed length), so a
  bytewise handshake takes exactly the same number of calls every run;
* ``ecdsa-p256`` is offered for realism, but ECDSA signatures are DER integers whose length
  varies run to run (70-72 bytes), so byte counts are not repeatable with it.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import ipaddress
import random
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

KeyType = Literal["ed25519", "ecdsa-p256", "rsa-2048"]
#: Key types a scenario may name in ``cert``.
KEY_TYPES: tuple[str, ...] = ("ed25519", "ecdsa-p256", "rsa-2048")
#: Issuers a scenario may name in ``cert_issuer``.
ISSUERS: tuple[str, ...] = ("ca", "other-ca", "self")
#: Validity windows a scenario may name in ``cert_validity``.
VALIDITIES: tuple[str, ...] = ("valid", "expired", "not-yet-valid")

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

_NOT_BEFORE = _dt.datetime(2020, 1, 1, tzinfo=_dt.UTC)
_NOT_AFTER = _dt.datetime(2100, 1, 1, tzinfo=_dt.UTC)
_WINDOWS = {
    "valid": (_NOT_BEFORE, _NOT_AFTER),
    "expired": (_dt.datetime(2000, 1, 1, tzinfo=_dt.UTC), _dt.datetime(2001, 1, 1, tzinfo=_dt.UTC)),
    "not-yet-valid": (
        _dt.datetime(2099, 1, 1, tzinfo=_dt.UTC),
        _dt.datetime(2100, 1, 1, tzinfo=_dt.UTC),
    ),
}


def _seed(label: str) -> bytes:
    return hashlib.sha256(b"biopair test pki/" + label.encode()).digest()


def _is_probable_prime(n: int, rng: random.Random) -> bool:
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(40):
        x = pow(rng.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(rng: random.Random, bits: int, e: int) -> int:
    while True:
        candidate = rng.getrandbits(bits) | (3 << (bits - 2)) | 1
        if candidate % e != 1 and _is_probable_prime(candidate, rng):
            return candidate


@functools.cache
def private_key(key_type: str, label: str) -> PrivateKey:
    """The private key of type ``key_type`` for ``label``; the same on every call and run."""
    seed = _seed(f"{key_type}/{label}")
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    if key_type == "ecdsa-p256":
        order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
        return ec.derive_private_key(int.from_bytes(seed) % (order - 1) + 1, ec.SECP256R1())
    if key_type == "rsa-2048":
        rng = random.Random(seed)
        e = 65537
        while True:
            p, q = _prime(rng, 1024, e), _prime(rng, 1024, e)
            if p != q and (p * q).bit_length() == 2048:
                break
        p, q = max(p, q), min(p, q)
        d = pow(e, -1, (p - 1) * (q - 1))
        numbers = rsa.RSAPrivateNumbers(
            p=p,
            q=q,
            d=d,
            dmp1=d % (p - 1),
            dmq1=d % (q - 1),
            iqmp=pow(q, -1, p),
            public_numbers=rsa.RSAPublicNumbers(e, p * q),
        )
        return numbers.private_key()
    raise ValueError(f"unknown key type {key_type!r}; expected one of {', '.join(KEY_TYPES)}")


def _sign_hash(key: PrivateKey) -> hashes.SHA256 | None:
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


@dataclass(frozen=True)
class Credentials:
    """A leaf certificate, its key and the chain to send with it (PEM-free, in objects)."""

    cert: x509.Certificate
    key: PrivateKey
    chain: tuple[x509.Certificate, ...]


@functools.cache
def ca(name: str = "ca") -> tuple[x509.Certificate, ed25519.Ed25519PrivateKey]:
    """A self-signed Ed25519 CA: ``ca`` is the one clients trust, ``other-ca`` is not."""
    key = private_key("ed25519", f"ca/{name}")
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"biopair test {name}")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1 if name == "ca" else 2)
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, None)
    )
    return cert, key


@functools.cache
def leaf(
    host: str,
    key_type: str = "ed25519",
    issuer: str = "ca",
    validity: str = "valid",
    padding: int = 0,
) -> Credentials:
    """A leaf certificate for ``host`` (DNS name, or an IP address).

    Args:
        host: the subject CN and subjectAltName.
        key_type: one of :data:`KEY_TYPES`.
        issuer: ``ca`` (trusted by default), ``other-ca`` (an unknown CA) or ``self``.
        validity: ``valid`` (2020-2100), ``expired`` (2000-2001) or ``not-yet-valid``.
        padding: bytes of an extra non-critical extension, to make the Certificate
            message large (a flight that does not fit a socket buffer).
    """
    key = private_key(key_type, f"leaf/{host}")
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    try:
        san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        san = x509.DNSName(host)
    not_before, not_after = _WINDOWS[validity]
    if issuer == "self":
        issuer_name, signer = subject, key
        chain: tuple[x509.Certificate, ...] = ()
    else:
        ca_cert, signer_ca = ca(issuer)
        issuer_name, signer = ca_cert.subject, signer_ca
        chain = ()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(_seed(f"serial/{host}/{key_type}/{validity}")[:8]) >> 1)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if padding:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(
                x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"),
                b"\x04" + _der_length(padding) + bytes(padding),
            ),
            critical=False,
        )
    cert = builder.sign(signer, _sign_hash(signer))
    return Credentials(cert=cert, key=key, chain=chain)


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8)
    return bytes([0x80 | len(body)]) + body


def pem(cert: x509.Certificate) -> bytes:
    """PEM text of a certificate (for external peers and users who want files)."""
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: PrivateKey) -> bytes:
    """Unencrypted PKCS#8 PEM of a private key."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
