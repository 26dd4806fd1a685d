"""Reporters: pure functions from a ScanResult to text or files. They never analyse anything."""
