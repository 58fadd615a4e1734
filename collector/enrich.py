"""Enrichment before anything is stored: clean URLs, campaign parameters, user-agent, bots, geo,
visitor id. The raw IP address is used here (geo, daily hash) and never returned."""

from __future__ import annotations

import hashlib
import ipaddress
import itertools
import logging
import re
import secrets
import sys
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import orjson
import regex as _regex
import user_agents
import user_agents.parsers
from is_bot import Bots as _IsBot
from ua_parser import Parser as _UAParser
from ua_parser import loaders as _ua_loaders
from ua_parser import regex as _ua_regex

from .validate import Incoming

log = logging.getLogger("webleads.enrich")

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "utm_id")
CLICK_IDS = ("gclid", "gbraid", "wbraid", "dclid", "fbclid", "msclkid", "ttclid", "li_fat_id", "twclid")
KEPT_PARAMS = frozenset(UTM_KEYS + CLICK_IDS)
MAX_VALUE = 300

# --- e-mail redaction ---------------------------------------------------------------------------
# Anything shaped like an e-mail address is replaced, also when its "@" is percent-encoded (once or
# several times: %40, %2540...) or a look-alike (full-width U+FF20, small U+FE6B, which NFKC folds
# to "@"). Everything here is linear in the text: a regex that may start a match anywhere inside a
# long run of address characters backtracks quadratically, and beacons are enriched on the event
# loop that answers every other beacon.
#
# The text is cut into words at characters no address holds (spaces, / ? # & = ; , : quotes and
# brackets); only a word holding an "@", a "%40", a "%25" (what double encoding starts with) or a
# look-alike is decoded (a bounded number of times), folded and searched, and a word holding an
# address is replaced whole.
REDACTED = "(redacted)"
_MARKER = re.compile(r"@|%(?:40|25|[eE][fF]%[bB][9cC])|[\uff20\ufe6b]")
_WORD = re.compile(r"[^\s/?#&=;,:<>\"'()\[\]{}|\\^`]+")
# A match starts only where a run of local-part characters starts (the look-behind), so each run is
# scanned once; the domain stops at the first character outside it.
_ADDRESS = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_DECODE_ROUNDS = 6  # more layers of percent-encoding than that is no honest address: redacted whole


def redact(text: str | None) -> str | None:
    if text is None or (text.isascii() and "@" not in text and "%" not in text):
        return text  # the common case, as cheap as two scans
    if _MARKER.search(text) is None:
        return text
    return _WORD.sub(_redact_word, text)


def _redact_word(match: re.Match[str]) -> str:
    word = match.group(0)
    if _MARKER.search(word) is None:
        return word
    decoded = word
    for _ in range(_DECODE_ROUNDS):
        if "%" not in decoded:
            break
        decoded, previous = unquote(decoded), decoded
        if decoded == previous:
            break
    else:
        if _MARKER.search(decoded):
            return REDACTED
    if not decoded.isascii():
        decoded = unicodedata.normalize("NFKC", decoded)
    return REDACTED if _ADDRESS.search(decoded) else word


@dataclass(frozen=True, slots=True)
class CleanURL:
    url: str | None
    path: str | None
    host: str | None
    params: dict[str, str]


# Cleaned addresses are cached by the bytes they hold, not by their count: unique long addresses
# (click ids, or an attacker's) would otherwise pile up at a few kilobytes each. Addresses longer
# than CLEAN_URL_CACHE_CHARS are cleaned each time and never kept: they rarely come twice.
CLEAN_URL_CACHE_BYTES = 8 * 1024 * 1024
CLEAN_URL_CACHE_CHARS = 512


class _SizedLRU:
    """A least-recently-used cache bounded by an estimate of the bytes it holds. Thread-safe: the
    API's events are enriched in a worker thread while the event loop enriches beacons."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.bytes = 0
        self._data: dict[Any, tuple[Any, int]] = {}
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            entry = self._data.pop(key, None)
            if entry is None:
                return None
            self._data[key] = entry  # now the most recent
            return entry[0]

    def put(self, key: Any, value: Any, size: int) -> None:
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            self._data[key] = (value, size)
            self.bytes += size
            while self.bytes > self.budget and self._data:
                oldest = next(iter(self._data))
                self.bytes -= self._data.pop(oldest)[1]


_clean_urls = _SizedLRU(CLEAN_URL_CACHE_BYTES)
_ENTRY_OVERHEAD = 200  # the cache's key tuple and dict slot, roughly


def clean_url_cache_bytes() -> int:
    return _clean_urls.bytes


def clean_url(raw: str | None, allowed: tuple[str, ...] = ()) -> CleanURL:
    """Drop every query parameter but UTM, click ids and the allow-listed ones, in the address and in
    its hash route; keep the hash route itself (#/... or #!...), drop any other fragment."""
    if raw is None or len(raw) > CLEAN_URL_CACHE_CHARS:
        return _clean_url(raw, allowed)
    key = (raw, allowed)
    cleaned = _clean_urls.get(key)
    if cleaned is None:
        cleaned = _clean_url(raw, allowed)
        size = (sys.getsizeof(raw) + sys.getsizeof(cleaned) + sys.getsizeof(cleaned.url)
                + sys.getsizeof(cleaned.path) + sys.getsizeof(cleaned.host) + sys.getsizeof(cleaned.params)
                + sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in cleaned.params.items()) + _ENTRY_OVERHEAD)
        _clean_urls.put(key, cleaned, size)
    return cleaned


