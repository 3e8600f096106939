"""Secrets under attack: every documented token shape fires alone, the formats and keys users
expect are caught, query strings are read decoded, and the encoder's fast path agrees with the
full scan whatever the redactor's configuration or the order the caches were filled in."""

from __future__ import annotations

import dataclasses
import re
import string
import timeit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_tracing.encoding import Sanitizer
from agent_tracing.redaction import _TOKEN_RULES, REDACTED, Redactor

PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n"
    "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n"
    "-----END RSA PRIVATE KEY-----"
)

#: One sample per token rule (by rule name), each written alone in a string.
TOKEN_SAMPLES: dict[str, str] = {
    "openai-style-key": "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX",
    "stripe-access-token": "sk_live_a1B2c3D4e5F6g7H8",
    "stripe-webhook-secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "github-token": "ghp_" + "a1B2c3D4e5" * 3 + "F6g7H8",
    "github-fine-grained-pat": "github_pat_11ABCDEFG0" + "x1Y2z3" * 12,
    "gitlab-pat": "glpat-Ab3dEf6hIj9lMn2pQr5t",
    "slack-token": "xoxb-1234567890-abcdefghij",
    "slack-app-token": "xapp-1-A0123456789-1234567890123-abcdef0123456789abcdef",
    "aws-access-token": "ASIAY34FZKBOKMUTVV7A",
    "gcp-api-key": "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW",
    "npm-access-token": "npm_" + "a1B2c3D4e5F6" * 3,
}

#: Token-shaped samples of the other built-in patterns, each alone in a string.
OTHER_SAMPLES: dict[str, tuple[str, str]] = {
    "jwt": (
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEyMyJ9.c2lnbmF0dXJlLWJ5dGVz",
        REDACTED,
    ),
    "bearer": ("Bearer abcdefgh12345678", f"Bearer {REDACTED}"),
    "url": ("https://u:pw12345@h.example", f"https://u:{REDACTED}@h.example"),
    "query": ("?token=abc12345", f"?token={REDACTED}"),
    "kv": ("password=hunter22", f"password={REDACTED}"),
    "slack-webhook-url": (
        "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
        f"https://hooks.slack.com/services/{REDACTED}",
    ),
    "private-key": (PEM, f"-----BEGIN RSA PRIVATE KEY-----{REDACTED}"),
}


def test_every_token_rule_has_a_sample() -> None:
    """Each provider token rule of the module is covered by a sample below."""
    assert sorted(name for name, _, _ in _TOKEN_RULES) == sorted(TOKEN_SAMPLES)


@pytest.mark.parametrize("name", sorted(TOKEN_SAMPLES))
def test_each_token_shape_fires_alone(name: str) -> None:
    """A provider token alone in a string (no trigger word around it) is redacted."""
    assert Redactor().redact_text(TOKEN_SAMPLES[name]) == REDACTED


@pytest.mark.parametrize("name", sorted(OTHER_SAMPLES))
def test_each_other_pattern_fires_alone(name: str) -> None:
    """The other built-in patterns fire alone in a string too."""
    text, expected = OTHER_SAMPLES[name]
    assert expected == Redactor().redact_text(text)


@pytest.mark.parametrize("name", sorted(TOKEN_SAMPLES))
def test_each_token_shape_fires_in_data(name: str) -> None:
    """A provider token as a value in ``data`` (the encoder's fast path) is redacted."""
    assert Sanitizer().clean_mapping({"v": TOKEN_SAMPLES[name]}) == {"v": REDACTED}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"key:\n{PEM}\nnext", f"key:\n-----BEGIN RSA PRIVATE KEY-----{REDACTED}\nnext"),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA",  # cut, no END line
            f"-----BEGIN OPENSSH PRIVATE KEY-----{REDACTED}",
        ),
        ("id AKIAIOSFODNN7EXAMPLE x", f"id {REDACTED} x"),
        ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG", f"aws_secret_access_key={REDACTED}"),
        ("secretAccessKey: wJalrXUtnFEMI/K7MDENG", f"secretAccessKey: {REDACTED}"),
        ("passphrase=correct-horse", f"passphrase={REDACTED}"),
        ("session_id=abc123xyz", f"session_id={REDACTED}"),
        ("sessionid: abc123xyz", f"sessionid: {REDACTED}"),
        ("encryption_key=0011aabb", f"encryption_key={REDACTED}"),
        ("SIGNING_KEY=0011aabb", f"SIGNING_KEY={REDACTED}"),
        ("Authorization: Token abcdef123456", f"Authorization: {REDACTED}"),
        ("authorization: ApiKey abcdef123456", f"authorization: {REDACTED}"),
        ("dbPassword=hunter22 ok", f"dbPassword={REDACTED} ok"),
        ("myDbPassword: hunter22", f"myDbPassword: {REDACTED}"),
        ("postgresql://u:p@ss@word@db:5432/app", f"postgresql://u:{REDACTED}@db:5432/app"),
        ("redis://:a@b@cache:6379/0 and x@y", f"redis://:{REDACTED}@cache:6379/0 and x@y"),
        ('password="a\\"bcdef" next', f'password="{REDACTED}" next'),
        ("{'token': 'ab\\'cdef'}", f"{{'token': '{REDACTED}'}}"),
        ("Cookie: a=1; sessionid=xyz; csrftoken=abc", f"Cookie: {REDACTED}"),
        ("set-cookie: id=abc; Path=/\nnext", f"set-cookie: {REDACTED}\nnext"),
    ],
)
def test_formats_and_keys_users_expect(text: str, expected: str) -> None:
    """PEM blocks, AWS ids and secret keys, passphrases, session ids, Token/ApiKey schemes,
    camelCase keys, URL passwords with ``@``, escaped quotes and whole Cookie headers."""
    assert expected == Redactor().redact_text(text)


