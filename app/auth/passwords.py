"""The password rule: one definition for the API's schemas, the web's forms, the command line and the demo.

ASVS 5.0 level 2 (V6.2): at least 12 characters and up to 128, every character allowed (any Unicode,
spaces anywhere, nothing stripped), no composition rules (no "one digit and one symbol"), and no
password found in a list of common and breached passwords.

Decisions:

- Length is counted in characters (Unicode code points) of the password exactly as typed; the password
  is hashed exactly as typed too, never normalised or stripped, so every existing hash keeps working and
  what was typed is what is checked. A letter with a separate combining accent counts as two characters.
- The list is compared after NFKC normalisation and case folding, so ``PASSWORD1234`` and the full-width
  ``ｐａｓｓｗｏｒｄ１２３４`` are refused like ``password1234``.
- A password that contains the account's email name (the part before the ``@``, when it has at least
  four characters; shorter ones would refuse unrelated passwords) is refused: it is the first guess.
- Existing passwords that break the rule still sign in; the rule applies whenever a password is set.

The list (``app/data/common-passwords.txt.gz``, 40,101 entries, lowercased, one a line) is the union of:

- the 20,000 common passwords shipped with Django (BSD-3-Clause licence), themselves from Royce Williams'
  list of the most common passwords in breach corpora (unhexed, lowercased, deduplicated);
- the 30,000 most common passwords of Mark Burnett's ten-million-password breach sample as shipped with
  zxcvbn-python (MIT licence), the same sample SecLists publishes as ``xato-net-10-million-passwords``.

Only the entries of 12 characters or more can ever decide (shorter passwords are refused for their
length), but the whole list is kept: it is loaded once, on first use, and takes a few megabytes of memory.
"""

from __future__ import annotations

import gzip
import unicodedata
from functools import cache
from pathlib import Path

MIN_LENGTH = 12
MAX_LENGTH = 128
EMAIL_NAME_MIN = 4

LIST_PATH = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt.gz"

HINT = f"At least {MIN_LENGTH} characters. A few unrelated words make a good one; spaces are allowed."

TOO_SHORT = "Choose a password of at least {min} characters: this one has {n}."
TOO_LONG = "Choose a password of at most {max} characters: this one has {n}."
COMMON = "Choose a password that is harder to guess: this one is in a list of common passwords."
EMAIL_NAME = (
    "Choose a password that is harder to guess: this one contains the name of the email address "
    "(the part before the @)."
)


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


@cache
def common_passwords() -> frozenset[str]:
    """The bundled list, read once per process."""
    with gzip.open(LIST_PATH, "rt", encoding="utf-8") as f:
        return frozenset(line.rstrip("\n") for line in f if line.rstrip("\n"))


def is_common(password: str) -> bool:
    return _folded(password) in common_passwords()


def problem(password: str, *, email: str | None = None) -> str | None:
    """Why ``password`` may not be set (a sentence for the person choosing it), or None when it may."""
    n = len(password)
    if n < MIN_LENGTH:
        return TOO_SHORT.format(min=MIN_LENGTH, n=n)
    if n > MAX_LENGTH:
        return TOO_LONG.format(max=MAX_LENGTH, n=n)
    if is_common(password):
        return COMMON
    if email:
        name = _folded(email.rpartition("@")[0] or email)
        if len(name) >= EMAIL_NAME_MIN and name in _folded(password):
            return EMAIL_NAME
    return None


def check(password: str, *, email: str | None = None) -> str:
    """``password`` unchanged when it may be set; ``ValueError`` with the reason otherwise (the form
    pydantic validators raise)."""
    reason = problem(password, email=email)
    if reason is not None:
        raise ValueError(reason)
    return password
