"""The one mapping from validation errors to plain English (app.web.messages): each field by its label and
each error type by a GOV.UK-style message; no validator's own text ever reaches a page."""

from __future__ import annotations

import html
import re
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from app.cycles.schemas import CycleCreate
from app.errors import ValidationFailed, field_error
from app.panels.schemas import ConflictCreate
from app.proposals.schemas import ProposalCreate, ProposalUpdate, Withdrawal
from app.proposals.service import check_complete
from app.users.schemas import UserCreate
from app.web.forms import errors_from
from app.web.messages import RAW_PHRASES, message
from tests.api.test_web_forms import world  # noqa: F401, F811  (the forms' world, shared)

RAW = re.compile("|".join(re.escape(p) for p in RAW_PHRASES), re.I)
YEAR = "2023-24"
FIN = {f"financials.0.{k}": f"{k}_{YEAR}" for k in ("cost", "saving", "year")}


def errors_of(model, data, rename=None) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return errors_from(caught.value, rename)


def test_the_issues_examples_word_for_word():
    errs = errors_of(
        ProposalCreate,
        {
            "cycle_id": 1,
            "title": "Body cameras",
            "capability": "",
            "financials": [{"year": YEAR, "cost": "x"}],
        },
        FIN,
    )
    assert "capability" not in errs  # a draft may leave it empty: completeness is the service's, at submit
    assert errs[f"cost_{YEAR}"] == f"Enter the cost for {YEAR} in pounds, like 1,250,000."
    errs = errors_of(ProposalCreate, {"cycle_id": 1, "financials": [{"year": YEAR, "cost": "-1"}]}, FIN)
    assert errs[f"cost_{YEAR}"] == f"Enter a cost for {YEAR} of £0 or more."
    assert errs["title"] == "Enter the title."
    draft = SimpleNamespace(capability="", kind=None, lead="  ", status="submitted")
    with pytest.raises(ValidationFailed) as caught:
        check_complete(draft, "Incomplete")
    assert errors_from(caught.value) == {
        "capability": "Enter the capability.",
        "kind": "Select a kind.",
        "lead": "Enter the capability lead.",
    }


@pytest.mark.parametrize(
    "typed, said",
    [
        ("£1,250,000.505", "Enter the saving for 2023-24 in pounds and pence, to the nearest penny."),
        ("1,2,3", "Enter the saving for 2023-24 in pounds, like 1,250,000."),
        ("9" * 13, "Enter a saving for 2023-24 of £999,999,999,999.99 or less."),
        ("-£5", "Enter a saving for 2023-24 of £0 or more."),
    ],
)
def test_money_errors_name_the_year_and_say_what_to_type(typed, said):
    errs = errors_of(ProposalCreate, {"cycle_id": 1, "financials": [{"year": YEAR, "saving": typed}]}, FIN)
    assert errs[f"saving_{YEAR}"] == said


def test_lengths_choices_patterns_and_bounds():
    errs = errors_of(
        ProposalCreate,
        {
            "cycle_id": 1,
            "title": "ab",
            "kind": "grant",
            "reference": "-x",
            "summary": "s" * 20001,
            "lead": "x",
        },
    )
    assert errs["title"] == "Title must be 3 characters or more."
    assert errs["kind"] == "Select a kind from the list."
    assert errs["reference"].startswith("Enter the reference in the right format, using letters, digits")
    assert errs["summary"] == "Summary must be 20000 characters or fewer."
    errs = errors_of(ProposalUpdate, {"fte_change": "1.234", "version": -1})
    assert (
        errs["fte_change"] == "Enter the change in full-time equivalents with no more than 2 decimal places."
    )
    assert errs["version"] == "Version must be 0 or more."
    errs = errors_of(UserCreate, {"email": "nobody", "full_name": "", "password": "short", "roles": []})
    assert errs == {
        "email": "Enter an email address in the correct format, like name@example.com.",
        "full_name": "Enter the full name.",
        "password": "Choose a password of at least 12 characters: this one has 5.",
        "roles": "Select at least one role.",
    }
    errs = errors_of(ConflictCreate, {"reason": "no"}, {"type": "conflict_type", "reason": "conflict_reason"})
    assert errs == {
        "conflict_type": "Select a type of conflict.",
        "conflict_reason": "Reason for the conflict must be 3 characters or more.",
    }
    assert errors_of(Withdrawal, {"reason": ""}) == {"reason": "Enter the reason."}


