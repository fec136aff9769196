"""Secret masking: by name segment and by value shape, on names made up here."""

from __future__ import annotations

import random
import string

import pytest

from tui.workspace.redact import MASK, is_secret_name, mask_env, redact, secret_values

SECRET_WORDS = ("PASS", "PASSWD", "PASSWORD", "PASSPHRASE", "PWD", "PAT", "TOKEN", "SECRET", "KEY", "AUTH",
                "CREDENTIAL", "CREDENTIALS", "PRIVATE", "CONN", "SAS", "SIG")
rng = random.Random(20240512)


def _word() -> str:
    return "".join(rng.choice(string.ascii_uppercase) for _ in range(rng.randint(3, 8)))


def _spellings(word: str) -> list[str]:
    """The secret word as one segment of made-up names, in each naming style."""
    a, b = _word(), _word()
    return [f"{a}_{word}", f"{word}_{a}", f"{a}-{word.lower()}-{b.lower()}", f"{a.lower()}.{word.lower()}",
            f"{a.lower()}{word.capitalize()}", f"{a.lower()}{word}", f"{word}{rng.randint(1, 9)}", word]


@pytest.mark.parametrize("word", SECRET_WORDS)
def test_a_secret_word_as_a_name_segment_makes_the_name_secret(word):
    for name in _spellings(word):
        assert is_secret_name(name), name
        assert mask_env({name: "s3cr3t-value", "PLAIN": "shown"}) == {name: MASK, "PLAIN": "shown"}
        if name != "KEY":  # a bare key= in text is generic (see test_ordinary_log_text_is_left_alone)
            assert redact(f"run {name}=s3cr3t-value now") == f"run {name}={MASK} now"


def test_names_shown_raw_today_are_masked():
    for name in ("DB_PASS", "GITHUB_PAT", "HF_AUTH", "PRIVATE", "dbPassword", "APIKey", "CONNECTION_STRING"):
        assert is_secret_name(name), name


@pytest.mark.parametrize("name", ["MONKEY", "TURKEY", "KEYBOARD", "PATH", "PATTERN", "DISPATCH", "PASSPORT",
                                  "BYPASS", "COMPASS", "AUTHOR", "SIGNAL", "SIGMA", "CONNECT", "TOKENIZERS_PARALLELISM",
                                  "EPOCHS", "LEARNING_RATE", "KEYWORDS"])
def test_a_secret_word_inside_an_ordinary_word_is_no_secret(name):
    made_up = f"{_word()}_{name}"
    assert not is_secret_name(name) and not is_secret_name(made_up)
    assert redact(f"{made_up}=42") == f"{made_up}=42"


def test_run_together_segments_with_a_long_secret_word_are_secret():
    for name in (f"{_word()}PASSWORD", f"{_word()}TOKEN", f"{_word()}SECRET", f"SECRET{_word()}",
                 f"{_word()}_APIKEY", f"{_word()}_ACCESSKEY", "PASSPHRASE", "passCode"):
        assert is_secret_name(name), name


@pytest.mark.parametrize("secret", [
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "ghp_" + "a1B2c3D4" * 5, "gho_" + "Z9y8X7w6" * 5, "github_pat_" + "11ABCDEFG0_" * 6,
    "hf_" + "QwErTy" * 6, "sk-proj-" + "Ab3_" * 8, "AKIA" + "ABCDEFGH23456789", "xoxb-1234-5678-abcdefghij",
    "AIza" + "Sy" * 17 + "x",
])
def test_value_shaped_secrets_are_masked_whatever_they_are_called(secret):
    assert redact(f"value: {secret} (end)") == f"value: {MASK} (end)"
    name = f"{_word()}_SETTING"
    assert mask_env({name: f"x {secret}"}) == {name: f"x {MASK}"}


def test_secrets_after_a_prefix_keep_the_prefix():
    assert redact("Authorization: Bearer abc.def-ghi") == f"Authorization: Bearer {MASK}"
    assert "dXNlcjpwYXNz" not in redact("authorization=Basic dXNlcjpwYXNz")
    assert redact("pip: https://user:hunter22@pypi.example.com/simple") == \
        f"pip: https://user:{MASK}@pypi.example.com/simple"
    assert redact("GET https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sig=Ab%2Bcd%3D&se=2030") == \
        f"GET https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sig={MASK}&se=2030"
    assert redact("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=Zm9vYmFy==;EndpointSuffix=x") == \
        f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={MASK};EndpointSuffix=x"
    pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----"
    assert "b3BlbnNzaC1rZXk" not in redact(pem) and redact(pem).startswith("-----BEGIN OPENSSH")


def test_free_text_masks_secret_named_pairs_and_options_only():
    name = f"{_word()}_PASS"
    assert redact(f'+ {name}="two words" python train.py') == f'+ {name}="{MASK}" python train.py'
    assert redact(f"{{'{name}': 'hunter22', 'epochs': '3'}}") == f"{{'{name}': '{MASK}', 'epochs': '3'}}"
    assert redact('{"apiKey": "k-123", "path": "/data"}') == f'{{"apiKey": "{MASK}", "path": "/data"}}'
    assert redact("train.py --hf-token abc123 --epochs 3 --password=xyz") == \
        f"train.py --hf-token {MASK} --epochs 3 --password={MASK}"


def test_ordinary_log_text_is_left_alone():
    text = ("epoch=3 loss=0.2345 path=/mnt/data monkey=banana --lr 0.1\n"
            "KeyError: 'learning_rate'\n  File \"x.py\", line 3, in <module>\n"
            "task-classification-finetune-v2 passed 5/5 =====\n"
            "--set 'inputs': expected key=value; sorted(rows, key=len)\n")
    assert redact(text) == text


def test_known_values_are_scrubbed_but_not_short_ones():
    values = secret_values({f"{_word()}_TOKEN": "v4lue-of-it", f"{_word()}_KEY": "on", "EPOCHS": "hunter"})
    assert values == ["v4lue-of-it", "on"]
    assert redact("got v4lue-of-it and on and hunter", values) == f"got {MASK} and on and hunter"