@pytest.mark.parametrize(
    "key",
    [
        "aws_secret_access_key",
        "secretAccessKey",
        "passphrase",
        "session_id",
        "sessionid",
        "encryption_key",
        "signing_key",
        "user[password]",
    ],
)
def test_new_secret_keys(key: str) -> None:
    """The keys users expect are secret as keys in data."""
    assert Redactor().is_secret_key(key)


@pytest.mark.parametrize(
    "text",
    [
        "total_tokens=123 prompt_tokens: 45",
        "user_id=42 request_id=7f9c0e1d-0b6e-4c1e-9d3a-2f1e0c9b8a7d",
        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "the key to success is caching; press any key",
        "sessions=4 keyspace=db0 monkey=3 tokenizer: cl100k",
        "Asia/Tokyo timezone; ASIA region",
        "GET /api/v1/users/42?page=2&sort=name HTTP/1.1",
        "max_tokens=512 maxTokens: 512",
    ],
)
def test_ordinary_log_text_is_untouched(text: str) -> None:
    """Counters, ids, UUIDs, hashes and prose with "key"/"token" words are not redacted."""
    assert text == Redactor().redact_text(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /x?api%5Fkey=s3cr3tv HTTP/1.1", f"GET /x?api%5Fkey={REDACTED} HTTP/1.1"),
        ("/x?q=1&user[password]=s3cr3tv", f"/x?q=1&user[password]={REDACTED}"),
        ("/x?user%5Bpassword%5D=s3cr3tv&a=1", f"/x?user%5Bpassword%5D={REDACTED}&a=1"),
        ("/x?user%5bpassword%5d=s3cr3tv", f"/x?user%5bpassword%5d={REDACTED}"),
        ("/x?a[b][api_key]=s3cr3tv", f"/x?a[b][api_key]={REDACTED}"),
        ("user[password]=s3cr3tv&q=1", f"user[password]={REDACTED}&q=1"),
    ],
)
def test_query_strings_are_read_decoded(text: str, expected: str) -> None:
    """Percent-encoded and bracketed secret parameter names are secret parameters."""
    assert expected == Redactor().redact_text(text)


@dataclasses.dataclass
class Account:
    name: str
    pin: str = dataclasses.field(repr=False)


def test_dataclass_fields_hidden_from_repr_are_redacted() -> None:
    """A dataclass field declared ``repr=False`` is not shown in data."""
    assert Sanitizer().clean_mapping({"a": Account("bob", "1234")}) == {
        "a": {"name": "bob", "pin": REDACTED}
    }


def test_custom_patterns_apply_to_short_strings_in_data() -> None:
    """A custom pattern scrubs a short plain value in data, whatever was cached before."""
    sanitizer = Sanitizer(Redactor(patterns=[r"ab\d"]))
    assert sanitizer.clean_mapping({"x": "ab1"}) == {"x": REDACTED}
    sanitizer = Sanitizer(Redactor(patterns=[r"ab\d"]))
    sanitizer.clean_mapping({"x": "zz"})
    assert {"x": REDACTED, "y": f"x{REDACTED}"} == sanitizer.clean_mapping(
        {"x": "ab1", "y": "xab2"}
    )


def test_extra_key_in_short_text_is_scanned() -> None:
    """An extra key written as ``pin:1234`` in a short value of data is redacted."""
    sanitizer = Sanitizer(Redactor(extra_keys=["pin"]))
    assert {"x": f"pin={REDACTED}"} == sanitizer.clean_mapping({"x": "pin=1234"})


_alphabet = string.ascii_letters + string.digits + "_-.:=/@?&%[]'\" "
_values = st.text(alphabet=_alphabet, max_size=24) | st.text(max_size=12)
_patterns = st.lists(st.sampled_from([r"ab\d", r"[xy]{2}", r"q", r"\d{3}", r"-z"]), max_size=2)
_extra = st.lists(st.sampled_from(["pin", "otp", "x_code", "auth_id"]), max_size=2)


