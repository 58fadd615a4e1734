"""Form verdicts in real Chromium: a page with Contact Form 7's markup and a script that behaves as CF7's
own (includes/js/src/submit.js: it stops the submission, posts the fields with fetch, sets the form's
data-status, then dispatches wpcf7mailsent, wpcf7invalid... and wpcf7submit on the form), the verdict
API for other plugins, and a plain form without verdicts. Asserts on what landed in DuckDB and on the
leads report."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import Collector, Pages, html
from conftest import webleads

pytestmark = pytest.mark.browser

# CF7's answer (the REST API's `status`) -> the form's data-status, as its status.js maps them.
ANSWERS = {"mail_sent": "sent", "mail_failed": "failed", "validation_failed": "invalid",
           "acceptance_missing": "unaccepted", "spam": "spam", "aborted": "aborted"}

# The markup CF7 6.x prints for [contact-form-7 id="123" html_id="contact"], trimmed of its hidden fields'
# values. The form's data-answer is this fixture's own knob: which answer the fake REST endpoint gives.
CF7_FORM = """
<div class="wpcf7 no-js" id="wpcf7-f123-p45-o1" lang="fr-FR" dir="ltr" data-wpcf7-id="123">
<form action="/contact/#wpcf7-f123-p45-o1" method="post" class="wpcf7-form init" id="contact"
      aria-label="Formulaire de contact" novalidate="novalidate" data-status="init" data-answer="mail_sent">
  <div style="display: none;">
    <input type="hidden" name="_wpcf7" value="123">
    <input type="hidden" name="_wpcf7_unit_tag" value="wpcf7-f123-p45-o1">
  </div>
  <p><label> Votre nom<br><span class="wpcf7-form-control-wrap" data-name="your-name">
    <input size="40" class="wpcf7-form-control wpcf7-text" autocomplete="name" type="text" name="your-name"
           value="Ada"></span></label></p>
  <p><input class="wpcf7-form-control wpcf7-submit has-spinner" type="submit" value="Envoyer"></p>
  <div class="wpcf7-response-output" aria-hidden="true"></div>
</form>
</div>
<p id="done">0</p>
"""

# What CF7's script does with a submission, rewritten for the test (not CF7's code).
CF7_SCRIPT = """
<script>
  const trigger = (form, name, detail) =>
    form.dispatchEvent(new CustomEvent("wpcf7" + name, {bubbles: true, detail}));
  const statuses = {mail_sent: "sent", mail_failed: "failed", validation_failed: "invalid",
                    acceptance_missing: "unaccepted", spam: "spam", aborted: "aborted"};
  for (const form of document.querySelectorAll(".wpcf7 > form")) form.addEventListener("submit", event => {
    event.preventDefault();
    form.setAttribute("data-status", "submitting");
    fetch("/wp-json/contact-form-7/v1/contact-forms/123/feedback/" + form.dataset.answer,
          {method: "POST", body: new FormData(form)})
      .then(response => response.json())
      .then(response => {
        const status = statuses[response.status];
        form.setAttribute("data-status", status);
        const detail = {contactFormId: 123, unitTag: "wpcf7-f123-p45-o1", status: response.status,
                        apiResponse: response};
        if (["invalid", "unaccepted", "spam", "aborted"].includes(status)) trigger(form, status, detail);
        else if (["sent", "failed"].includes(status)) trigger(form, "mail" + status, detail);
        trigger(form, "submit", detail);
        document.getElementById("done").textContent = String(+document.getElementById("done").textContent + 1);
      });
  });
</script>
"""


def cf7_page(collector: Collector, pages: Pages, path: str = "/contact", before: str = "") -> str:
    for answer in ANSWERS:
        pages.add(f"/wp-json/contact-form-7/v1/contact-forms/123/feedback/{answer}",
                  json.dumps({"status": answer, "message": "...", "into": "#wpcf7-f123-p45-o1"}),
                  content_type="application/json")
    return pages.add(path, html(collector, before + CF7_FORM + CF7_SCRIPT))


def send(v: Any, answer: str, times: int = 1) -> None:
    """Submit the CF7 form with this answer from its endpoint, and wait for CF7's events."""
    done = int(v.page.inner_text("#done"))
    v.page.evaluate(f"document.getElementById('contact').dataset.answer = {answer!r}")
    v.page.click("input[type=submit]")
    v.page.wait_for_function(f"document.getElementById('done').textContent === '{done + times}'")


