"""Redaction: secret keys anywhere in data, secret values in every string, in both views."""

from __future__ import annotations

import dataclasses
import io
import string

import orjson
import pydantic
from hypothesis import given, settings
from hypothesis import strategies as st

import agent_tracing as at
from agent_tracing.redaction import Redactor, normalize_key
from agent_tracing.testing import CapturedEvents, capture_events

SECRET = "S3cr3tValue-0123456789abcdef"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEyMyJ9.c2lnbmF0dXJlLWJ5dGVz"


def test_default_keys_are_redacted_whatever_their_spelling() -> None:
    """Every default key, in several spellings, is recognised."""
    r = Redactor()
    keys = [
        "Authorization", "proxy-authorization", "Cookie", "Set-Cookie", "password", "passwd",
        "secret", "token", "api_key", "apiKey", "X-API-Key", "access_token", "refreshToken",
        "client_secret", "private_key", "jwt", "session", "db_password", "csrf_token",
    ]  # fmt: skip
    assert [k for k in keys if not r.is_secret_key(k)] == []
    assert not r.is_secret_key("total_tokens")
    assert not r.is_secret_key("user_id")
    assert normalize_key("X-API-Key") == "x_api_key"


def test_keys_are_configurable_and_extendable() -> None:
    """extra_keys extends the defaults; keys= replaces them."""
    assert Redactor(extra_keys=["pin_code"]).is_secret_key("PinCode")
    assert not Redactor(keys=["only_this"]).is_secret_key("password2x")
    assert Redactor(keys=["only_this"]).is_secret_key("only-this")


def test_nested_containers_models_and_dataclasses(log_events: CapturedEvents) -> None:
    """Secret keys are found in nested dicts, lists, tuples, pydantic models and dataclasses."""

    class Creds(pydantic.BaseModel):
        username: str
        password: str

    @dataclasses.dataclass
    class Exchange:
        name: str
        api_key: str

    at.get_logger("app.x").info(
        "config",
        data={
            "nested": {"deeper": [{"token": SECRET}, ("x", {"Secret": SECRET})]},
            "model": Creds(username="bob", password=SECRET),
            "exchange": Exchange(name="binance", api_key=SECRET),
            "headers": {"Authorization": f"Bearer {SECRET}"},
        },
    )
    line = log_events.raw[0]
    assert SECRET not in orjson.dumps(line).decode()
    assert line["data"]["model"] == {"username": "bob", "password": at.REDACTED}
    assert line["data"]["exchange"] == {"name": "binance", "api_key": at.REDACTED}


def test_value_patterns_in_message_data_and_exception(log_events: CapturedEvents) -> None:
    """Bearer tokens, JWTs, sk- keys, URL credentials and query secrets vanish everywhere."""
    log = at.get_logger("app.x")
    texts = [
        f"Authorization: Bearer {SECRET}",
        f"token {JWT}",
        "key sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX",
        f"postgresql://gentrade:{SECRET}@db:5432/app",
        f"GET /cb?code=abc&access_token={SECRET}&page=2",
        f"{{'password': '{SECRET}'}}",
        f"password={SECRET}",
    ]
    for text in texts:
        log.info(text, data={"note": text})
    try:
        raise ValueError(f"cannot connect to redis://:{SECRET}@cache:6379/0")
    except ValueError:
        log.exception("failed")
    dumped = orjson.dumps(log_events.raw).decode()
    for secret in (SECRET, JWT, "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX"):
        assert secret not in dumped
    assert log_events.raw[3]["message"] == "postgresql://gentrade:[REDACTED]@db:5432/app"
    assert log_events.raw[4]["message"] == "GET /cb?code=[REDACTED]&access_token=[REDACTED]&page=2"


def test_the_console_view_is_redacted_too() -> None:
    """The coloured view shows the same redacted message and data."""
    stream = io.StringIO()
    at.configure_logging(json=False, console_stream=stream, color=False)
    at.get_logger("app.x").warning(f"password={SECRET}", data={"api_key": SECRET})
    assert SECRET not in stream.getvalue()
    assert "[REDACTED]" in stream.getvalue()


_secret_text = st.text(alphabet=string.ascii_letters + string.digits, min_size=12, max_size=40)
_noise = st.text(max_size=30)


@settings(max_examples=200, deadline=None)
@given(secret=_secret_text, before=_noise, after=_noise, form=st.integers(0, 5))
def test_planted_secrets_never_appear(secret: str, before: str, after: str, form: int) -> None:
    """A secret planted in any of the recognised forms never survives redaction."""
    planted = [
        f"password={secret}",
        f"Bearer {secret}",
        f"https://user:{secret}@host/x",
        f"?api_key={secret}",
        f"'token': '{secret}'",
        f"sk-{secret}xxxxxxxxxxxxxxxx",
    ][form]
    text = f"{before} {planted} {after}"
    out = Redactor().redact_text(text)
    assert secret not in out.replace(before, "").replace(after, "")