def _clean_url(raw: str | None, allowed: tuple[str, ...]) -> CleanURL:
    if not raw:
        return CleanURL(None, None, None, {})
    try:
        parts = urlsplit(raw)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return CleanURL(None, None, None, {})
    keep = KEPT_PARAMS.union(allowed)
    params: dict[str, str] = {}
    kept = _kept_params(parts.query, keep, params)
    # Built from redacted parts (the user-info is left out with the netloc), so each part is redacted
    # once: the path, each kept value, the hash route.
    netloc = host if port is None else f"{host}:{port}"
    path = redact(parts.path or "/") or "/"
    url = urlunsplit((parts.scheme.lower(), netloc, path, urlencode(kept), ""))
    if parts.fragment.startswith(("/", "!")):
        route, query = _hash_route(parts.fragment)
        route = redact(route) or ""
        path = f"{path}#{route}"
        route_kept = _kept_params(query, keep, {}) if query else []
        url = f"{url}#{route}?{urlencode(route_kept)}" if route_kept else f"{url}#{route}"
    return CleanURL(url, path, host or None, params)


def _kept_params(query: str, keep: frozenset[str], params: dict[str, str]) -> list[tuple[str, str]]:
    """The allow-listed parameters of a query string (the first of each name), their values redacted;
    `params` gets them by lower-case name."""
    kept: list[tuple[str, str]] = []
    for key, value in parse_qsl(query, keep_blank_values=False):
        lower = key.lower()
        if lower in keep and lower not in params:
            value = redact(value.strip()[:MAX_VALUE]) or ""
            params[lower] = value
            kept.append((key, value))
    return kept


_ROUTE_END = re.compile(r"[?&#]")


def _hash_route(fragment: str) -> tuple[str, str]:
    """A hash route's path and query: `/reset?token=x` -> ("/reset", "token=x"). Single-page apps put
    their parameters (reset tokens, e-mail addresses) there as servers put them in the query; `&` starts
    the query too (some routers write `#/page&key=value`), and a second `#` ends everything."""
    end = _ROUTE_END.search(fragment)
    if end is None:
        return fragment, ""
    route, rest = fragment[:end.start()], fragment[end.end():]
    if end.group() == "#":
        return route, ""
    return route, rest.partition("#")[0]


# Ids the collector makes: "~" (never in a client id), a random per-process prefix, a counter.
_ID_PREFIX = "~" + secrets.token_hex(6) + "-"
_ids = itertools.count()


def new_event_id() -> str:
    return f"{_ID_PREFIX}{next(_ids):x}"


def referrer_domain(host: str | None) -> str | None:
    if not host:
        return None
    return host[4:] if host.startswith("www.") else host


# --- user agents -------------------------------------------------------------------------------
# user-agents decides browser/OS/device/bot from ua-parser's result. Its legacy call path uses the
# pure-Python matchers (1-2 ms per unseen string); we hand it ua-parser's Rust-backed resolver
# (about 40 us) through the same dictionary shape.
_resolver = _UAParser(_ua_regex.Resolver(_ua_loaders.load_lazy_builtins()))


def _legacy_parse(ua: str) -> dict[str, Any]:
    r = _resolver.parse(ua)
    ua_part, os_part, dev = r.user_agent, r.os, r.device
    return {
        "string": ua,
        "user_agent": {"family": ua_part.family if ua_part else "Other",
                       "major": ua_part and ua_part.major, "minor": ua_part and ua_part.minor,
                       "patch": ua_part and ua_part.patch},
        "os": {"family": os_part.family if os_part else "Other", "major": os_part and os_part.major,
               "minor": os_part and os_part.minor, "patch": os_part and os_part.patch,
               "patch_minor": os_part and os_part.patch_minor},
        "device": {"family": dev.family if dev else "Other", "brand": dev and dev.brand,
                   "model": dev and dev.model},
    }


