"""Named policies in the tools: explain, the admin, and list/add/import/export."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from credcors.core.diagnose import render
from credcors.explain import explain_request
from credcors.models import AllowedOrigin
from credcors.rows.import_format import Entry, ImportProblem, parse_entries
from credcors.rows.importing import import_entries

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls_policies")]

APP = "https://app.example.com"
PARTNER = "https://partner.example.net"
STRANGER = "https://stranger.example.org"

SETTINGS: dict[str, Any] = {
    "ALLOWED_ORIGINS": [APP],
    "POLICIES": {
        "public": {"ALLOW_ALL_ORIGINS": True, "ALLOW_CREDENTIALS": False, "ALLOW_METHODS": ["GET"]},
        "partners": {"ALLOWED_ORIGINS": [PARTNER], "USE_DATABASE": True},
    },
}


@pytest.fixture(autouse=True)
def _policies(settings: Any) -> None:
    settings.CREDCORS = SETTINGS


def run(*args: str) -> str:
    out = StringIO()
    call_command("credcors", *args, stdout=out)
    return out.getvalue()


# --- explain -------------------------------------------------------------------------------


def test_explain_names_the_public_policy_and_why() -> None:
    result = explain_request(STRANGER, path="/api/status")
    text = render(result)

    assert result.allowed is True
    assert (result.policy, result.rule) == ("public", "*")
    assert """Policy:   public (the view public_status at "/api/status" names the policy 'public')""" in text
    assert "answers every origin with '*'" in text
    assert "credentials: 'omit'" in text
    assert result.to_dict()["policy"] == "public"


def test_explain_partner_view_refuses_the_credentialed_app() -> None:
    result = explain_request(APP, path="/api/partner/3")

    # Every policy is diagnosed alike: the same cause codes as the default policy's.
    assert (result.allowed, result.policy, result.cause) == (False, "partners", "not-listed")
    assert "is not in the allow-list of the policy 'partners'" in result.message
    assert "The policy 'default' allows it: this view's policy decides, not theirs." in result.hints
    assert "PartnerView" in result.policy_reason


def test_explain_partner_preflight_refusal_names_the_policys_methods() -> None:
    result = explain_request(PARTNER, method="PUT", headers=["x-nope"], path="/api/partner")

    assert (result.allowed, result.cause) == (False, "header-not-allowed")
    allowed = explain_request(PARTNER, method="PUT", path="/api/partner")
    assert allowed.allowed is True
    assert allowed.cookies == ()  # The partners policy sends no credentials.


@pytest.mark.parametrize(
    ("path", "needle"),
    [
        (None, "no path given"),
        ("/api/nowhere", "resolves to no view"),
        ("/api/echo", 'the view echo at "/api/echo" names no policy'),
    ],
)
def test_explain_default_policy_says_why(path: str | None, needle: str) -> None:
    result = explain_request(APP, path=path)

    assert (result.allowed, result.policy) == (True, "default")
    assert needle in result.policy_reason


def test_explain_view_with_unknown_policy() -> None:
    result = explain_request(APP, path="/api/misnamed")

    assert (result.allowed, result.cause, result.policy) == (False, "unknown-policy", "missing")
    assert "not in CREDCORS['POLICIES']" in result.policy_reason
    assert "Add 'missing' to CREDCORS['POLICIES']" in result.hints[0]


def test_explain_without_policies_has_no_policy_line(settings: Any) -> None:
    settings.CREDCORS = {"ALLOWED_ORIGINS": [APP]}

    result = explain_request(APP, path="/api/status")

    assert result.policy_reason == ""
    assert "Policy:" not in render(result)


def test_admin_test_page_says_which_policy(admin_client: Client) -> None:
    response = admin_client.get(
        "/admin/credcors/allowedorigin/test-origin/", {"origin": STRANGER, "method": "GET", "path": "/api/status"}
    )

    assert response.status_code == 200
    assert "Policy: <code>public</code> (the view public_status at &quot;/api/status&quot;" in response.content.decode()


# --- admin ---------------------------------------------------------------------------------


def test_admin_filters_by_policy_and_offers_configured_names(admin_client: Client) -> None:
    AllowedOrigin.objects.create(origin="https://p.example.net", policy="partners")
    AllowedOrigin.objects.create(origin="https://d.example.com")

    filtered = admin_client.get("/admin/credcors/allowedorigin/", {"policy__exact": "partners"}).content.decode()
    add_form = admin_client.get("/admin/credcors/allowedorigin/add/").content.decode()

    assert "https://p.example.net" in filtered
    assert "https://d.example.com" not in filtered
    for name in ("default", "public", "partners"):
        assert f'<option value="{name}"' in add_form


def test_admin_saves_a_row_into_a_policy(admin_client: Client) -> None:
    data = {"origin": "https://row.example.net", "policy": "partners", "note": "", "enabled": "on"}

    response = admin_client.post("/admin/credcors/allowedorigin/add/", data)
    refused = admin_client.post("/admin/credcors/allowedorigin/add/", {**data, "policy": "gone"})

    assert response.status_code == 302
    assert AllowedOrigin.objects.get(origin="https://row.example.net").policy == "partners"
    assert refused.status_code == 200
    assert "Select a valid choice" in refused.content.decode()


# --- list / add / import / export ----------------------------------------------------------


def test_list_shows_a_rows_policy() -> None:
    AllowedOrigin.objects.create(origin="https://p.example.net", policy="partners")
    AllowedOrigin.objects.create(origin="https://d.example.com")

    out = run("list")

    assert 'https://p.example.net  [policy "partners"]' in out
    assert "https://d.example.com\n" in out


def test_add_with_a_policy_and_moving_a_row() -> None:
    assert "Added https://p.example.net" in run("add", "https://p.example.net", "--policy", "partners")
    assert AllowedOrigin.objects.get(origin="https://p.example.net").policy == "partners"

    out = run("add", "https://p.example.net", "--policy", "default")

    assert "moved to the policy default" in out
    assert AllowedOrigin.objects.get(origin="https://p.example.net").policy == "default"
    with pytest.raises(CommandError, match="'gone' is not a configured policy"):
        run("add", "https://x.example.net", "--policy", "gone")


def test_text_export_lists_one_policy_and_imports_back_into_it(tmp_path: Path) -> None:
    AllowedOrigin.objects.create(origin="https://p.example.net", policy="partners")
    AllowedOrigin.objects.create(origin="https://d.example.com")

    partners = run("export", "--policy", "partners")
    default = run("export")

    assert "https://p.example.net" in partners
    assert "https://d.example.com" not in partners
    assert "https://p.example.net" not in default
    AllowedOrigin.objects.all().delete()
    path = tmp_path / "partners.txt"
    path.write_text(partners)
    assert run("import", str(path), "--policy", "partners").strip().endswith("added 1, updated 0, unchanged 0.")
    assert AllowedOrigin.objects.get().policy == "partners"


def test_json_round_trip_carries_policy_and_csrf_trust(tmp_path: Path) -> None:
    AllowedOrigin.objects.create(origin="https://p.example.net", policy="partners")
    AllowedOrigin.objects.create(origin="https://t.example.com", trust_for_csrf=True)
    path = tmp_path / "rows.json"
    path.write_text(run("export", "--format", "json"))
    AllowedOrigin.objects.all().delete()

    assert run("import", str(path)).strip().endswith("added 2, updated 0, unchanged 0.")
    rows = {row.origin: (row.policy, row.trust_for_csrf) for row in AllowedOrigin.objects.all()}
    assert rows == {"https://p.example.net": ("partners", False), "https://t.example.com": ("default", True)}


def test_import_updates_policy_and_trust() -> None:
    AllowedOrigin.objects.create(origin="https://p.example.net")

    report = import_entries([Entry("entry 1", "https://p.example.net", policy="partners", trust_for_csrf=True)], "x")

    assert report.lines == ["  updated   https://p.example.net (policy partners, trusted for CSRF)"]
    row = AllowedOrigin.objects.get()
    assert (row.policy, row.trust_for_csrf) == ("partners", True)
    report = import_entries([Entry("entry 1", "https://p.example.net", trust_for_csrf=False)], "x")
    assert report.lines == ["  updated   https://p.example.net (not trusted for CSRF)"]


@pytest.mark.parametrize(
    ("item", "needle"),
    [
        ({"origin": "https://a.example.net", "policy": "gone"}, "'gone' is not a configured policy"),
        ({"origin": "https://*.example.net", "trust_for_csrf": True}, "only an exact origin can be trusted"),
        ({"origin": "https://a.example.net", "policy": 3}, "expected an origin string"),
        ({"origin": "https://a.example.net", "trust_for_csrf": "yes"}, "expected an origin string"),
    ],
)
def test_import_refuses_bad_policy_entries(item: dict[str, Any], needle: str) -> None:
    entries = parse_entries(json.dumps([item]), "json", "x")

    with pytest.raises(ImportProblem, match=needle):
        import_entries(entries, "x")
    assert AllowedOrigin.objects.count() == 0