@settings(max_examples=200, deadline=None)
@given(
    data=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=20,
    ),
    secret=_secret_text,
)
def test_secret_keys_in_arbitrary_nesting(data: object, secret: str) -> None:
    """A secret under a secret key anywhere in arbitrary data never reaches the line."""
    secret = f"PLANTED-{secret}"  # cannot occur in the generated data
    planted = {"wrapper": [data, {"password": secret, "inner": {"api_key": secret}}]}
    with capture_events() as captured:
        at.get_logger("app.hypo").info("planted", data=planted)
    assert secret not in orjson.dumps(captured.raw[-1]).decode()


def test_short_plain_tokens_are_scanned_from_jwt_length() -> None:
    """A 13-character JWT-shaped token is redacted; hex ids and UUIDs pass unchanged."""
    r = Redactor()
    uuid_text = "01a21d53-fd2b-73f2-a1ef-25b77dc2d25e"
    assert r.redact_text("eyJabcd.efgh.") == "[REDACTED]"
    assert [uuid_text, "00000000000000aa", "DEADBEEF-cafe"] == [
        r.redact_text(uuid_text),
        r.redact_text("00000000000000aa"),
        r.redact_text("DEADBEEF-cafe"),
    ]


def test_extra_patterns_apply_to_hex_text() -> None:
    """A configured pattern still scrubs text that no built-in pattern can match (hex ids)."""
    r = Redactor(patterns=[r"dead[0-9a-f]{4}"])
    assert r.redact_text("0a-deadbeef-01") == "0a-[REDACTED]-01"


_PLANTED = (
    "sk-abcdefghijklmnop1234",
    "pk_live_abcdefgh123",
    "whsec_" + "a" * 30,
    "ghp_" + "b" * 30,
    "github_pat_" + "c" * 25,
    "glpat-" + "d" * 22,
    "xoxb-1234567890abc",
    "xapp-1-A1B2-123-abc",
    "AKIAABCDEFGHIJKLMNOP",
    "AIza" + "e" * 36,
    "npm_" + "f" * 36,
    "eyJhbGciOi.eyJzdWIiOi.sigsig",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIabc\n-----END RSA PRIVATE KEY-----",
    "https://user:pa55@host.com/x",
    "?token=abc&api_key=zzz",
    "user[password]=x",
    "api%5Fkey=1",
    "Cookie: a=b; c=d",
    "password=hunter2",
    "'secret': 'xyz'",
    '"apiKey" : "v"',
    "db-password:\n p",
    "Authorization: Bearer abcdefghijk",
    "token abcdefghij",
    "hooks.slack.com/services/" + "T" * 24,
    "PWD=x",
    "a_b_c_token=q",
    "&auth=1",
    "\u017fecret=abc",
    "naïve_token=1",
)
_FILLER = (
    "the", "high", "through", "design", "author", "monkey", "key", "session", ":", "=", "?",
    "&", ";", "-", "_", "'", '"', "[", "]", "%5B", " ", "  ", "\n", "\t", "x:y", "a=b",
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(_PLANTED + _FILLER * 4), min_size=1, max_size=150),
    st.integers(min_value=0, max_value=80),
)
def test_long_text_scan_matches_the_whole_pattern(parts: list[str], pad: int) -> None:
    """A long text scanned only where a match can start gives the whole pattern's result."""
    redactor = Redactor(extra_keys=["pin_code"])
    text = "word " * pad + " ".join(parts)
    mask = redactor._parts_for(text)
    whole = redactor._pattern_for(mask).sub(redactor._replace, text) if mask else text
    assert redactor.redact_text(text) == (text if redactor.skips_scan(text) else whole)


def test_secret_anywhere_in_a_long_prompt_is_redacted() -> None:
    """Every planted secret is caught at the start, middle and end of a 20k-character prompt."""
    redactor = Redactor()
    prose = "the high design of an author through thought: a monkey key session. " * 300
    for secret in ("sk-abcdefghijklmnop1234", "AKIAABCDEFGHIJKLMNOP", "password=hunter2"):
        for text in (secret + " " + prose, prose + secret + " " + prose, prose + secret):
            out = redactor.redact_text(text)
            assert "abcdefghijklmnop1234" not in out
            assert "ABCDEFGHIJKLMNOP" not in out
            assert "hunter2" not in out
