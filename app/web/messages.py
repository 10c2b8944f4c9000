"""The one mapping from validation errors to the plain English the web client shows beside a field.

A form field has a label ("capability", "cost for 2023-24"); an error has a type (``missing``,
``string_too_short``, ``enum``, ``decimal_parsing``, ``greater_than_equal``…). Together they make a
GOV.UK-style message that names the field — "Enter the capability", "Select a kind", "Enter the cost
for 2023-24 in pounds", "Enter a cost for 2023-24 of £0 or more" — and never the validator's own text
("String should have at least 1 character", "Input should be 'investment', …", "Field required").

Messages the service writes for people (a reference already used, a year not in the cycle) are kept,
as a sentence. A type this module does not know still gets a message naming the field, never the
validator's words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from app.money import MAX_MONEY, AmountError


@dataclass(frozen=True)
class Label:
    """How a field is named in a message: ``text`` in lower case as it reads mid-sentence."""

    text: str
    choice: bool = False  # picked from a list (select, radios, checkboxes): "Select a kind"
    money: bool = False  # an amount in pounds
    hint: str = ""  # the format wanted, for a value that does not match its pattern

    @property
    def article(self) -> str:
        return "an" if self.text[:1] in "aeiou" else "a"

    @property
    def sentence(self) -> str:
        return self.text[:1].upper() + self.text[1:]


LABELS: dict[str, Label] = {
    "title": Label("title"),
    "capability": Label("capability"),
    "kind": Label("kind", choice=True),
    "lead": Label("capability lead"),
    "summary": Label("summary"),
    "fte_change": Label("change in full-time equivalents"),
    "reference": Label(
        "reference",
        hint="using letters, digits, full stops, underscores, slashes and hyphens, "
        "starting with a letter or digit, at most 40 characters",
    ),
    "reason": Label("reason"),
    "email": Label("email address", hint="like name@example.com"),
    "full_name": Label("full name"),
    "password": Label("password"),
    "current_password": Label("current password"),
    "new_password": Label("new password"),
    "roles": Label("role", choice=True),
    "name": Label("name"),
    "description": Label("description"),
    "financial_years": Label("financial years"),
    "budgets": Label("budget envelope", money=True),
    "reference_prefix": Label("reference prefix", hint="using capital letters and digits, at most 12"),
    "method": Label("method", choice=True),
    "conflict_type": Label("type of conflict", choice=True),
    "conflict_reason": Label("reason for the conflict"),
    "weighting_id": Label("weighting", choice=True),
    "to": Label("status to move to", choice=True),
    "code": Label("code"),
    "samples": Label("number of samples"),
    "k": Label("size of the top list"),
}

# Numbered families of fields: one per financial year or principle.
FAMILIES: list[tuple[re.Pattern, Any]] = [
    (re.compile(r"cost_(.+)"), lambda y: Label(f"cost for {y}", money=True)),
    (re.compile(r"saving_(.+)"), lambda y: Label(f"saving for {y}", money=True)),
    (re.compile(r"budgets?[_.](.+)"), lambda y: Label(f"budget for {y}", money=True)),
    (re.compile(r"sa_([0-9]+)"), lambda n: Label(f"self-assessment for principle {n}")),
    (re.compile(r"score_([0-9]+)"), lambda n: Label(f"score for principle {n}", choice=True)),
    (re.compile(r"rationale_([0-9]+)"), lambda n: Label(f"rationale for principle {n}")),
    (re.compile(r"confidence_([0-9]+)"), lambda n: Label(f"confidence for principle {n}", choice=True)),
    (re.compile(r"mod_([0-9]+)"), lambda n: Label(f"agreed score for principle {n}")),
    (re.compile(r"note_([0-9]+)"), lambda n: Label(f"note for principle {n}")),
    (re.compile(r"points_([0-9]+)"), lambda n: Label(f"points for principle {n}")),
    (re.compile(r"rank_([0-9]+)"), lambda n: Label(f"rank of principle {n}")),
]

# Words only a validator writes: none of them may reach a page.
RAW_PHRASES = ("should", "Input should", "String should", "Field required", "value is not", "Value error")


def label_for(field: str, labels: dict[str, Label] | None = None) -> Label:
    if labels and field in labels:
        return labels[field]
    if field in LABELS:
        return LABELS[field]
    for pattern, make in FAMILIES:
        m = pattern.fullmatch(field)
        if m:
            return make(m.group(1))
    if field == "_form":
        return Label("form")
    return Label(re.sub(r"[._]+", " ", field).strip() or "form")


def _pounds(value: Any) -> str:
    return f"£{value:,}" if not isinstance(value, str) else f"£{value}"


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[:1].upper() + text[1:]
    return text if text[-1] in ".?!" else text + "."


def _enter(label: Label) -> str:
    if label.choice:
        return f"Select {label.article} {label.text}"
    if label.money:
        return f"Enter the {label.text} in pounds"
    return f"Enter the {label.text}"


def _amount(label: Label, error: AmountError) -> str:
    if not label.money:  # an exact two-place number that is not money (a change in FTEs)
        return {
            "negative": f"{label.sentence} must be 0 or more",
            "too_large": f"{label.sentence} must be from -{MAX_MONEY:,} to {MAX_MONEY:,}",
            "places": f"Enter the {label.text} with no more than 2 decimal places",
        }.get(error.reason, f"Enter the {label.text} as a number, like 2 or -3.5")
    if error.reason == "negative":
        return f"Enter {label.article} {label.text} of £0 or more"
    if error.reason == "too_large":
        return f"Enter {label.article} {label.text} of {_pounds(MAX_MONEY)} or less"
    if error.reason == "places":
        return f"Enter the {label.text} in pounds and pence, to the nearest penny"
    return f"Enter the {label.text} in pounds, like 1,250,000"


def _own_words(label: Label, msg: str) -> str:
    """A message the project wrote (a validator's reason, a service's rule), as a sentence beside the
    field. One that begins with a verb ("must be…", "is not…") gets the field's name in front."""
    msg = msg.strip().removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if re.match(r"(must|is|are|has|have|cannot|does|needs)\b", msg):
        msg = f"{label.sentence} {msg}"
    return _sentence(msg)


