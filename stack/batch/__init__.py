"""Batch: monthly CSV statements and PDF documents -> PostgreSQL, idempotent."""
