"""Vault, audit log and the security exceptions."""