def leads(collector: Collector, *options: str) -> list[dict[str, Any]]:
    """The leads report (the real CLI) on the collector's file, once it is stopped."""
    collector.stop()
    out = webleads("report", "leads", "--format", "json", *options, db=collector.db).stdout
    return json.loads(out)["rows"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("answer", list(ANSWERS))
def test_each_cf7_verdict_is_the_status_of_its_conversion(collector: Collector, pages: Pages, visit,
                                                          answer: str) -> None:
    v = visit(cf7_page(collector, pages))
    send(v, answer)
    collector.wait(3)
    rows = collector.rows("SELECT type, name, event_id, props, status FROM events ORDER BY received_at")
    conversion = next(r for r in rows if r["type"] == "conversion")
    verdict = next(r for r in rows if r["type"] == "status")
    assert sorted(r["type"] for r in rows) == ["conversion", "pageview", "status"]
    assert conversion["name"] == "contact"
    assert verdict["name"] == ANSWERS[answer]
    assert json.loads(verdict["props"]) == {"of": conversion["event_id"]}
    found = leads(collector, "--include-rejected")
    assert [(r["conversion"], r["lead_id"], r["status"]) for r in found] == [
        ("contact", conversion["event_id"], ANSWERS[answer])]
    accepted = ANSWERS[answer] == "sent"
    assert len(leads(collector)) == (1 if accepted else 0)


def test_a_resubmission_after_invalid_is_a_second_conversion_with_its_own_status(collector: Collector,
                                                                                  pages: Pages, visit) -> None:
    v = visit(cf7_page(collector, pages))
    send(v, "validation_failed")
    send(v, "mail_sent")
    collector.wait(5)
    rows = collector.rows("SELECT type, name, event_id, props FROM event_log ORDER BY received_at")
    conversions = [r["event_id"] for r in rows if r["type"] == "conversion"]
    verdicts = {json.loads(r["props"])["of"]: r["name"] for r in rows if r["type"] == "status"}
    assert len(set(conversions)) == 2
    assert [verdicts[c] for c in conversions] == ["invalid", "sent"]
    assert [(r["lead_id"], r["status"]) for r in leads(collector, "--include-rejected")] == [
        (conversions[0], "invalid"), (conversions[1], "sent")]
    assert [r["lead_id"] for r in leads(collector)] == [conversions[1]]


def test_a_plain_form_without_verdicts_is_still_a_lead(collector: Collector, pages: Pages, visit) -> None:
    pages.add("/api/send", "ok", content_type="text/plain")
    url = pages.add("/", html(collector, """
        <form id="inscription"><input name="e" value="x"><button>S'inscrire</button></form>
        <p id="status">...</p>
        <script>
          document.querySelector("form").addEventListener("submit", event => {
            event.preventDefault();
            fetch("/api/send", {method: "POST", body: new FormData(event.target)})
              .then(() => { document.getElementById("status").textContent = "sent"; });
          });
        </script>"""))
    v = visit(url)
    v.page.click("button")
    v.page.wait_for_function("document.getElementById('status').textContent === 'sent'")
    collector.wait(2)
    rows = collector.rows("SELECT type, status FROM events ORDER BY received_at")
    assert rows == [{"type": "pageview", "status": None}, {"type": "conversion", "status": "submitted"}]
    assert [(r["conversion"], r["status"]) for r in leads(collector)] == [("inscription", "submitted")]


def test_the_four_visitors_of_the_issue_give_two_leads(collector: Collector, pages: Pages, visit) -> None:
    """Sent; spam; invalid then sent; mail failed: five submissions, two accepted by the site."""
    url = cf7_page(collector, pages)
    for answers in (["mail_sent"], ["spam"], ["validation_failed", "mail_sent"], ["mail_failed"]):
        v = visit(url)  # a new browser context: another visitor
        for answer in answers:
            send(v, answer)
    collector.wait(4 + 5 * 2)
    assert [r["status"] for r in leads(collector)] == ["sent", "sent"]
    everything = leads(collector, "--include-rejected")
    assert sorted(r["status"] for r in everything) == ["failed", "invalid", "sent", "sent", "spam"]
    assert len({r["lead_id"] for r in everything}) == 5


def test_a_page_script_gives_the_verdict_of_another_plugin(collector: Collector, pages: Pages, visit) -> None:
    """WPForms, Gravity Forms, Elementor: the README's two lines call webleads('status', ...) on their
    plugin's event; it applies to the last conversion sent from the page."""
    pages.add("/api/send", "ok", content_type="text/plain")
    url = pages.add("/", html(collector, """
        <form id="wpforms-form-7"><input name="e" value="x"><button>Envoyer</button></form>
        <p id="status">...</p>
        <script>
          document.querySelector("form").addEventListener("submit", event => {
            event.preventDefault();
            fetch("/api/send", {method: "POST", body: new FormData(event.target)}).then(() => {
              event.target.dispatchEvent(new CustomEvent("wpformsAjaxSubmitSuccess", {bubbles: true}));
              document.getElementById("status").textContent = "sent";
            });
          });
          document.addEventListener("wpformsAjaxSubmitSuccess", () => webleads("status", "sent"));
        </script>"""))
    v = visit(url)
    v.page.click("button")
    v.page.wait_for_function("document.getElementById('status').textContent === 'sent'")
    collector.wait(3)
    assert [(r["conversion"], r["status"]) for r in leads(collector)] == [("wpforms-form-7", "sent")]


def test_a_verdict_before_any_conversion_or_on_an_ignored_form_sends_nothing(collector: Collector, pages: Pages,
                                                                             visit) -> None:
    url = cf7_page(collector, pages, before="<script>addEventListener('load', () => webleads('status', 'spam'))"
                                            "</script>")
    v = visit(url, init="addEventListener('DOMContentLoaded', () => "
                        "document.getElementById('contact').setAttribute('data-webleads-ignore', ''))")
    send(v, "spam")
    collector.wait(1, settle=1.0)
    assert [r["type"] for r in collector.rows()] == ["pageview"]
    assert len(v.beacons(collector)) == 1  # the pageview
