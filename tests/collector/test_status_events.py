"""Validation of verdicts (events of type `status`): the word must be one of Contact Form 7's, and
`props.of` must name the conversion's event_id."""

from __future__ import annotations

import pytest

from webleads.collector.validate import STATUSES, Rejected, validate_event

PAGE = "https://www.ecloserie.test/contact"


def status(**fields: object) -> dict[str, object]:
    return {"site": "ecloserie", "url": PAGE, "type": "status", "name": "spam", "props": {"of": "0.123"},
            **fields}


@pytest.mark.parametrize("event, code", [
    pytest.param(status(name=None), "missing_name", id="no-word"),
    pytest.param(status(name="success"), "bad_status", id="unknown-word"),
    pytest.param(status(name="SPAM"), "bad_status", id="word-in-capitals"),
    pytest.param(status(props=None), "missing_of", id="no-props"),
    pytest.param(status(props={"form": "contact"}), "missing_of", id="no-of"),
    pytest.param(status(props={"of": 12}), "missing_of", id="of-a-number"),
    pytest.param(status(props={"of": "a b"}), "missing_of", id="of-not-an-id"),
    pytest.param(status(props={"of": "x" * 65}), "missing_of", id="of-too-long"),
])
def test_a_bad_verdict_is_refused_with_its_reason(event: dict[str, object], code: str) -> None:
    with pytest.raises(Rejected) as refused:
        validate_event(event)
    assert (refused.value.status, refused.value.code) == (400, code)


@pytest.mark.parametrize("word", STATUSES)
def test_every_status_word_is_accepted(word: str) -> None:
    found = validate_event(status(name=word, props={"of": "0.5488135039273248"}))
    assert (found.type, found.name, found.props) == ("status", word, {"of": "0.5488135039273248"})


def test_the_words_are_contact_form_7s() -> None:
    assert STATUSES == ("submitted", "sent", "invalid", "unaccepted", "spam", "aborted", "failed")