@settings(max_examples=300, deadline=None)
@given(
    data=st.dictionaries(st.text(alphabet="abcpinotx_", max_size=6), _values, max_size=6),
    patterns=_patterns,
    extra=_extra,
    warm=st.lists(_values, max_size=6),
)
def test_fast_and_full_paths_agree(
    data: dict[str, str], patterns: list[str], extra: list[str], warm: list[str]
) -> None:
    """``clean_mapping`` on a dict (the fast path, caches warmed in any order) gives the same
    output as the general walk of each value with a fresh sanitizer, custom patterns and keys
    included."""
    redactor = Redactor(patterns=patterns, extra_keys=extra)
    fast = Sanitizer(redactor)
    for value in warm:  # fill the caches first, in an arbitrary order
        fast.clean_mapping({"w": value})
        fast.clean(value)
    expected = {}
    for key, value in data.items():
        full = Sanitizer(redactor)
        cleaned = full.clean({key: value})  # the general walk
        expected.update(cleaned)
    assert expected == fast.clean_mapping(data)


def test_skips_scan_is_the_one_decision() -> None:
    """The redactor decides which strings skip the scan: none with custom patterns."""
    assert [
        Redactor().skips_scan("abc"),
        Redactor(patterns=["a"]).skips_scan("abc"),
        Redactor(extra_keys=["pin"]).skips_scan("pin=1"),
    ] == [True, False, False]


def test_pathological_inputs_stay_linear() -> None:
    """Inputs built to make a regex backtrack are scanned in linear time."""
    r = Redactor()
    attacks = [
        "a://:" * 2000,
        "password=" + '"' + "\\a" * 4000,
        "?" + "a_" * 4000 + "=",
        "x://u:" + "@a" * 4000,
        "-----BEGIN " + "A " * 3000,
        "dbA" * 3000 + "Password",
        "Cookie: " + "a=1; " * 1700,
        "ASIA" * 2000,
        "user%5B" * 1500 + "=",
        "key: " + "a_" * 4300,  # a name restarted after each "_" was quadratic (seconds)
        "key: " + "a-" * 4300,
        "key: " + "aB_" * 2800,
        "key=1&" + "a_" * 4300 + "=",
        "a://b:" * 1400,
        "key:" + " " * 8000 + "x",
    ]
    for attack in attacks:
        seconds = min(timeit.repeat(lambda a=attack: r.redact_text(a), number=1, repeat=3))
        assert seconds < 0.05, (attack[:20], seconds)


def test_the_slack_webhook_keeps_its_host() -> None:
    """A Slack webhook URL keeps its scheme and host; the path holding the secret goes."""
    text = "posting to https://hooks.slack.com/workflows/T0AB12CD3/A0AB12CD3EF/123456789012345678/abcdefghijklmnop"
    out = Redactor().redact_text(text)
    assert re.search(r"T0AB12CD3|abcdefghijklmnop", out) is None
    assert out.startswith("posting to https://hooks.slack.com/workflows/")


def test_every_text_key_spelling_holds_a_key_word() -> None:
    """Each key looked for in text holds a pre-check word in every spelling, so none is skipped."""
    from agent_tracing.redaction import _KEY_WORDS, _TEXT_KEYS

    spellings = [
        spelling
        for key in _TEXT_KEYS
        for spelling in (key, key.replace("_", "-"), key.replace("_", ""), key.replace("_", "%5f"))
    ]
    assert [s for s in spellings if not any(word in s for word in _KEY_WORDS)] == []


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("X-Api-Key: k3yV4lue99 sent", "k3yV4lue99"),
        ("login with PASSWORD='p4ss\\'word' now", "word"),
        ("url=https://u:p%40ss@h/x?access_token=zz11", "p%40ss"),
        ("url=https://u:p%40ss@h/x?access_token=zz11", "zz11"),
        ("see https://user:pa/ss@w@db.example.com/x", "ss@w"),
        ("cookie=abc; other=1", "other=1"),
        ("export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI", "wJalr"),
        ('{"client_secret": "cs-1\\"2"}', "2"),
        ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ("github_pat_11ABCDEFG0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa in a sentence", "11ABCDEFG0"),
        ("SESSIONID=xyz123", "xyz123"),
    ],
)
def test_nearby_hostile_forms(text: str, secret: str) -> None:
    """Variants around the fixed forms leak none of their secret parts."""
    assert secret not in Redactor().redact_text(text)


def test_an_empty_extra_key_redacts_nothing_more() -> None:
    """An empty or separator-only extra key does not turn every ``a: b`` into a secret."""
    assert Redactor(extra_keys=["", "_", "pin"]).redact_text("a: b pin=1") == "a: b pin=[REDACTED]"
