"""Endpoints: one side's TLS stack, its settings and its calls."""