class _FastParser:
    Parse = staticmethod(_legacy_parse)


user_agents.parsers.user_agent_parser = _FastParser  # type: ignore[assignment]

# --- bots ----------------------------------------------------------------------------------------
# The patterns are isbot's (the npm package, kept in step with it by is-bot on PyPI): a maintained
# list beats a hand-written one on recall, and isbot is tuned against real browser traffic so as not
# to flag people. We take is-bot's list but not its matcher: is-bot runs all the patterns as one
# case-insensitive alternation in the `regex` module, several times slower than the standard `re` on
# the lowercased user-agent (bench/bots.py measures both and checks that they agree). A pattern that
# has a capital letter (an escape such as \W) or that `re` cannot compile (a variable-width
# look-behind) runs as is-bot runs it: `regex`, case-insensitive, on the original string.
@dataclass(frozen=True, slots=True)
class _Alternation:
    """Patterns joined without groups to decide (capturing groups make `re` many times slower), and
    one by one, only once the whole matched, to name the pattern that did."""
    whole: re.Pattern[str]
    each: tuple[re.Pattern[str], ...]

    @classmethod
    def of(cls, patterns: list[str]) -> _Alternation | None:
        return cls(re.compile("|".join(patterns)), tuple(map(re.compile, patterns))) if patterns else None

    def find(self, text: str, anchored: bool) -> str | None:
        m = self.whole.match(text) if anchored else self.whole.search(text)
        if m is None:
            return None
        # The alternation took the first alternative that matches at the leftmost position.
        return next((p.pattern for p in self.each if p.match(text, m.start())), self.whole.pattern)


def _bot_matchers(patterns: Iterable[str]) -> tuple[
        _Alternation | None, _Alternation | None, tuple[_regex.Pattern[str], ...]]:
    start: list[str] = []
    anywhere: list[str] = []
    slow: list[str] = []
    for pattern in sorted(patterns):  # sorted: the same pattern is reported for a string in every process
        try:
            re.compile(pattern)
        except re.error:
            slow.append(pattern)
            continue
        if pattern != pattern.lower():
            slow.append(pattern)
        elif pattern.startswith("^") and "|" not in pattern:
            start.append(pattern)  # tried at the start only, not again at every position
        else:
            anywhere.append(pattern)
    return (_Alternation.of(start), _Alternation.of(anywhere),
            tuple(_regex.compile(p, _regex.IGNORECASE) for p in slow))


_BOT_START, _BOT_ANYWHERE, _BOT_SLOW = _bot_matchers(_IsBot().patterns)


def bot_pattern(ua: str) -> str | None:
    """The isbot pattern that flags this user-agent, or None."""
    lowered = ua.lower()
    for alternation, anchored in ((_BOT_START, True), (_BOT_ANYWHERE, False)):
        found = alternation.find(lowered, anchored) if alternation is not None else None
        if found is not None:
            return found
    return next((p.pattern for p in _BOT_SLOW if p.search(ua)), None)


@dataclass(frozen=True, slots=True)
class AgentInfo:
    browser: str | None
    browser_version: str | None
    os: str | None
    device: str
    is_bot: bool
    bot_reason: str | None


MAX_AGENT = 512  # build_row caps user-agents at this length too; longer ones are cut, never cached whole
AGENT_CACHE = 20_000


def parse_agent(ua: str) -> AgentInfo:
    """Browser, OS, device and bot verdict. The cache's memory is bounded: at most AGENT_CACHE
    entries, each a key of at most MAX_AGENT characters and one small AgentInfo."""
    return _parse_agent(ua[:MAX_AGENT])


@lru_cache(maxsize=AGENT_CACHE)
def _parse_agent(ua: str) -> AgentInfo:
    if not ua:
        return AgentInfo(None, None, None, "bot", True, "no user-agent")
    parsed = user_agents.parse(ua)
    reason = bot_reason(ua, parsed.is_bot)
    if reason:
        device = "bot"
    elif parsed.is_tablet:
        device = "tablet"
    elif parsed.is_mobile:
        device = "mobile"
    elif parsed.is_pc:
        device = "desktop"
    else:
        device = "other"
    browser = parsed.browser.family if parsed.browser.family != "Other" else None
    version = parsed.browser.version_string or None
    os_name = parsed.os.family if parsed.os.family != "Other" else None
    return AgentInfo(browser, version, os_name, device, reason is not None, reason)


