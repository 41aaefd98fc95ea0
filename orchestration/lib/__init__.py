"""Helpers the definitions use but that are not definitions themselves (not autoloaded)."""
