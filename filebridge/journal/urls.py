"""Journal URLs: which dialect a URL names, and how to show one without its password."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

SQLITE_PREFIX = "sqlite:///"
POSTGRES_SCHEMES = frozenset({"postgresql", "postgres"})
MASK = "***"

_PASSWORD_PARAM = re.compile(r"(?i)(\bpassword=)[^&\s]*")


def scheme_of(url: str) -> str:
    """The URL's scheme in lower case, or '' if it has none."""
    head, sep, _ = url.partition("://")
    return head.lower() if sep else ""


def redact_url(url: str) -> str:
    """``url`` with any password (in the user part or a ``password=`` parameter) masked."""
    masked = _PASSWORD_PARAM.sub(rf"\g<1>{MASK}", url)
    try:
        parts = urlsplit(masked)
        password = parts.password
    except ValueError:  # not parseable as a URL: the parameter mask is all we can do
        return masked
    if not password:
        return masked
    user, _, host = parts.netloc.rpartition("@")
    name = user.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{name}:{MASK}@{host}"))


def sqlite_path(url: str) -> str:
    """The file path of ``sqlite:///path`` (``sqlite:////abs/path`` for an absolute one)."""
    return url[len(SQLITE_PREFIX):] if url.startswith(SQLITE_PREFIX) else ""
