"""Form conversions in real Chromium: classic forms that navigate, AJAX forms that prevent the default,
ignored forms, naming, and the fields that must never leave the browser."""

from __future__ import annotations

import json

import pytest

from .conftest import Collector, Pages, html

pytestmark = pytest.mark.browser

# What a WordPress form plugin does: stop the browser's submission and send the fields with fetch. It
# also stops the event's propagation, as jQuery's `return false` does: only a capture-phase listener
# above the form still sees it.
AJAX = """
<p id="status">...</p>
<script>
  for (const form of document.querySelectorAll("form")) form.addEventListener("submit", event => {
    event.preventDefault();
    event.stopPropagation();
    fetch("/api/send", {method: "POST", body: new FormData(form)})
      .then(() => { document.getElementById("status").textContent = "sent " + form.getAttribute("id"); });
  });
</script>
"""


def test_a_classic_form_that_navigates_is_counted_before_the_page_goes(collector: Collector, pages: Pages,
                                                                       visit) -> None:
    pages.add("/contact", html(collector, """
        <form id="contact-form" method="post" action="/merci" data-webleads-conversion="demande-contact"
              data-webleads-capture="formation">
          <select name="formation"><option>mooc</option><option selected>dev-web</option></select>
          <input name="email" value="ada@example.org">
          <button>Envoyer</button>
        </form>"""))
    pages.add("/merci", html(collector, "Merci !"))
    v = visit(pages.origin + "/contact")
    v.page.click("button")
    v.page.wait_for_url("**/merci")
    collector.wait(3)
    rows = collector.rows()
    assert [(r["type"], r["name"], r["path"]) for r in rows] == [
        ("pageview", None, "/contact"), ("conversion", "demande-contact", "/contact"), ("pageview", None, "/merci")]
    assert json.loads(rows[1]["props"]) == {"formation": "dev-web"}
    assert pages.posted[0][0] == "/merci"  # the form itself went through


def test_an_ajax_form_that_prevents_the_default_is_counted(collector: Collector, pages: Pages, visit) -> None:
    pages.add("/api/send", "ok", content_type="text/plain")
    url = pages.add("/candidater", html(collector, """
        <form id="candidater" data-webleads-capture="formation">
          <input name="formation" value="coders"><button>Candidater</button>
        </form>""" + AJAX))
    v = visit(url)
    v.page.click("button")
    v.page.wait_for_function("document.getElementById('status').textContent === 'sent candidater'")
    collector.wait(2)
    rows = collector.rows()
    assert [(r["type"], r["name"]) for r in rows] == [("pageview", None), ("conversion", "candidater")]
    assert json.loads(rows[1]["props"]) == {"formation": "coders"}
    assert v.page.url == url  # no navigation: the page's own script handled the form


def test_an_ignored_form_is_not_counted(collector: Collector, pages: Pages, visit) -> None:
    pages.add("/api/send", "ok", content_type="text/plain")
    url = pages.add("/", html(collector, """
        <form id="recherche" data-webleads-ignore><input name="q" value="x"><button id="b1">Chercher</button></form>
        <form id="newsletter"><input name="e" value="y"><button id="b2">S'abonner</button></form>""" + AJAX))
    v = visit(url)
    v.page.click("#b1")
    v.page.wait_for_function("document.getElementById('status').textContent === 'sent recherche'")
    v.page.click("#b2")
    v.page.wait_for_function("document.getElementById('status').textContent === 'sent newsletter'")
    collector.wait(2)
    assert [(r["type"], r["name"]) for r in collector.rows()] == [("pageview", None), ("conversion", "newsletter")]


def test_conversions_are_named_by_attribute_then_id_then_name(collector: Collector, pages: Pages,
                                                             visit) -> None:
    pages.add("/api/send", "ok", content_type="text/plain")
    # Fields called "id" and "name" shadow form.id and form.name in the DOM: the names come from the
    # form's attributes all the same.
    url = pages.add("/", html(collector, """
        <form id="f1" data-webleads-conversion="inscription-mooc"><button id="b1">1</button></form>
        <form id="f2" name="ignored-name"><input name="id" value="7"><button id="b2">2</button></form>
        <form name="visite"><input name="name" value="Ada"><button id="b3">3</button></form>
        <form><button id="b4">4</button></form>""" + AJAX))
    v = visit(url)
    for button in ("#b1", "#b2", "#b3", "#b4"):
        v.page.click(button)
    collector.wait(5)
    names = sorted(r["name"] for r in collector.rows() if r["type"] == "conversion")
    assert names == ["f2", "form", "inscription-mooc", "visite"]


def test_password_hidden_payment_and_unlisted_fields_are_never_sent(collector: Collector, pages: Pages,
                                                                    visit) -> None:
    pages.add("/api/send", "ok", content_type="text/plain")
    url = pages.add("/", html(collector, """
        <form id="compte" data-webleads-capture="formation, motdepasse jeton carte cvv niveau ville fichier">
          <input name="formation" value="dev-web">
          <input name="motdepasse" type="password" value="SECRET-password-1">
          <input name="jeton" type="hidden" value="SECRET-hidden-2">
          <input name="carte" autocomplete="cc-number" value="SECRET-card-3">
          <input name="cvv" value="SECRET-cvv-4">
          <input name="telephone" value="SECRET-unlisted-5">
          <label><input type="radio" name="niveau" value="debutant"> débutant</label>
          <label><input type="radio" name="niveau" value="avance" checked> avancé</label>
          <input type="checkbox" name="ville" value="SECRET-unchecked-6">
          <input type="file" name="fichier">
          <button>Créer</button>
        </form>""" + AJAX))
    v = visit(url)
    v.page.set_input_files("input[name=fichier]", files=[{"name": "cv.pdf", "mimeType": "application/pdf",
                                                          "buffer": b"%PDF-1.4 SECRET-file-7"}])
    v.page.click("button")
    v.page.wait_for_function("document.getElementById('status').textContent === 'sent compte'")
    collector.wait(2)
    rows = collector.rows()
    assert json.loads(rows[1]["props"]) == {"formation": "dev-web", "niveau": "avance", "fichier": "cv.pdf"}
    assert "SECRET" not in repr(rows)
    body = b"".join(r.post_data_buffer or b"" for r in v.requests if r.url.startswith(collector.url))
    assert b"SECRET" not in body  # not even on the wire


def test_long_field_values_are_cut_to_what_the_collector_accepts(collector: Collector, pages: Pages,
                                                                 visit) -> None:
    pages.add("/api/send", "ok", content_type="text/plain")
    url = pages.add("/", html(collector, """
        <form id="message" data-webleads-capture="motivation"><textarea name="motivation"></textarea>
        <button>Envoyer</button></form>""" + AJAX))
    v = visit(url)
    v.page.fill("textarea", "é" * 2000)
    v.page.click("button")
    collector.wait(2)
    assert json.loads(collector.rows()[1]["props"]) == {"motivation": "é" * 500}