def bot_reason(ua: str, parser_says_bot: bool) -> str | None:
    """Why this user-agent is a bot, or None: the rule that matched, for a site owner to check."""
    pattern = bot_pattern(ua)
    if pattern is not None:
        return "headless" if "headless" in pattern else f"user-agent pattern {pattern}"
    if parser_says_bot:  # ua-parser's spider rules catch a few more, and the parse is done anyway
        return "user-agent parser"
    return None


NO_AGENT = AgentInfo(None, None, None, "other", False, None)


# --- GeoIP ---------------------------------------------------------------------------------------
# Two layouts of .mmdb files are in use. MaxMind's (GeoLite2, DB-IP Lite): nested records,
# {"country": {"iso_code"}, "subdivisions": [{"names": {...}}], "city": {"names": {...}}}. The flat one
# of the ip-location-db packages (DB-IP's data republished on npm): {"country_code", "state1", "city"}.
GEO_SAMPLE = 20  # records read at start to tell whether the file is of a layout we read
GEO_LOG_EVERY = 60.0  # seconds between two log lines about failed lookups
_NO_GEO: tuple[str | None, str | None, str | None] = (None, None, None)


class GeoIPError(ValueError):
    """A GeoIP file that cannot be used; the message names the file and says why."""


class _Unreadable(ValueError):
    """A record of neither layout (a value of an unexpected type)."""


class Geo:
    """Country, region and city from a .mmdb database of either layout. A lookup never raises: a
    record it cannot read gives no geo, and is counted (on_failure) and logged."""

    def __init__(self, path: str | None, on_failure: Callable[[str], None] | None = None) -> None:
        self.reader: Any = None
        self.path = path
        self.failures = 0
        self.on_failure = on_failure
        self._logged_at = -GEO_LOG_EVERY
        if path:
            import maxminddb

            try:
                self.reader = maxminddb.open_database(path)
            except Exception as exc:  # noqa: BLE001 - OSError, InvalidDatabaseError, ValueError
                raise GeoIPError(f"GeoIP file {path} cannot be read: {exc}") from None
            try:
                self._check()
            except GeoIPError:
                self.reader.close()
                raise

    def _check(self) -> None:
        """Refuse a file whose first records give no country in either layout (an ASN or ISP
        database, another vendor's schema): it would give no geo at all."""
        fields: set[str] = set()
        seen = 0
        try:
            for _network, record in itertools.islice(self.reader, GEO_SAMPLE):
                seen += 1
                if isinstance(record, dict):
                    fields.update(str(k) for k in record)
                try:
                    if read_geo_record(record)[0]:
                        return
                except _Unreadable:
                    continue
        except Exception as exc:  # noqa: BLE001 - a corrupt search tree or data section
            raise GeoIPError(f"GeoIP file {self.path} cannot be read: {exc}") from None
        found = f"its records hold {', '.join(sorted(fields)) or 'no field'}" if seen else "it holds no record"
        raise GeoIPError(f"GeoIP file {self.path} cannot be read: {found}; expected a country, region and city "
                         "database in MaxMind's layout (country.iso_code, as GeoLite2 and DB-IP Lite) or the flat "
                         "one (country_code, state1, city, as the ip-location-db files)")

    def lookup(self, ip: str | None) -> tuple[str | None, str | None, str | None]:
        if self.reader is None or not ip:
            return _NO_GEO
        try:
            record = self.reader.get(ip)
        except ValueError:  # not an address, or IPv6 in an IPv4-only file
            return _NO_GEO
        except Exception as exc:  # noqa: BLE001 - a corrupt file: the event is stored without geo
            self._failed(exc)
            return _NO_GEO
        if record is None:
            return _NO_GEO
        try:
            return read_geo_record(record)
        except Exception as exc:  # noqa: BLE001 - _Unreadable, or a surprise: never worth an event
            self._failed(exc)
            return _NO_GEO

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        if self.on_failure is not None:
            self.on_failure("geo")
        now = time.monotonic()
        if now - self._logged_at >= GEO_LOG_EVERY:
            self._logged_at = now
            log.warning("GeoIP lookup in %s failed (%s); events are stored without country, region and city "
                        "(counted in webleads_enrich_failures_total)", self.path, exc)

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()


