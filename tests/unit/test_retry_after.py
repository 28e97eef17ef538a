"""Which API server answers are sent again, and after how long (kube.retry_after)."""

from __future__ import annotations

import pytest

from driftless.kube.retry_after import MAX_RETRY_AFTER, RETRY_AFTER_ATTEMPTS, retry_wait


@pytest.mark.parametrize(
    ("status", "header", "wait"),
    [
        (429, "1", 1.0),  # API Priority and Fairness shedding load
        (429, "0", 0.0),
        (503, "2", 2.0),  # a server (or aggregated API) starting
        (500, " 3 ", 3.0),
        (599, "1", 1.0),
    ],
)
def test_an_answer_asking_to_come_back_is_sent_again_after_its_wait(
    status: int, header: str, wait: float
) -> None:
    assert retry_wait(status, header, attempt=1) == wait


@pytest.mark.parametrize(
    ("status", "header"),
    [
        (503, None),  # a 5xx without Retry-After is the server's failure, not a retry
        (429, None),
        (429, ""),
        (409, "1"),  # a conflict, a refusal or a 404 is never resent on a header's word
        (422, "1"),
        (404, "1"),
        (403, "1"),
        (600, "1"),
    ],
)
def test_other_answers_are_reported_at_once(status: int, header: str | None) -> None:
    assert retry_wait(status, header, attempt=1) is None


@pytest.mark.parametrize(
    "hostile",
    [
        "-1",
        "1.5",
        "1e9",
        "Wed, 21 Oct 2026 07:28:00 GMT",  # the HTTP-date form: Kubernetes never sends it
        "\u0661",  # ARABIC-INDIC DIGIT ONE: str.isdigit() says yes, int() would accept it
        "9" * 400,  # a number too long to be a wait
        "1, 2",
    ],
)
def test_a_malformed_or_hostile_header_means_no_retry(hostile: str) -> None:
    assert retry_wait(429, hostile, attempt=1) is None


def test_a_long_wait_is_capped() -> None:
    assert retry_wait(429, "3600", attempt=1) == MAX_RETRY_AFTER
    assert retry_wait(429, "999999", attempt=1) == MAX_RETRY_AFTER


def test_the_number_of_sends_is_bounded() -> None:
    assert retry_wait(429, "1", attempt=RETRY_AFTER_ATTEMPTS - 1) == 1.0
    assert retry_wait(429, "1", attempt=RETRY_AFTER_ATTEMPTS) is None
