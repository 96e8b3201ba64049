"""Helpers for Vallum's end-to-end tests (see ../README.md)."""
