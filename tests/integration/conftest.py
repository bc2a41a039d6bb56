"""Imported first, as pyinfra's own CLI is: its gevent monkey-patching then happens before any
test, never in the middle of one that holds a lock (which part a test lands in must not matter).
The dealing of tests into parts is tests/conftest.py's."""

import pyinfra_cli  # noqa: F401
