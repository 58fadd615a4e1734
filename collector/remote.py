"""The local command channel: `webleads` commands run inside the collector while it holds the file.

DuckDB lets one process open a file. While `webleads serve` runs, it listens for commands on a unix
socket, `cli.sock`, in its private run directory (mode 0700, made at start; the front processes'
link sockets are there too), never on the public port. It writes `<db>.serve.json` beside the database
(mode 0600, created exclusively and put in place by a rename, so a file or link planted there
beforehand is replaced, never written through): the socket's path, a random secret and its pid. A
command that finds a serve file for its database checks that the serve file, the run directory and the
socket belong to the user running it (or refuses, naming the user to run it as), then sends its parsed
options and the secret; the collector runs the same click command in-process, on its own store, and
streams its output back while it runs.

Frames on the socket are a 4-byte big-endian length and a JSON object. The caller sends one: {"secret",
"command" (the names of the command, e.g. ["report", "attribution"]), "params" (its options as the
caller's click parsed them), "cwd" (where the caller's file names are), "tty", "tty_err" (whether its
stdout and stderr are terminals)}. The collector answers as the command runs: {"stdout": text} and
{"stderr": text} frames as it writes, then {"exit_code": n}.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import pwd
import secrets
import socket
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

log = logging.getLogger("webleads.remote")

CHANNEL_NAME = "cli.sock"
MAX_REQUEST = 1 << 20  # a command line, its arguments and the secret
REQUEST_SECONDS = 30.0  # to send the command once connected
CLOSE_SECONDS = 30.0  # how long a stopping collector lets running commands finish


def serve_file(db: str) -> Path:
    return Path(str(Path(db).resolve()) + ".serve.json")


@dataclass(frozen=True)
class ServeInfo:
    socket: str  # the command channel's unix socket
    secret: str
    pid: int
    url: str  # the collector's local address, for messages only
    owner: int = -1  # the serve file's owner (read from the file system, not from the file)


class ChannelRefused(Exception):
    """The command channel cannot be trusted or reached; the message says what to do."""


def write_serve_file(db: str, socket_path: str, url: str) -> ServeInfo:
    info = ServeInfo(socket=socket_path, secret=secrets.token_urlsafe(32), pid=os.getpid(), url=url,
                     owner=os.geteuid())
    path = serve_file(db)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump({"socket": info.socket, "secret": info.secret, "pid": info.pid, "url": info.url}, fh)
        os.replace(temporary, path)  # replaces whatever was there (a link is not followed)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return info


def read_serve_file(db: str) -> ServeInfo | None:
    try:
        fd = os.open(serve_file(db), os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as fh:
            owner = os.fstat(fh.fileno()).st_uid
            data = json.loads(fh.read(MAX_REQUEST))
        return ServeInfo(socket=str(data["socket"]), secret=str(data["secret"]), pid=int(data["pid"]),
                         url=str(data.get("url", "")), owner=owner)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_serve_file(db: str, info: ServeInfo | None) -> None:
    current = read_serve_file(db)
    if current is not None and info is not None and current.secret == info.secret:
        serve_file(db).unlink(missing_ok=True)


# --- the collector's side ---------------------------------------------------------------------------
class CommandChannel:
    """Serves commands on a unix socket. `run(request, out, err)` runs one and returns its exit code; what
    it writes to `out` and `err` reaches the caller as it is written. Plain threads: commands are rare,
    and one may run for minutes (an import) without holding the loop."""

    def __init__(self, path: str, secret: str, run: Callable[[dict[str, Any], IO[str], IO[str]], int]) -> None:
        self.path = path
        self.secret = secret.encode()
        self.run = run
        self.sock: socket.socket | None = None
        self.handlers: set[threading.Thread] = set()
        self.lock = threading.Lock()

    def start(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(self.path)
        os.chmod(self.path, 0o600)
        sock.listen(16)
        self.sock = sock
        threading.Thread(target=self._accept, name="webleads-commands", daemon=True).start()

    def _accept(self) -> None:
        assert self.sock is not None
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed
                return
            thread = threading.Thread(target=self._serve, args=(conn,), name="webleads-command", daemon=True)
            with self.lock:
                self.handlers.add(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            with conn:
                conn.settimeout(REQUEST_SECONDS)
                try:
                    request = self._request(_read_frame(conn, MAX_REQUEST))
                except (OSError, ValueError) as exc:  # cut short, too large, or not a frame
                    request = f"bad request on the command channel: {exc}"
                conn.settimeout(None)
                sender = _Sender(conn)
                if isinstance(request, str):
                    sender.send({"stderr": f"Error: {request}\n"})
                    code = 2
                else:
                    code = self.run(request, sender.stream("stdout", bool(request.get("tty"))),
                                    sender.stream("stderr", bool(request.get("tty_err"))))
                sender.send({"exit_code": code})
        finally:
            with self.lock:
                self.handlers.discard(threading.current_thread())

    def _request(self, payload: bytes) -> dict[str, Any] | str:
        """The request, or why it is refused."""
        try:
            request = orjson.loads(payload)
            given = str(request["secret"]).encode("utf-8", "surrogatepass")
            command, params = request["command"], request["params"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return "expected {secret, command, params, cwd, tty} on the command channel"
        if not secrets.compare_digest(given, self.secret):  # bytes: any text compares, none raises
            return "wrong local secret on the command channel (is <db>.serve.json current?)"
        if not isinstance(command, list) or not all(isinstance(c, str) for c in command) or \
                not isinstance(params, dict) or not isinstance(request.get("cwd", "/"), str):
            return "expected a command (a list of names), its params (an object) and cwd (a folder)"
        return dict(request)

    def close(self, timeout: float = CLOSE_SECONDS) -> None:
        """Take no more commands; let the running ones finish (up to `timeout`), before the store closes."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        with self.lock:
            running = list(self.handlers)
        for thread in running:
            thread.join(timeout)


