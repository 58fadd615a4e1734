"""The docs show commands that exist and links that lead somewhere.

Every `webleads ...` command in README.md and docs/*.md (in code blocks and in inline code) is run with
`--help` through click's CliRunner on the real `webleads` group, and every `--option` written next to it
must be one of that command's options. Every relative link between these files must name a file that
exists and, after a `#`, one of its headings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from webleads.cli import cli

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^\s*(```|~~~)")
INLINE = re.compile(r"(`+)(.+?)\1")
# what ends a shell command on a line: the next command, a redirection, a comment
SEPARATORS = {"|", "||", "&&", ";", "&", "<"}
OPTION = re.compile(r"^\[?(--[a-z][a-z0-9-]*)")
WORD = re.compile(r"^[a-z][a-z0-9-]*$")


@dataclass(frozen=True)
class Shown:
    """One command as a doc shows it: its path under `webleads`, the options beside it, and where."""

    path: tuple[str, ...]
    options: tuple[str, ...]
    where: str
    any_below: bool = False  # `webleads report ... --data DIR`: the options of some command under the path


def code_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, code) for each line of a fenced block (continued lines joined) and each inline span."""
    in_fence = False
    pending = ""
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            in_fence = not in_fence
            pending = ""
            continue
        if in_fence:
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            yield number, pending + line
            pending = ""
        else:
            for match in INLINE.finditer(line):
                yield number, match.group(2).replace("\\|", "|")


def is_invocation(token: str) -> bool:
    # `webleads`, or the program by its path (/usr/local/bin/webleads, ExecStart=/opt/webleads/bin/webleads);
    # not a folder named after it (/var/backups/webleads)
    return token == "webleads" or re.search(r"(^|[=/])bin/webleads$", token) is not None


def commands_in(code: str, where: str) -> Iterator[Shown]:
    tokens = code.split()
    for i, token in enumerate(tokens):
        if not is_invocation(token):
            continue
        rest: list[str] = []
        for t in tokens[i + 1:]:
            if t in SEPARATORS or t.startswith((">", "#", "2>")) or is_invocation(t):
                break
            rest.append(t)
        path: list[str] = []
        group: click.Command = cli
        any_below = False
        options: list[str] = []
        for position, t in enumerate(rest):
            word = t if t == "..." else t.rstrip(",.:;)")
            at_path = position == len(path) and isinstance(group, click.Group) and not any_below
            if at_path and subcommand(group, word) is not None:
                path.append(word)
                group = subcommand(group, word)  # type: ignore[assignment]
                continue
            if at_path and (word == "..." or word.isupper()):  # `webleads COMMAND --help`, `webleads report ...`
                any_below = bool(path) or word == "..."
                continue
            if at_path and WORD.match(word):
                path.append(word)  # not a command: reported by the test
                break
            match = OPTION.match(t)
            if match:
                options.append(match.group(1))
        yield Shown(tuple(path), tuple(options), where, any_below)


def shown_commands(files: list[Path]) -> list[Shown]:
    found = []
    for doc in files:
        for number, code in code_lines(doc.read_text(encoding="utf-8")):
            found.extend(commands_in(code, f"{doc.relative_to(ROOT)}:{number}"))
    return found


def subcommand(group: click.Command, name: str) -> click.Command | None:
    """A group's command by name (get_command: the CLI imports a command's module when it is asked for)."""
    return group.get_command(click.Context(group), name) if isinstance(group, click.Group) else None


def find(path: tuple[str, ...]) -> click.Command | None:
    command: click.Command | None = cli
    for name in path:
        command = subcommand(command, name) if command is not None else None
    return command


def option_names(command: click.Command) -> set[str]:
    names = {"--help"}
    for param in command.params:
        if isinstance(param, click.Option):
            names.update(param.opts)
            names.update(param.secondary_opts)
    return names


def problems(shown: list[Shown]) -> list[str]:
    """What is wrong with the commands the docs show: a command that does not exist, an option it lacks."""
    out = []
    for s in shown:
        command = find(s.path)
        if command is None:
            out.append(f"{s.where}: `webleads {' '.join(s.path)}` is no command")
            continue
        if s.any_below and isinstance(command, click.Group):
            below = [subcommand(command, name) for name in command.list_commands(click.Context(command))]
            known = set().union(*(option_names(c) for c in below if c is not None), option_names(command))
        else:
            known = option_names(command)
        out.extend(f"{s.where}: `webleads {' '.join(s.path)}` has no option {o}" for o in s.options
                   if o not in known)
    return out


