"""Secret values in daemon.json: never printed, reported or sent on a command line.

A value is secret when its dotted key is listed in ``docker.secret_keys``, is a log option
known to carry a credential, sits under ``proxies`` (proxy URLs carry credentials), or its last
part names one (token, password, secret, ...); and, wherever it sits, any string holding a URL
with user information (``scheme://user:password@host``: a registry mirror, a proxy, a log
endpoint) is secret by its value.
Masked values keep a short hash, so a change is still seen without showing either side.

One rule at every depth and in every output (``shown``): a value is shown with each secret
inside it masked by its full dotted key, however deep it sits (a whole ``log-opts`` dict
reported because the host has none must not show the token inside). A host file that does not
parse is summarised (``summary``), never echoed: it may hold secrets too.
"""

import hashlib
import json
import re

KNOWN = frozenset({"log-opts.splunk-token", "log-opts.logentries-token", "log-opts.loki-url"})
PREFIXES = ("proxies.",)
WORDS = re.compile(r"token|passw|secret|credential|api-?key", re.I)
PLACEHOLDER = "dockwright-masked-secret"
# A URL's user information (RFC 3986: scheme "://" userinfo "@" host), anywhere in a string.
USERINFO = re.compile(r"([a-z][a-z0-9+.-]*://)([^/?#@\s]+)@", re.I)


def is_secret(key: str, extra=()) -> bool:
    return key in KNOWN or key in extra or key.startswith(PREFIXES) or bool(WORDS.search(key.rsplit(".", 1)[-1]))


def secret_value(value) -> bool:
    """True for a string that carries credentials in a URL's user information."""
    return isinstance(value, str) and bool(USERINFO.search(value))


def without_userinfo(text: str) -> str:
    """text with each URL's user information replaced by the placeholder (the URL keeps its
    shape: a check of the candidate still sees a URL with a user)."""
    return USERINFO.sub(lambda m: f"{m.group(1)}{PLACEHOLDER}@", text)


def mask(value):
    if value is None:
        return None
    digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:12]
    return f"<secret sha256:{digest}>"


def shown(value, key: str = "", extra=()):
    """value, as it may be shown under its dotted key: masked whole when the key is secret,
    else with every secret inside it masked, at every depth."""
    if key and is_secret(key, extra) or secret_value(value):
        return mask(value)
    prefix = f"{key}." if key else ""
    if isinstance(value, dict):
        return {k: shown(v, f"{prefix}{k}", extra) for k, v in value.items()}
    if isinstance(value, list):
        return [shown(v, key, extra) for v in value]
    return value


def masked_item(key: str, desired, actual, extra=()):
    """(desired, actual) as they may be shown for this key."""
    return shown(desired, key, extra), shown(actual, key, extra)


def holds_secret(doc, extra=(), prefix: str = "") -> bool:
    """True when any value of the JSON document sits under a secret key, or is a secret itself."""
    if secret_value(doc):
        return True
    if isinstance(doc, dict):
        return any(is_secret(f"{prefix}{k}", extra) or holds_secret(v, extra, f"{prefix}{k}.")
                   for k, v in doc.items())
    if isinstance(doc, list):
        return any(holds_secret(v, extra, prefix) for v in doc)
    return False


def summary(text: str, error: str) -> str:
    """A host file that could not be read as JSON: its size, hash and the parse error only."""
    return (f"(unparseable: {len(text.encode())} bytes, sha256 "
            f"{hashlib.sha256(text.encode()).hexdigest()[:12]}, {error})")


def redact(doc, extra=(), prefix: str = "", placeholder=PLACEHOLDER):
    """A copy of a JSON document with every secret string replaced by a placeholder of the same
    type, and the user information of every URL replaced too (for validation on a host, where
    the real value is not needed)."""
    if isinstance(doc, dict):
        return {k: (without_userinfo(v) if "://" in v else placeholder)
                if isinstance(v, str) and is_secret(f"{prefix}{k}", extra)
                else redact(v, extra, f"{prefix}{k}.", placeholder) for k, v in doc.items()}
    if isinstance(doc, list):
        return [redact(v, extra, prefix, placeholder) for v in doc]
    if isinstance(doc, str):
        return without_userinfo(doc)
    return doc