class _Sender:
    """Frames to the caller, one write at a time. A caller gone (Ctrl+C) gets no more; the command runs on
    to its end, so that an import is not cut in the middle of a batch."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.lock = threading.Lock()
        self.gone = False

    def send(self, message: dict[str, Any]) -> None:
        with self.lock:
            if self.gone:
                return
            try:
                self.conn.sendall(_frame(message))
            except OSError:
                self.gone = True

    def stream(self, key: str, tty: bool) -> IO[str]:
        return _Stream(self, key, tty)


class _Stream(io.TextIOBase):
    """A text stream whose writes go to the caller's stdout or stderr; a terminal if the caller's is."""

    def __init__(self, sender: _Sender, key: str, tty: bool) -> None:
        self.sender = sender
        self.key = key
        self.tty = tty

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> int:
        if text:
            self.sender.send({self.key: text})
        return len(text)


def _frame(message: dict[str, Any]) -> bytes:
    payload = orjson.dumps(message)
    return len(payload).to_bytes(4, "big") + payload


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = conn.recv(min(left, 1 << 20))
        if not chunk:
            raise ValueError("the connection closed mid-frame")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_frame(conn: socket.socket, limit: int | None) -> bytes:
    size = int.from_bytes(_read_exactly(conn, 4), "big")
    if limit is not None and size > limit:
        raise ValueError(f"a frame of {size} bytes")
    return _read_exactly(conn, size)


# --- the command's side -----------------------------------------------------------------------------
def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def check_channel(info: ServeInfo) -> None:
    """Refuse a channel another user could have set up: the serve file, the socket's directory and
    the socket must be the current user's, the directory writable by no one else."""
    me = os.geteuid()
    path = Path(info.socket)
    try:
        directory, sock = os.lstat(path.parent), os.lstat(path)
    except OSError as exc:
        raise ChannelRefused(f"the collector's command socket {path} is gone ({exc.strerror}); "
                             f"is the collector (pid {info.pid}) still running?") from None
    for what, owner in (("serve file", info.owner), ("command socket", sock.st_uid),
                        ("command socket's folder", directory.st_uid)):
        if owner != me:
            name = _user(owner)
            raise ChannelRefused(f"the collector's {what} ({path if 'socket' in what else 'beside the database'}) "
                                 f"belongs to user {name}; run this command as {name} "
                                 f"(sudo -u {name} webleads ...)")
    if not stat.S_ISSOCK(sock.st_mode) or not stat.S_ISDIR(directory.st_mode) or directory.st_mode & 0o022:
        raise ChannelRefused(f"{path} is not a collector's private command socket; stop whatever made it")


def open_channel(info: ServeInfo, timeout: float = 3600) -> socket.socket | None:
    """A connection to the collector named in the serve file, or None when that collector is gone (its
    socket removed, or nobody listening: it was killed). ChannelRefused if the channel is not to be trusted."""
    if not os.path.lexists(info.socket):
        return None
    check_channel(info)
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(timeout)
    try:
        conn.connect(info.socket)
    except (ConnectionRefusedError, FileNotFoundError):
        conn.close()
        return None
    except OSError:
        conn.close()
        raise
    return conn


def call_collector(conn: socket.socket, info: ServeInfo, request: dict[str, Any],
                   output: Callable[[str, str], None]) -> int:
    """Send a command on an open channel; `output(key, text)` gets its stdout and stderr as they come.
    Returns its exit code; OSError if the collector went away before the end."""
    with conn:
        conn.sendall(_frame({**request, "secret": info.secret}))
        while True:
            try:
                message = orjson.loads(_read_frame(conn, None))
            except (ValueError, orjson.JSONDecodeError) as exc:
                raise OSError(f"the collector's answer was cut short ({exc})") from None
            if not isinstance(message, dict):
                raise OSError("the collector's answer is not an object")
            if "exit_code" in message:
                return int(message["exit_code"])
            for key in ("stdout", "stderr"):
                if isinstance(message.get(key), str):
                    output(key, message[key])
