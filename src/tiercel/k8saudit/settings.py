"""Falco's plugin configuration, mapped to the built-in k8s_audit source.

A Falco values file that enables the k8saudit plugin works unchanged:

    load_plugins: [k8saudit, json]
    plugins:
      - name: k8saudit
        library_path: libk8saudit.so
        init_config: {sslCertificate: /etc/falco/falco.pem, webhookMaxBatchSize: 12582912}
        open_params: "http://:9765/k8s-audit"
      - name: json
        library_path: libjson.so

`open_params` as the plugin reads it: `http://<host>:<port>/<path>` (the webhook), `https://...` (the
same with `sslCertificate`, a PEM holding the certificate and its key), `file://<path>` (an audit
log, followed as it grows and rotates) or a plain path (a file of audit events, read once). No
library is loaded; what was named is said once. Plugins other than k8saudit and json are not loaded
either (said once).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from tiercel.common.errors import TiercelError
from tiercel.config import Config
from tiercel.k8saudit.webhook import WebhookConfig

DEFAULT_OPEN_PARAMS = "http://:9765/k8s-audit"
DEFAULT_CERTIFICATE = "/etc/falco/falco.pem"   # the plugin's sslCertificate default
BUILT_IN = ("k8saudit", "json")


@dataclass(frozen=True)
class AuditSettings:
    webhook: WebhookConfig | None = None     # listen for the API server's posts
    file: Path | None = None                 # or read this file of events
    follow: bool = False                     # file://: follow it as it grows (a live audit log)
    notices: tuple[str, ...] = field(default=())


def audit_settings(cfg: Config) -> AuditSettings | None:
    """What `load_plugins`/`plugins` ask of the k8s_audit source; None when k8saudit is not loaded.
    TiercelError (one line) for open_params or init_config that cannot be used."""
    loaded = list(cfg.load_plugins)
    entries = {p.name: p for p in cfg.plugins}
    notices = []
    others = [n for n in loaded if n not in BUILT_IN]
    if others:
        notices.append(f"plugins {', '.join(others)} not loaded: tiercel loads no plugin libraries")
    if "k8saudit" not in loaded:
        return None
    entry = entries.get("k8saudit")
    params = (entry.open_params if entry is not None else "") or DEFAULT_OPEN_PARAMS
    init = _init_config(entry.init_config if entry is not None else None)
    library = entry.library_path if entry is not None and entry.library_path else "libk8saudit.so"
    notices.append(f"plugin k8saudit is built in (the k8s_audit source): {library} is not loaded")
    url = urlsplit(params)
    if url.scheme in ("http", "https"):
        return AuditSettings(webhook=_webhook(url.scheme, params, init), notices=tuple(notices))
    if url.scheme == "file":
        return AuditSettings(file=Path(url.path), follow=True, notices=tuple(notices))
    if url.scheme:
        raise TiercelError(f"plugins: k8saudit: open_params '{params}': expected http://, https://, "
                           "file:// or a file path")
    return AuditSettings(file=Path(params), notices=tuple(notices))


def _init_config(value: object) -> dict[str, Any]:
    """The plugin's init_config: a mapping, a JSON object in a string, or empty."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise TiercelError("plugins: k8saudit: init_config is neither a mapping nor a JSON "
                               "object") from None
    if not isinstance(value, dict):
        raise TiercelError("plugins: k8saudit: init_config is neither a mapping nor a JSON object")
    return value


def _webhook(scheme: str, params: str, init: dict[str, Any]) -> WebhookConfig:
    url = urlsplit(params)
    try:
        port = url.port or 9765
    except ValueError:
        raise TiercelError(f"plugins: k8saudit: open_params '{params}': not a port number") from None
    max_body = init.get("webhookMaxBatchSize", WebhookConfig.max_body)
    if not isinstance(max_body, int) or isinstance(max_body, bool) or max_body < 1:
        raise TiercelError("plugins: k8saudit: init_config.webhookMaxBatchSize: expected a positive "
                           "integer")
    cert = init.get("sslCertificate", DEFAULT_CERTIFICATE)
    if scheme == "https" and not isinstance(cert, str):
        raise TiercelError("plugins: k8saudit: init_config.sslCertificate: expected a file path")
    return WebhookConfig(host=url.hostname or "", port=port, path=url.path or "/",
                         certificate=cert if scheme == "https" else None, max_body=max_body)
