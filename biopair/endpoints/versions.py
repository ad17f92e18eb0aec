"""Versions of biopair and of the TLS stacks under it, in one place.

:func:`versions` is what reports and trace headers print (``biopair version``);
:func:`stack_versions` is the same information as numbers, by the library names version
conditions use (:mod:`biopair.scenario.conditions`).
"""

from __future__ import annotations

import functools
import re
import ssl
import sys
from importlib import metadata

from OpenSSL import SSL

from biopair.endpoints import _libssl

_NUMBER = re.compile(r"(\d+(?:\.\d+)*)")


@functools.lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    """biopair, pyOpenSSL, cryptography, the OpenSSL pyOpenSSL is linked against, and the
    system's libssl (OpenSSL_version() of ``libssl.so.3``, or where to get it)."""
    out = {}
    for dist in ("biopair", "pyOpenSSL", "cryptography"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    out["OpenSSL"] = SSL.OpenSSL_version(SSL.OPENSSL_VERSION).decode()
    out["libssl"] = _libssl.version() or f"not found ({_libssl.PACKAGE})"
    out.update(_optional_stacks("not installed"))
    return out


def _dist(name: str) -> str | None:
    # An optional framework's version (the wrappers extra), None where not installed.
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _optional_stacks(absent: str | None) -> dict[str, str]:
    # The in-process stacks whose library may be missing, by library name.
    from biopair.endpoints import tlslite, wolfssl

    found = {"wolfSSL": wolfssl.version(), "tlslite-ng": tlslite.version(),
             "Twisted": _dist("twisted"), "trio": _dist("trio")}
    out = {}
    for name, text in found.items():
        shown = text or absent
        if shown is not None:
            out[name] = shown
    return out


def version_numbers(text: str) -> tuple[int, ...]:
    """The leading dotted number of ``text`` as a tuple (``"OpenSSL 3.1.4 24 Oct"`` -> (3, 1, 4)).

    Raises:
        ValueError: when ``text`` holds no version number.
    """
    m = _NUMBER.search(text)
    if m is None:
        raise ValueError(f"no version number in {text!r}")
    return tuple(int(part) for part in m.group(1).split("."))


@functools.cache
def stack_versions() -> dict[str, tuple[int, ...]]:
    """The running stacks' versions, by the library names version conditions use.

    ``openssl``: the OpenSSL pyOpenSSL is linked against; ``stdlib-openssl``: the one
    Python's ``ssl`` module uses; ``pyopenssl`` and ``cryptography``: the bindings;
    ``libssl``: the system's ``libssl.so.3`` the libssl stack loads (only where it loads);
    ``wolfssl``, ``tlslite-ng``, ``twisted`` and ``trio``: those stacks and frameworks,
    only where they are installed; ``python``: the running interpreter (asyncio's
    wrapper is the standard library's).
    """
    out = {
        "openssl": version_numbers(SSL.OpenSSL_version(SSL.OPENSSL_VERSION).decode()),
        "stdlib-openssl": tuple(ssl.OPENSSL_VERSION_INFO[:3]),
        "python": tuple(sys.version_info[:3]),
    }
    for name, dist in (("pyopenssl", "pyOpenSSL"), ("cryptography", "cryptography")):
        out[name] = version_numbers(metadata.version(dist))
    libssl = _libssl.version()
    if libssl is not None:  # absent where libssl.so.3 is missing: no condition holds
        out["libssl"] = version_numbers(libssl)
    for name, text in _optional_stacks(None).items():
        out[name.lower()] = version_numbers(text)
    return out
