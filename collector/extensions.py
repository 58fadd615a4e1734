"""DuckDB extensions from the installed PyPI wheels (the `lake` extra), never downloaded at run time.

The packages duckdb-extension-ducklake, -postgres and -httpfs ship each binary at
`<package>/extensions/v<duckdb version>/<name>.duckdb_extension`. An extension binary loads only into
the DuckDB release it was built for (into another the process may die), so the folder's version is
checked against the running DuckDB before anything is loaded. DuckDB takes an extension's name from
its file name, and the postgres package's file is not named as the extension is (postgres_scanner):
that one is loaded through a link of the right name in a private temporary folder."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import duckdb

# Connection settings under which DuckDB neither installs nor loads an extension on its own.
NO_DOWNLOADS = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
INSTALL_HINT = "pip install 'webleads-tracker[lake]'"


@dataclass(frozen=True)
class Extension:
    name: str  # the name DuckDB knows it by (its entry point follows from it)
    package: str  # the Python package that ships it
    file: str  # its file name inside that package


EXTENSIONS = {e.name: e for e in (
    Extension("ducklake", "duckdb_extension_ducklake", "ducklake.duckdb_extension"),
    Extension("postgres_scanner", "duckdb_extension_postgres", "postgres.duckdb_extension"),
    Extension("httpfs", "duckdb_extension_httpfs", "httpfs.duckdb_extension"),
)}


class ExtensionMissing(Exception):
    """The extension's package is not installed, or was built for another DuckDB."""


_links: Path | None = None


def extension_path(name: str) -> Path:
    """The file to LOAD for extension `name`, from its installed package, for the running DuckDB."""
    ext = EXTENSIONS.get(name)
    if ext is None:
        raise ExtensionMissing(f"unknown extension {name!r} (known: {', '.join(EXTENSIONS)})")
    try:
        root = resources.files(ext.package)
    except ModuleNotFoundError:
        raise ExtensionMissing(f"the DuckDB extension {name} is not installed: {INSTALL_HINT}") from None
    folder = root.joinpath("extensions", f"v{duckdb.__version__}")
    found = folder.joinpath(ext.file)
    if not found.is_file():
        shipped = root.joinpath("extensions")
        built = ", ".join(sorted(p.name for p in shipped.iterdir())) if shipped.is_dir() else "?"
        raise ExtensionMissing(f"the installed DuckDB extension {name} is built for DuckDB {built}, "
                               f"not {duckdb.__version__}: {INSTALL_HINT}")
    path = Path(str(found))
    if path.name == f"{ext.name}.duckdb_extension":
        return path
    return _linked(path, f"{ext.name}.duckdb_extension")


def _linked(target: Path, name: str) -> Path:
    global _links
    if _links is None:
        _links = Path(tempfile.mkdtemp(prefix="webleads-extensions-"))
        atexit.register(shutil.rmtree, _links, True)
    link = _links / name
    if not link.exists():
        os.symlink(target, link)
    return link


def load(conn: duckdb.DuckDBPyConnection, *names: str) -> None:
    """LOAD each extension from its wheel into the connection's database."""
    for name in names:
        path = str(extension_path(name)).replace("'", "''")
        conn.execute(f"LOAD '{path}'")
