"""Which names the collector answers to (the Host header), against DNS rebinding.

A page on another site can make its own name resolve to 127.0.0.1 (or to a private address) and then
read what the collector answers there, as if it were that site: /metrics is open to local clients,
and a signed-in dashboard or the root page would be too. Browsers always send the name they
resolved in Host, so requests naming anything but this collector are refused (421), except on the
public paths (snippet, beacon, pixel): those serve every site, whatever name a proxy passes on, and
answer nothing a page could not already read.

Allowed: the configured public address's name (public_url), the name or address it listens on,
`localhost` and `*.localhost` (browsers resolve them to loopback themselves), and any IP address
literal (a page whose address is an IP literal is not another site's page: rebinding needs a name).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from .settings import Settings


def host_name(value: str) -> str:
    """The name in a Host header, lower-case, without its port or a final dot."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else ""
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


class AllowedHosts:
    def __init__(self, settings: Settings) -> None:
        names = {"localhost", "127.0.0.1", "::1"}
        public = urlsplit(settings.base_url).hostname
        if public:
            names.add(public.lower().rstrip("."))
        if settings.host not in ("", "0.0.0.0", "::"):
            names.add(settings.host.lower().strip("[]").rstrip("."))
        self.names = frozenset(names)

    def __call__(self, host: bytes | None) -> bool:
        if not host:
            return False  # HTTP/1.1 requires Host; browsers always send it
        name = host_name(host.decode("latin-1"))
        if name in self.names or name.endswith(".localhost"):
            return True
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True
