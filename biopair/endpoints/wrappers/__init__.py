"""Wrapper endpoints: TLS layers written on top of OpenSSL, driven from their application
side (docs/wrappers.md)."""