# --- the commands ---------------------------------------------------------------------------------
def test_the_docs_show_commands() -> None:
    paths = {s.path for s in shown_commands(DOCS)}
    # a floor: if the extraction broke, nothing would be checked
    assert {("serve",), ("site", "add"), ("report", "attribution"), ("link", "qr"), ("backup",)} <= paths


def test_every_command_shown_exists_and_takes_the_options_shown() -> None:
    assert problems(shown_commands(DOCS)) == []


def test_every_command_shown_answers_help() -> None:
    runner = CliRunner()
    for path in sorted({s.path for s in shown_commands(DOCS) if find(s.path) is not None}):
        result = runner.invoke(cli, [*path, "--help"], prog_name="webleads")
        assert result.exit_code == 0 and "Usage: webleads" in result.output, (path, result.output)


@pytest.mark.parametrize("code, complaint", [
    ("webleads report nonesuch --model linear", "`webleads report nonesuch` is no command"),
    ("webleads frobnicate", "`webleads frobnicate` is no command"),
    ("webleads link qr CODE --out a.png --bogus", "`webleads link qr` has no option --bogus"),
    ("sudo -u webleads webleads site add x --origin https://a.test --colour red",
     "`webleads site add` has no option --colour"),
    ("webleads report ... --nope DIR", "`webleads report` has no option --nope"),
], ids=["subcommand", "command", "option", "after-sudo", "any-report"])
def test_a_made_up_command_or_option_is_caught(code: str, complaint: str) -> None:
    found = problems(list(commands_in(code, "doc:1")))
    assert found == [f"doc:1: {complaint}"]


def test_what_is_not_a_command_is_left_alone() -> None:
    for code in ["install -d -o webleads -g webleads -m 700 DIR", "journalctl -u webleads",
                 "webleads('consent', 'granted')", "runuser -u webleads -- webleads ...",
                 "17 3 * * * webleads /usr/local/bin/webleads backup --into /x --keep-daily 7 >/dev/null",
                 "webleads report ... --data DIR", "webleads COMMAND --help"]:
        assert problems(list(commands_in(code, "doc:1"))) == [], code


# --- the links ------------------------------------------------------------------------------------
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def outside_fences(text: str) -> list[str]:
    out, in_fence = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence:
            out.append(line)
    return out


def anchors(doc: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file."""
    seen: dict[str, int] = {}
    out = set()
    for line in outside_fences(doc.read_text(encoding="utf-8")):
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        slug = re.sub(r"[^\w\- ]", "", match.group(1).lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        out.add(slug if count == 0 else f"{slug}-{count}")
    return out


def broken_links(files: list[Path]) -> list[str]:
    broken = []
    for doc in files:
        for line in outside_fences(doc.read_text(encoding="utf-8")):
            for target in LINK.findall(INLINE.sub("", line)):
                if re.match(r"^[a-z]+:", target):  # https:, mailto:
                    continue
                file, _, anchor = target.partition("#")
                dest = (doc.parent / file).resolve() if file else doc
                if not dest.exists():
                    broken.append(f"{doc.name}: {target} (no such file)")
                elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                    broken.append(f"{doc.name}: {target} (no such heading)")
    return broken


def test_code_blocks_are_closed() -> None:
    # an unclosed fence would hide what follows from every check here
    for doc in DOCS:
        fences = [line for line in doc.read_text(encoding="utf-8").splitlines() if FENCE.match(line)]
        assert len(fences) % 2 == 0, doc


def test_relative_links_lead_to_files_and_headings() -> None:
    assert broken_links(DOCS) == []


def test_a_broken_link_is_caught(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Title\n\n## Wire format (`POST /e`)\n\n## Title\n", encoding="utf-8")
    assert anchors(tmp_path / "a.md") == {"title", "wire-format-post-e", "title-1"}
    (tmp_path / "b.md").write_text("[ok](a.md#wire-format-post-e) [ok](#b) `[code](nowhere.md)`\n\n# B\n"
                                   "[gone](c.md) [moved](a.md#wire-format) [out](https://example.org/x)\n",
                                   encoding="utf-8")
    assert broken_links([tmp_path / "b.md"]) == ["b.md: c.md (no such file)",
                                                 "b.md: a.md#wire-format (no such heading)"]
