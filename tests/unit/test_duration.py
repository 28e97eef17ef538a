import pytest

from driftless.core.models import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("3m", 180), ("1h30m", 5400), ("1h0m5s", 3605)]
)
def test_valid(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "3", "1d", "m", "-1s"])
def test_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)
