"""stack: a reproducible local data platform."""
