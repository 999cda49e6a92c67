"""The redactor: every registered secret, in every spelling, leaves no fragment behind."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from drillbook.core import redaction
from drillbook.core.redaction import PLACEHOLDER, REDACTOR, Redactor, register_secret

R = PLACEHOLDER


@pytest.fixture
def redactor() -> Redactor:
    return Redactor()


@pytest.fixture
def clean_default() -> Iterator[None]:
    REDACTOR.clear()
    yield
    REDACTOR.clear()


def test_no_secrets_leaves_text_alone(redactor: Redactor) -> None:
    assert redactor.redact("password=hunter22") == "password=hunter22"
    assert redactor.redact_bytes(b"hunter22") == b"hunter22"
    assert redactor.redact("") == ""


def test_every_occurrence_is_replaced(redactor: Redactor) -> None:
    redactor.add("hunter22")
    assert redactor.redact("a hunter22 b hunter22hunter22 c") == f"a {R} b {R} c"


def test_short_and_empty_values_are_ignored(redactor: Redactor) -> None:
    for value in ("", "a", "ab", "abc"):
        redactor.add(value)
    assert len(redactor) == 0
    assert redactor.redact("abc ab a") == "abc ab a"
    redactor.add("abcd")
    assert redactor.redact("abc abcd") == f"abc {R}"


def test_longest_secret_wins_over_its_prefix(redactor: Redactor) -> None:
    redactor.add("pass")
    redactor.add("password123")
    # Matching "pass" first would leave "word123" in the text.
    assert redactor.redact("x password123 y pass z") == f"x {R} y {R} z"


@pytest.mark.parametrize("order", [("abcdef", "cdefgh"), ("cdefgh", "abcdef")])
def test_overlapping_secrets_leave_no_fragment(redactor: Redactor, order: tuple[str, str]) -> None:
    for secret in order:
        redactor.add(secret)
    assert redactor.redact("<abcdefgh>") == f"<{R}>"
    assert redactor.redact("<abcdef-cdefgh>") == f"<{R}-{R}>"


def test_secret_inside_another(redactor: Redactor) -> None:
    redactor.add("xxsecretxx")
    redactor.add("secret")
    assert redactor.redact("1 xxsecretxx 2 secret 3") == f"1 {R} 2 {R} 3"


def test_regex_metacharacters_are_literal(redactor: Redactor) -> None:
    redactor.add("a.b*c+(d)")
    assert redactor.redact("a.b*c+(d) aXbbbc+d") == f"{R} aXbbbc+d"


def test_json_and_url_spellings_are_redacted(redactor: Redactor) -> None:
    secret = 'p@ss"wörd/1'
    redactor.add(secret)
    as_json = json.dumps({"dsn": f"postgres://u:{secret}@db"})
    assert secret not in redactor.redact(as_json)
    assert json.dumps(secret)[1:-1] not in redactor.redact(as_json)
    url = f"postgresql://u:{quote(secret, safe='')}@db/app"
    assert redactor.redact(url) == f"postgresql://u:{R}@db/app"


def test_surrounding_whitespace_of_a_secret_is_not_required(redactor: Redactor) -> None:
    redactor.add("token-1234\n")  # as read from a file
    assert redactor.redact("Bearer token-1234.") == f"Bearer {R}."


def test_bytes(redactor: Redactor) -> None:
    redactor.add("gehéim-wort")
    data = "x gehéim-wort y".encode()
    assert redactor.redact_bytes(data) == f"x {R} y".encode()
    assert redactor.redact_bytes(b"\xff\x00binary") == b"\xff\x00binary"


def test_clear_forgets(redactor: Redactor) -> None:
    redactor.add("hunter22")
    redactor.clear()
    assert redactor.redact("hunter22") == "hunter22"


def test_custom_placeholder() -> None:
    redactor = Redactor(placeholder="[hidden]")
    redactor.add("hunter22")
    assert redactor.redact("pw hunter22") == "pw [hidden]"


def test_module_default_instance(clean_default: None) -> None:
    assert redaction.REDACTOR is REDACTOR
    register_secret("module-secret")
    assert REDACTOR.redact("x module-secret") == f"x {R}"


def test_concurrent_add_and_redact(redactor: Redactor) -> None:
    secrets = [f"secret-{i:04d}" for i in range(200)]
    text = " ".join(secrets)
    errors: list[BaseException] = []

    def add(chunk: list[str]) -> None:
        for secret in chunk:
            redactor.add(secret)

    def read() -> None:
        try:
            for _ in range(200):
                out = redactor.redact(text)
                # Whatever subset is registered, output is made of whole secrets and marks.
                assert set(out.split(" ")) <= set(secrets) | {R}
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(secrets[i::4],)) for i in range(4)]
    threads += [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert redactor.redact(text) == " ".join([R] * len(secrets))
