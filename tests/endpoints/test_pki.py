"""The test PKI is deterministic: the same DER, the same keys, in every process."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import serialization

from biopair.endpoints import pki


def _fingerprints() -> list[str]:
    out = []
    for key_type in pki.KEY_TYPES:
        creds = pki.leaf("server.test", key_type)
        der = creds.cert.public_bytes(serialization.Encoding.DER)
        out.append(hashlib.sha256(der).hexdigest())
    out.append(hashlib.sha256(pki.ca()[0].public_bytes(serialization.Encoding.DER)).hexdigest())
    return out


def test_certificates_are_identical_across_processes() -> None:
    code = "from tests.endpoints.test_pki import _fingerprints as f; print(*f())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == _fingerprints()


@pytest.mark.parametrize("key_type", pki.KEY_TYPES)
def test_leaves_chain_to_the_ca(key_type: str) -> None:
    creds = pki.leaf("server.test", key_type)
    ca_cert, _ = pki.ca()
    creds.cert.verify_directly_issued_by(ca_cert)
    assert creds.key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == creds.cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_rsa_key_is_2048_bits_and_valid() -> None:
    key = pki.private_key("rsa-2048", "leaf/server.test")
    assert key.key_size == 2048  # type: ignore[union-attr]


def test_variants_differ_where_they_should() -> None:
    base = pki.leaf("server.test")
    expired = pki.leaf("server.test", validity="expired").cert
    # not_valid_after_utc from cryptography 42; older releases have only not_valid_after.
    after = getattr(expired, "not_valid_after_utc", None) or expired.not_valid_after
    assert after.year == 2001
    assert pki.leaf("server.test", issuer="other-ca").cert.issuer != base.cert.issuer
    padded = pki.leaf("server.test", padding=5000)
    size = len(padded.cert.public_bytes(serialization.Encoding.DER))
    assert size > 5000 > len(base.cert.public_bytes(serialization.Encoding.DER))
    with pytest.raises(ValueError, match="unknown key type"):
        pki.private_key("dsa", "x")