def message(field: str, error: dict, labels: dict[str, Label] | None = None) -> str:
    """The plain-English message for one error (pydantic's or a service's ``{loc, msg, type, ctx}``)
    on the form field ``field``."""
    label = label_for(field, labels)
    kind = str(error.get("type") or "value_error")
    ctx = error.get("ctx") or {}
    msg = str(error.get("msg") or "")
    cause = ctx.get("error")
    if isinstance(cause, AmountError):
        return _sentence(_amount(label, cause))
    if kind == "missing" or (kind == "string_too_short" and ctx.get("min_length") == 1):
        return _sentence(_enter(label))
    if kind == "too_short":  # a list
        if label.choice:
            return _sentence(f"Select at least one {label.text}")
        return _sentence(f"Enter at least {ctx.get('min_length', 1)} {label.text}")
    if kind == "string_too_short" and ctx.get("min_length"):
        return _sentence(f"{label.sentence} must be {ctx.get('min_length')} characters or more")
    if kind == "string_too_long" and ctx.get("max_length"):
        return _sentence(f"{label.sentence} must be {ctx.get('max_length')} characters or fewer")
    if kind == "too_long" and ctx.get("max_length"):
        return _sentence(f"Enter no more than {ctx.get('max_length')} for the {label.text}")
    if kind in ("enum", "literal_error", "union_tag_invalid"):
        return _sentence(f"Select {label.article} {label.text} from the list")
    if kind == "string_pattern_mismatch":
        how = f", {label.hint}" if label.hint else ""
        return _sentence(f"Enter the {label.text} in the right format{how}")
    if kind in ("int_parsing", "int_type", "int_from_float", "int_parsing_size"):
        return _sentence(f"Enter the {label.text} as a whole number, using the digits 0 to 9")
    if kind in ("decimal_parsing", "decimal_type", "float_parsing", "float_type", "finite_number"):
        if label.money:
            return _sentence(f"Enter the {label.text} in pounds, like 1,250,000")
        return _sentence(f"Enter the {label.text} as a number, like 25 or 12.5")
    if kind in ("decimal_max_places", "decimal_whole_digits", "decimal_max_digits"):
        return _sentence(f"Enter the {label.text} with no more than 2 decimal places")
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than") and ctx:
        bound = next(iter(ctx.values()), "")
        words = {
            "greater_than_equal": "or more",
            "greater_than": "",
            "less_than_equal": "or less",
            "less_than": "",
        }[kind]
        if label.money:
            value = _pounds(bound)
            if kind == "greater_than":
                return _sentence(f"Enter {label.article} {label.text} of more than {value}")
            if kind == "less_than":
                return _sentence(f"Enter {label.article} {label.text} of less than {value}")
            return _sentence(f"Enter {label.article} {label.text} of {value} {words}")
        if kind == "greater_than":
            return _sentence(f"{label.sentence} must be more than {bound}")
        if kind == "less_than":
            return _sentence(f"{label.sentence} must be less than {bound}")
        return _sentence(f"{label.sentence} must be {bound} {words}")
    if kind in ("bool_parsing", "bool_type"):
        return _sentence(f"Select yes or no for the {label.text}")
    if kind == "extra_forbidden":
        return _sentence(f"The {label.text} cannot be given on this form")
    if kind in ("string_type", "dict_type", "list_type", "model_type", "model_attributes_type"):
        return _sentence(f"Enter the {label.text} again: it could not be read")
    # Anything else: the project's own words (a validator's reason, a service's rule), when they are.
    validator_type = "input" in error  # pydantic's errors carry the input; a service's do not
    if msg and not _raw(msg) and (kind in ("value_error", "assertion_error") or not validator_type):
        return _own_words(label, msg)
    if label.hint:
        return _sentence(f"Enter {label.article} {label.text} in the correct format, {label.hint}")
    return _sentence(f"Enter a valid {label.text}")


def _raw(msg: str) -> bool:
    """Text a validator wrote for programmers ("Input should be…", "value is not a valid…")."""
    return any(phrase.lower() in msg.lower() for phrase in RAW_PHRASES[:-1])