def read_geo_record(record: Any) -> tuple[str | None, str | None, str | None]:
    """(country, region, city) of a record of either layout; _Unreadable if it is of neither."""
    if not isinstance(record, dict):
        raise _Unreadable(f"a record is a {type(record).__name__}, not a map")
    if "country_code" in record:
        return _text(record.get("country_code")), _text(record.get("state1")), _text(record.get("city"))
    country = _map(record.get("country") or record.get("registered_country"))
    subdivisions = record.get("subdivisions") or []
    if not isinstance(subdivisions, list):
        raise _Unreadable(f"'subdivisions' is a {type(subdivisions).__name__}")
    region = _name(_map(subdivisions[0])) if subdivisions else None
    return _text(country.get("iso_code")), region, _name(_map(record.get("city")))


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _Unreadable(f"{value!r} is not text")
    return value[:MAX_VALUE]


def _map(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Unreadable(f"{value!r} is not a map")
    return value


def _name(entry: dict[str, Any]) -> str | None:
    names = _map(entry.get("names"))
    return _text(names.get("fr")) or _text(names.get("en")) or _text(entry.get("iso_code"))


# --- client IP and visitor --------------------------------------------------------------------
def client_ip(peer: str | None, forwarded_for: str | None, trusted: tuple[Any, ...]) -> str | None:
    """The socket's address, or, when the socket is a trusted proxy, the right-most untrusted hop."""
    if not peer:
        return None
    if not trusted or not forwarded_for or not _is_trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop if _valid_ip(hop) else peer
    return hops[0] if hops and _valid_ip(hops[0]) else peer


def _valid_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_trusted(ip: str, trusted: tuple[Any, ...]) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr in net for net in trusted)


def visitor_hash(salt: bytes, site: str, ip: str | None, ua: str | None) -> str:
    digest = hashlib.blake2b(f"{site}\x00{ip or ''}\x00{ua or ''}".encode(), key=salt, digest_size=10)
    return "h" + digest.hexdigest()


@dataclass(frozen=True, slots=True)
class SiteConfig:
    name: str
    origins: tuple[str, ...]
    allowed_params: tuple[str, ...] = ()
    consent: str = "optional"  # or "required": the snippet sends nothing before consent
    retention_months: int | None = None  # None: the collector's default


@dataclass(slots=True)
class Context:
    """What the request adds to its events: the client (for geo and hash only), the user-agent."""
    ip: str | None
    user_agent: str | None
    origin: str  # beacon | pixel | import | api
    # "gpc" or "dnt" when the request carries Sec-GPC: 1 or DNT: 1: its events are answered, not stored
    refused: str | None = None


def build_row(ev: Incoming, site: SiteConfig, ctx: Context, now: datetime, salt: bytes, geo: Geo,
              extra_params: dict[str, str] | None = None) -> tuple[Any, ...]:
    """One event_log row (store.EVENT_COLUMNS order)."""
    page = clean_url(ev.url, site.allowed_params)
    params = dict(page.params)
    for key, value in (extra_params or {}).items():
        if key in KEPT_PARAMS and value and key not in params:
            params[key] = redact(value.strip()[:MAX_VALUE]) or ""
    ref = clean_url(ev.referrer, ())
    ua = ev.user_agent if ev.user_agent is not None else ctx.user_agent
    if ua or ctx.origin in ("beacon", "pixel"):
        agent = parse_agent((ua or "")[:512])  # a browser always sends one: none means a script
    else:
        agent = NO_AGENT  # an imported line or a back-office event without a user-agent is not a bot
    is_bot, reason = agent.is_bot, agent.bot_reason
    if ev.bot_hint and not is_bot:
        is_bot, reason = True, "automation hint from the snippet"
    country, region, city = geo.lookup(ctx.ip)
    if ev.visitor_id:
        visitor, kind = ev.visitor_id, ("consent" if ctx.origin in ("beacon", "pixel") else ctx.origin)
    else:
        visitor, kind = visitor_hash(salt, site.name, ctx.ip, ua), "hash"
    click_type = next((k for k in CLICK_IDS if params.get(k)), None)
    props = orjson.dumps(_redact_props(ev.props)).decode() if ev.props else None
    return (
        ev.event_id or new_event_id(), now, ev.ts or now, site.name, ev.type, redact(ev.name),
        visitor, kind, page.url, page.path, ref.url, referrer_domain(ref.host),
        params.get("utm_source"), params.get("utm_medium"), params.get("utm_campaign"),
        params.get("utm_term"), params.get("utm_content"), params.get("utm_id"),
        params.get(click_type) if click_type else None, click_type, props,
        agent.browser, agent.browser_version, agent.os, "bot" if is_bot else agent.device,
        is_bot, reason, country, region, city, ctx.origin,
    )


def _redact_props(props: dict[str, Any]) -> dict[str, Any]:
    return {k: redact(v) if isinstance(v, str) else v for k, v in props.items()}

