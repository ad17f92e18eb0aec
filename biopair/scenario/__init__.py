"""Scenarios: TOML files, validated into frozen specs, run and judged."""
