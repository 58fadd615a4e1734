"""Settings: defaults < file < environment < flags; errors name the key; docs/deployment.md documents each."""

from __future__ import annotations

from pathlib import Path

import pytest

from webleads.collector.settings import SETTING_NAMES, SettingsError, load_settings

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"


def test_precedence_file_then_environment_then_flags(tmp_path: Path) -> None:
    config = tmp_path / "w.toml"
    config.write_text('port = 9000\nhost = "0.0.0.0"\ntrusted_proxies = ["10.0.0.0/8"]\npixel_path = "/px.gif"\n')
    s = load_settings(config_file=str(config), environ={"WEBLEADS_PORT": "9100"})
    assert (s.port, s.host, s.trusted_proxies, s.pixel_path) == (9100, "0.0.0.0", ("10.0.0.0/8",), "/px.gif")
    s = load_settings({"port": 9200}, config_file=str(config), environ={"WEBLEADS_PORT": "9100"})
    assert s.port == 9200 and s.base_url == "http://127.0.0.1:9200"
    s = load_settings(environ={"WEBLEADS_TRUSTED_PROXIES": "127.0.0.1, ::1"})
    assert s.trusted_proxies == ("127.0.0.1", "::1")


@pytest.mark.parametrize("overrides, key", [
    ({"port": 70000}, "port"),
    ({"trusted_proxies": ("not-an-ip",)}, "trusted_proxies"),
    ({"beacon_path": "e"}, "beacon_path"),
    ({"public_url": "stats.example.org"}, "public_url"),
    ({"retention_months": 0}, "retention_months"),
    ({"queue_events": -1}, "queue_events"),
], ids=["port", "proxy", "path", "public-url", "retention", "queue"])
def test_bad_values_name_the_key(overrides: dict[str, object], key: str) -> None:
    with pytest.raises(SettingsError, match=f"'{key}'"):
        load_settings(overrides, environ={})


def test_unknown_key_in_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "w.toml"
    config.write_text("prot = 1\n")
    with pytest.raises(SettingsError, match="unknown setting 'prot'"):
        load_settings(config_file=str(config), environ={})


def test_every_setting_is_documented_in_the_guide() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    missing = [name for name in SETTING_NAMES if f"| `{name}` |" not in text]
    assert missing == []
