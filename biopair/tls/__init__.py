"""The TLS wire: vocabulary and record/handshake parsing (no I/O, no OpenSSL)."""
