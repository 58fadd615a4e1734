"""The served script: its size budget, and the stripper that makes it from snippet/webleads.js.
(No browser needed: these run everywhere.)"""

from __future__ import annotations

import gzip
import subprocess

import pytest

from webleads.snippet import BUDGET_GZIP_BYTES, MinifyError, minify, script

from .conftest import Collector, served_size


def test_the_served_script_is_within_its_gzip_budget(collector: Collector) -> None:
    raw, gz = served_size(collector)
    assert gz <= BUDGET_GZIP_BYTES == 1100, f"/s.js is {gz} bytes gzip -9 ({raw} raw): over the budget"
    assert raw == len(script())


def test_gzip_cli_agrees_with_the_python_measure() -> None:
    """The budget is stated for `gzip -9`; Python's compressor gives the same bytes."""
    body = script()
    cli = subprocess.run(["gzip", "-9", "-n", "-c"], input=body, capture_output=True, check=True).stdout
    assert len(cli) == len(gzip.compress(body, compresslevel=9, mtime=0))


def test_the_collector_paths_are_put_into_the_script() -> None:
    code = script("/t/collect", "/t/p.gif").decode()
    assert 'new URL("/t/collect",' in code and 'new URL("/t/p.gif?",' in code
    assert "BEACON_PATH" not in code and "PIXEL_QUERY" not in code
    assert 'new URL("/e",' in script().decode()


def test_the_served_script_has_no_comments_and_one_line() -> None:
    code = script().decode()
    assert code.count("\n") == 1 and code.endswith("\n")
    assert "/*" not in code and "//" not in code


@pytest.mark.parametrize(("source", "expected"), [
    pytest.param("var a = 1 ;\n  // note\n  return a ;", "var a=1;return a", id="comments-and-spaces"),
    pytest.param('x = "a  // b /* c */"; y = \'it\\\'s  \';', 'x="a  // b /* c */";y=\'it\\\'s  \'',
                 id="strings-untouched"),
    pytest.param("if (a) { b(); }", "if(a){b()}", id="semicolon-before-brace"),
    pytest.param("f(/ a[/]b /g, x / y / z)", "f(/ a[/]b /g,x/y/z)", id="regex-and-division"),
    pytest.param("typeof x; new Image", "typeof x;new Image", id="words-keep-a-space"),
    pytest.param("a + +b - -c", "a+ +b- -c", id="unary-after-binary"),
    pytest.param("/* head */ (() => 1)()", "(()=>1)()", id="block-comment"),
])
def test_minify(source: str, expected: str) -> None:
    assert minify(source) == expected


@pytest.mark.parametrize("source", [
    pytest.param("x = `template`", id="template-literal"),
    pytest.param('x = "open', id="open-string"),
    pytest.param("/* open", id="open-comment"),
])
def test_minify_refuses_what_it_does_not_handle(source: str) -> None:
    with pytest.raises(MinifyError):
        minify(source)