def test_the_projects_own_words_are_kept_as_sentences_naming_the_field():
    errs = errors_of(ProposalCreate, {"cycle_id": 1, "title": "Tab\there"})
    assert errs["title"].startswith("Title must be a single line without control characters")
    errs = errors_of(CycleCreate, {"name": "C", "financial_years": ["20x"]})
    assert errs["financial_years"] == "'20x' is not a financial year like \"2022-23\"."
    service = ValidationFailed(
        "bad",
        errors=[
            field_error(["body", "reference"], "SR-1 is already used in this cycle", "unique"),
            field_error(["body", "capability"], "capability is missing", "missing"),
        ],
    )
    assert errors_from(service) == {
        "reference": "SR-1 is already used in this cycle.",
        "capability": "Enter the capability.",
    }


@pytest.mark.parametrize(
    "kind, ctx",
    [
        ("missing", {}),
        ("string_too_short", {"min_length": 1}),
        ("string_too_short", {"min_length": 5}),
        ("string_too_long", {"max_length": 5}),
        ("string_pattern_mismatch", {"pattern": "x"}),
        ("enum", {"expected": "'a' or 'b'"}),
        ("literal_error", {"expected": "'a'"}),
        ("int_parsing", {}),
        ("decimal_parsing", {}),
        ("float_parsing", {}),
        ("greater_than_equal", {"ge": 0}),
        ("greater_than", {"gt": 0}),
        ("less_than_equal", {"le": 3}),
        ("less_than", {"lt": 3}),
        ("too_short", {"min_length": 1}),
        ("too_long", {"max_length": 12}),
        ("bool_parsing", {}),
        ("extra_forbidden", {}),
        ("dict_type", {}),
        ("json_invalid", {}),
        ("url_parsing", {}),
        ("a_type_nobody_listed", {}),
    ],
)
@pytest.mark.parametrize(
    "field", ["title", "kind", f"cost_{YEAR}", "sa_4", "score_2", "mystery_field", "_form"]
)
def test_no_type_on_any_field_gives_the_validators_text(kind, ctx, field):
    raw = {
        "type": kind,
        "loc": ("body", field),
        "msg": "Input should be a valid thing",
        "input": "x",
        "ctx": ctx,
    }
    said = message(field, raw)
    assert said and said[0].isupper() and said.endswith(".")
    assert not RAW.search(said), said


# Every web form, every field: what comes back never carries a validator's own words.
BAD = ["", "1,2,3", "x" * 6000]  # empty, not a number (nor an amount), too long


ERROR_PARTS = re.compile(
    r'<div class="error-summary".*?</div>|<p class="error-message"[^>]*>.*?</p>'
    r'|<div class="notice failure.*?</div>',
    re.S,
)


def error_text(page: str) -> str:
    """What the page says is wrong: its error summary, the messages beside fields and failure notices."""
    return " | ".join(html.unescape(re.sub(r"<[^>]+>", " ", part)) for part in ERROR_PARTS.findall(page))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # messages are the same on both
def test_no_web_form_shows_a_validators_words(app, world):  # noqa: F811
    from tests.api.test_web_forms import field_groups, form_pages, post_forms, route_pattern, sent

    seen_errors, pages = set(), 0
    for route, reached_by in form_pages(world).items():
        if route.startswith("/login"):
            continue  # the sign-in steps take no typed field the schemas check
        for role, page_url in reached_by:
            c = world["clients"][role]
            page = c.get(page_url)
            assert page.status_code == 200, page_url
            for form in [f for f in post_forms(page.text) if route_pattern(route).match(f.action)][:1]:
                for group in field_groups(form.fields):
                    if group[0] in ("csrf_token", "version", "cycle_id"):
                        continue  # hidden fields: a plain error page, tested in test_web_forms
                    for bad in BAD:
                        r = c.post(form.action, data=sent(form.fields | dict.fromkeys(group, bad)))
                        pages += 1
                        words = error_text(r.text)
                        found = RAW.search(words)
                        assert not found, (
                            route,
                            group,
                            bad[:20],
                            words[max(0, found.start() - 80) : found.end() + 80],
                        )
                        seen_errors.update(re.findall(r'class="error-message" id="([^"]+)-error"', r.text))
    assert pages > 300 and len(seen_errors) > 20  # the forms were walked and their errors shown
