"""Transport: the bytes in flight between endpoints (links, faults, holds)."""
