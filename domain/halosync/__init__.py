"""Keeping arbridge's copy of an MSP's HaloPSA billing data exact and current (issue #4)."""
