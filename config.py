"""pyinfra's config file for this deploy directory: pyinfra runs it before it connects.

It gives the plain `pyinfra INVENTORY deploy.py` what drift.py and diagnose.py have: a host
whose connection data cannot be used (a missing key file, a key that cannot be read) fails
alone, with its reason, and every other host is planned and deployed.
"""

from dockwright.pyinfra_internals import once_per_process

once_per_process()
