"""Acquisition: collect raw evidence (files, command outputs) and hash it. No interpretation here."""
