"""Hostile-input tests: one named test per probe of issue 10, each failing on the code before its fix."""
