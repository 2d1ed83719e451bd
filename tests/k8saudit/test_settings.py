"""Falco's load_plugins/plugins for k8saudit mapped to the built-in source, and which sources run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiercel.common.errors import TiercelError
from tiercel.config import load_config
from tiercel.k8saudit.follow import AuditLogFollower
from tiercel.k8saudit.replay import AuditFileSource
from tiercel.k8saudit.settings import audit_settings
from tiercel.k8saudit.source import AuditWebhookSource
from tiercel.k8saudit.sources import audit_source

FALCO_VALUES = """
load_plugins: [k8saudit, json]
plugins:
  - name: k8saudit
    library_path: libk8saudit.so
    init_config:
      sslCertificate: /etc/falco/falco.pem
      webhookMaxBatchSize: 1000
    open_params: "{params}"
  - name: json
    library_path: libjson.so
    init_config: ""
  - name: container
    library_path: libcontainer.so
    init_config: {{engines: {{docker: {{enabled: true}}}}}}
"""


def _cfg(tmp_path: Path, params: str = "http://:9765/k8s-audit", *extra: str) -> Path:
    path = tmp_path / "falco.yaml"
    path.write_text(FALCO_VALUES.format(params=params) + "\n".join(extra))
    return path


def test_falco_values_enable_the_webhook(tmp_path: Path) -> None:
    cfg = load_config(_cfg(tmp_path), [])
    assert not cfg.warnings
    s = audit_settings(cfg)
    assert s is not None and s.webhook is not None
    w = s.webhook
    assert (w.host, w.port, w.path, w.max_body) == ("", 9765, "/k8s-audit", 1000)
    assert s.webhook.certificate is None        # http: the certificate is for https only
    assert any("libk8saudit.so is not loaded" in n for n in s.notices)


@pytest.mark.parametrize("params,want", [
    ("https://127.0.0.1:9443/audit", ("webhook", "127.0.0.1", 9443, "/audit", "/etc/falco/falco.pem")),
    ("file:///var/log/audit.log", ("file", "/var/log/audit.log")),
    ("/var/log/audit.log", ("file", "/var/log/audit.log")),
])
def test_open_params(tmp_path: Path, params: str, want: tuple[object, ...]) -> None:
    s = audit_settings(load_config(_cfg(tmp_path, params), []))
    assert s is not None
    if want[0] == "webhook":
        assert s.webhook is not None
        assert (s.webhook.host, s.webhook.port, s.webhook.path, s.webhook.certificate) == want[1:]
    else:
        assert s.file == Path(str(want[1]))


@pytest.mark.parametrize("params,error", [
    ("ftp://x/y", "expected http://, https://, file://"),
    ("http://:notaport/k", "not a port number"),
])
def test_unusable_open_params_are_one_line(tmp_path: Path, params: str, error: str) -> None:
    with pytest.raises(TiercelError, match=error):
        audit_settings(load_config(_cfg(tmp_path, params), []))


def test_not_loaded_without_load_plugins() -> None:
    assert audit_settings(load_config(None, [])) is None


def _sink(_ev: object) -> None:
    pass


@pytest.mark.parametrize("overrides,disabled,syscall,audit", [
    ([], [], True, AuditWebhookSource),
    (["engine.kind=nodriver"], [], False, AuditWebhookSource),
    ([], ["syscall"], False, AuditWebhookSource),
    ([], ["k8s_audit"], True, None),
    (["plugins[0].open_params=/tmp/x.json"], ["syscall"], False, AuditFileSource),
    (["plugins[0].open_params=file:///tmp/x.json"], ["syscall"], False, AuditLogFollower),
])
def test_which_sources_run(tmp_path: Path, overrides: list[str], disabled: list[str], syscall: bool,
                           audit: type | None) -> None:
    notices: list[str] = []
    on, source = audit_source(load_config(_cfg(tmp_path), overrides), disabled, _sink, print,
                              notices.append)
    assert on == syscall
    assert (type(source) if source is not None else None) is audit
    assert len(notices) == 1   # k8saudit built in (container is not in load_plugins: not said)


@pytest.mark.parametrize("overrides,disabled,error", [
    ([], ["syscall", "k8s_audit"], "no event source to run"),
    (["load_plugins=[]"], ["syscall"], "no event source to run"),
    ([], ["cloudtrail"], "not an event source"),
])
def test_refused_source_choices(tmp_path: Path, overrides: list[str], disabled: list[str],
                                error: str) -> None:
    with pytest.raises(TiercelError, match=error):
        audit_source(load_config(_cfg(tmp_path), overrides), disabled, _sink, print, print)
