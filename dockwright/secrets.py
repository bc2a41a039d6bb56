"""Secret values in daemon.json: never printed, reported or sent on a command line.

A value is secret when its dotted key is listed in ``docker.secret_keys``, is a log option
known to carry a credential, or its last part names one (token, password, secret, ...).
Masked values keep a short hash, so a change is still seen without showing either side.
"""

import hashlib
import json
import re

KNOWN = frozenset({"log-opts.splunk-token", "log-opts.logentries-token", "log-opts.loki-url"})
WORDS = re.compile(r"token|passw|secret|credential|api-?key", re.I)
PLACEHOLDER = "dockwright-masked-secret"


def is_secret(key: str, extra=()) -> bool:
    return key in KNOWN or key in extra or bool(WORDS.search(key.rsplit(".", 1)[-1]))


def mask(value):
    if value is None:
        return None
    digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:12]
    return f"<secret sha256:{digest}>"


def masked_item(key: str, desired, actual, extra=()):
    """(desired, actual) as they may be shown for this key."""
    if is_secret(key, extra):
        return mask(desired), mask(actual)
    return desired, actual


def redact(doc, extra=(), prefix: str = "", placeholder=PLACEHOLDER):
    """A copy of a JSON document with every secret string replaced by a placeholder of the same
    type (for validation on a host, where the real value is not needed)."""
    if isinstance(doc, dict):
        return {k: redact(v, extra, f"{prefix}{k}.", placeholder) if not (
            isinstance(v, str) and is_secret(f"{prefix}{k}", extra)) else placeholder
            for k, v in doc.items()}
    if isinstance(doc, list):
        return [redact(v, extra, prefix, placeholder) for v in doc]
    return doc
