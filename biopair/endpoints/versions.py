"""Versions of biopair and of the TLS stack under it, for reports and trace headers."""

from __future__ import annotations

import functools
from importlib import metadata

from OpenSSL import SSL


@functools.lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    """biopair, pyOpenSSL, cryptography and the OpenSSL pyOpenSSL is linked against."""
    out = {}
    for dist in ("biopair", "pyOpenSSL", "cryptography"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    out["OpenSSL"] = SSL.OpenSSL_version(SSL.OPENSSL_VERSION).decode()
    return out
