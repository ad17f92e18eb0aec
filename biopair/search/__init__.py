"""Search: running one scenario many times (sweeps)."""
