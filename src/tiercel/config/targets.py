"""Checks that an output's target can work at all, made when the configuration is loaded.

An output that cannot possibly deliver (a file output naming a directory, a file under a directory
that does not exist, /dev/full; an http URL with port 99999) would otherwise start, drop every alert
and exit 0. Each check returns the problem as text, or None; the binding adds the key's position.
What may well work later (a syslog socket not there yet, an http server down) is not refused here:
the output says so once at run time (outputs.dispatcher).
"""

from __future__ import annotations

import os
import re
import stat
from urllib.parse import urlsplit

_MEM_MAJOR, _FULL_MINOR = 1, 7      # /dev/full: accepts the open, fails every write (ENOSPC)
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")   # an HTTP header name (RFC 9110 token)
_URL_BAD = re.compile(r"[\x00-\x20\x7f]")


def file_problem(filename: str) -> str | None:
    """Why alerts could never be appended to `filename`, or None."""
    if not filename:
        return "is empty: there is no file to write"
    try:
        st = os.stat(filename)
    except FileNotFoundError:
        return _parent_problem(filename)
    except OSError as e:
        return f"cannot reach '{filename}': {e.strerror}"
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        return f"'{filename}' is a directory"
    if stat.S_ISSOCK(mode):
        return f"'{filename}' is a socket"
    if stat.S_ISCHR(mode) and (os.major(st.st_rdev), os.minor(st.st_rdev)) == (_MEM_MAJOR, _FULL_MINOR):
        return f"'{filename}' refuses every write (it is /dev/full)"
    if not os.access(filename, os.W_OK):
        return f"'{filename}' is not writable"
    return None


def _parent_problem(filename: str) -> str | None:
    parent = os.path.dirname(filename) or "."
    try:
        st = os.stat(parent)
    except FileNotFoundError:
        return f"the directory '{parent}' does not exist"
    except OSError as e:
        return f"cannot reach '{parent}': {e.strerror}"
    if not stat.S_ISDIR(st.st_mode):
        return f"'{parent}' is not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot create '{filename}': the directory '{parent}' is not writable"
    return None


def http_url_problem(url: str) -> str | None:
    """Why `url` is not an http(s) URL an output can POST to, or None."""
    if not url.startswith(("http://", "https://")):
        return f"'{url}' is not an http:// or https:// URL"
    if _URL_BAD.search(url):
        return f"'{url}' holds spaces or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port         # raises for a port out of range or not a number
    except ValueError as e:
        return f"'{url}' is not a valid URL ({e})"
    if not parts.hostname:
        return f"'{url}' has no host"
    if port == 0:
        return f"'{url}': port 0 cannot be connected to"
    return None


def header_problem(name: str, value: str) -> str | None:
    """Why `name: value` cannot be sent as an HTTP header, or None."""
    if not _TOKEN.fullmatch(name):
        return f"'{name}' is not a valid HTTP header name"
    if any(c in value for c in "\r\n\0"):
        return f"the value of '{name}' holds a line break or NUL"
    return None
