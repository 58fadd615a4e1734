"""Configuration: one frozen dataclass, built once from flags, environment and an optional file.

Precedence: command-line flag > environment variable (WEBLEADS_*) > TOML file (--config or
WEBLEADS_CONFIG, else /etc/webleads/webleads.toml when it exists) > default. Every key is documented in
the README ("Configuration").

The system file is what lets every command, run from any folder without the service's environment,
find the service's database: the unit and the commands read the same file.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any


class SettingsError(ValueError):
    """A configuration value is wrong; the message names the key and the value."""


@dataclass(frozen=True)
class Settings:
    db: str = "webleads.duckdb"
    host: str = "127.0.0.1"
    port: int = 8000
    # Public base URL of the collector as browsers reach it (used in embed tags); default http://host:port.
    public_url: str = ""
    geoip: str = ""
    # Proxies whose X-Forwarded-For is believed (IPs or CIDR networks).
    trusted_proxies: tuple[str, ...] = ()
    # Public paths, renameable for proxies and ad blockers.
    beacon_path: str = "/e"
    pixel_path: str = "/p.gif"
    script_path: str = "/s.js"
    # Ingest limits.
    max_body_bytes: int = 64 * 1024
    max_batch_events: int = 50
    queue_events: int = 100_000
    batch_events: int = 20_000
    # Under concurrent load, the writer waits up to this long to gather more events per commit.
    commit_linger_ms: int = 0
    # Client timestamps outside [now - past, now + future] are refused.
    max_past_seconds: int = 48 * 3600
    max_future_seconds: int = 300
    retention_months: int = 25
    log_level: str = "info"
    # Processes answering the public port (ingest there, the rest relayed to the database process);
    # 0 runs everything in one process.
    workers: int = 1
    # The quiet-site alarm (collector/quiet.py): what runs when a site goes quiet or comes back, how
    # long a silence is always normal, and how often the sites are looked at.
    alert_command: str = ""
    alert_webhook: str = ""
    quiet_hours_min: int = 24
    quiet_check_seconds: int = 300

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def trusted_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(p, strict=False) for p in self.trusted_proxies)


_ENV_PREFIX = "WEBLEADS_"
# Read by `serve` and by every command when no --config or WEBLEADS_CONFIG names another file.
# WEBLEADS_SYSTEM_CONFIG moves it (tests, and packagers who keep /etc elsewhere).
SYSTEM_CONFIG = "/etc/webleads/webleads.toml"


def config_path(environ: dict[str, str] | os._Environ[str] | None = None) -> str | None:
    """The settings file in force: WEBLEADS_CONFIG, else the system file if there is one."""
    env = os.environ if environ is None else environ
    if env.get(_ENV_PREFIX + "CONFIG"):
        return env[_ENV_PREFIX + "CONFIG"]
    # (also from the process's environment when a test passes its own: the machine's file stays out)
    system = env.get(_ENV_PREFIX + "SYSTEM_CONFIG") or os.environ.get(_ENV_PREFIX + "SYSTEM_CONFIG") or SYSTEM_CONFIG
    return system if os.path.isfile(system) else None


def database_path(environ: dict[str, str] | os._Environ[str] | None = None) -> tuple[str, str]:
    """Where the database is when no --db is given, and what said so (for messages): WEBLEADS_DB, the
    settings file's `db`, or the default ./webleads.duckdb. Only `db` is read here, so that a wrong
    value elsewhere in the file does not hide the database from `webleads doctor`."""
    env = os.environ if environ is None else environ
    if env.get(_ENV_PREFIX + "DB"):
        return env[_ENV_PREFIX + "DB"], "WEBLEADS_DB"
    path = config_path(env)
    if path:
        try:
            with open(path, "rb") as fh:
                value = tomllib.load(fh).get("db")
        except (OSError, tomllib.TOMLDecodeError):
            value = None  # load_settings says what is wrong with the file
        if isinstance(value, str) and value:
            return value, path
    return Settings.db, "default"


def _coerce(name: str, kind: Any, value: Any) -> Any:
    try:
        if kind in (int, "int"):
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        if kind in ("tuple[str, ...]",):
            if isinstance(value, str):
                return tuple(v.strip() for v in value.split(",") if v.strip())
            return tuple(str(v) for v in value)
        return str(value)
    except (TypeError, ValueError):
        raise SettingsError(f"setting '{name}': {value!r} is not a valid {kind}") from None


def _validate(s: Settings) -> Settings:
    for key in ("beacon_path", "pixel_path", "script_path"):
        value = getattr(s, key)
        if not value.startswith("/") or value.startswith("/api/") or value in ("/", "/dashboard", "/healthz"):
            raise SettingsError(f"setting '{key}': {value!r} must be a path such as /e, outside /api/")
    if len({s.beacon_path, s.pixel_path, s.script_path}) != 3:
        raise SettingsError("settings 'beacon_path', 'pixel_path' and 'script_path' must differ")
    if not 0 <= s.commit_linger_ms <= 100:
        raise SettingsError(f"setting 'commit_linger_ms': {s.commit_linger_ms} must be between 0 and 100")
    for key in ("port", "max_body_bytes", "max_batch_events", "queue_events", "batch_events"):
        if getattr(s, key) <= 0:
            raise SettingsError(f"setting '{key}': {getattr(s, key)!r} must be a positive number")
    if not 0 <= s.workers <= 16:
        raise SettingsError(f"setting 'workers': {s.workers} must be between 0 (one process) and 16")
    if s.port > 65535:
        raise SettingsError(f"setting 'port': {s.port} is not a TCP port")
    if not 1 <= s.retention_months <= 120:
        raise SettingsError(f"setting 'retention_months': {s.retention_months} must be between 1 and 120")
    for proxy in s.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise SettingsError(f"setting 'trusted_proxies': {proxy!r} is not an IP address or network") from None
    if s.geoip and not Path(s.geoip).is_file():
        raise SettingsError(f"setting 'geoip': no file at {s.geoip!r} (download GeoLite2-City.mmdb or "
                            "dbip-city-lite.mmdb, or leave it empty to run without geolocation)")
    if s.alert_webhook and not s.alert_webhook.startswith(("http://", "https://")):
        raise SettingsError(f"setting 'alert_webhook': {s.alert_webhook!r} must start with http:// or https://")
    if not 1 <= s.quiet_hours_min <= 24 * 90:
        raise SettingsError(f"setting 'quiet_hours_min': {s.quiet_hours_min} must be between 1 and 2160 hours")
    if not 1 <= s.quiet_check_seconds <= 86400:
        raise SettingsError(f"setting 'quiet_check_seconds': {s.quiet_check_seconds} must be between 1 and 86400")
    if s.public_url and not s.public_url.startswith(("http://", "https://")):
        raise SettingsError(f"setting 'public_url': {s.public_url!r} must start with http:// or https://")
    return s


def load_settings(overrides: dict[str, Any] | None = None, config_file: str | None = None,
                  environ: dict[str, str] | None = None) -> Settings:
    """Build the settings: defaults < file < environment < explicit overrides (flags)."""
    env = os.environ if environ is None else environ
    kinds = {f.name: f.type for f in fields(Settings)}
    values: dict[str, Any] = {}
    path = config_file or config_path(env)
    if path:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise SettingsError(f"config file {path!r}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"config file {path!r}: {exc}") from None
        for key, value in data.items():
            if key not in kinds:
                raise SettingsError(f"config file {path!r}: unknown setting '{key}'")
            values[key] = _coerce(key, kinds[key], value)
    for key, kind in kinds.items():
        raw = env.get(_ENV_PREFIX + key.upper())
        if raw is not None and raw != "":
            values[key] = _coerce(key, kind, raw)
    for key, value in (overrides or {}).items():
        if value is None or value == ():
            continue
        if key not in kinds:
            raise SettingsError(f"unknown setting '{key}'")
        values[key] = _coerce(key, kinds[key], value)
    return _validate(replace(Settings(), **values))


def no_database(db: str, found_by: str) -> str:
    """Why a command that needs an existing database stops, and how to point it at the right one."""
    if found_by == "default":
        where = (f"no database in this folder ({os.path.abspath(db)} does not exist), and neither WEBLEADS_DB "
                 f"nor a settings file ({SYSTEM_CONFIG}) names one")
    else:
        where = f"no database at {os.path.abspath(db)} (named by {found_by})"
    return (f"{where}. Point at the collector's file: --db /var/lib/webleads/webleads.duckdb, or db = \"...\" "
            f"in {SYSTEM_CONFIG} (README: Install on a server). A new database is made only by "
            "webleads serve, or by a command given --db NEW-FILE.")


SETTING_NAMES = tuple(f.name for f in fields(Settings))
__all__ = ["Settings", "SettingsError", "load_settings", "SETTING_NAMES", "SYSTEM_CONFIG", "config_path",
           "database_path", "no_database"]
