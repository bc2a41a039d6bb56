"""Drift and verification plumbing: what a run hands to drift.py and to the verification suite."""
