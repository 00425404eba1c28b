"""AllowedOrigin through the ORM: canonical storage, refusal, uniqueness."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from credcors.models import AllowedOrigin, canonicalize_origin

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("https://App.Example.com:443/", "https://app.example.com"),
        ("HTTPS://partner.example.com", "https://partner.example.com"),
        ("http://localhost:3001/", "http://localhost:3001"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
        ("https://*.Tenants.Example.com", "https://*.tenants.example.com"),
    ],
)
def test_save_non_canonical_value_stores_canonical_form(typed: str, stored: str) -> None:
    row = AllowedOrigin.objects.create(origin=typed)

    assert row.origin == stored
    assert AllowedOrigin.objects.get(pk=row.pk).origin == stored
    assert str(row) == stored


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("*", "every site"),
        ("null", "sandboxed"),
        ("https://*.com", "top-level domain"),
        ("https://*.co.uk", "public suffix"),
        ("http://evil.com", "ALLOW_INSECURE_ORIGINS"),
        ("https://app.example.com/path", "a path"),
        ("file:///etc/passwd", "cannot make credentialed CORS requests"),
        ("", "empty"),
    ],
)
def test_save_invalid_value_raises_validation_error_and_stores_nothing(value: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        AllowedOrigin(origin=value).save()

    assert fragment in " ".join(info.value.messages)
    assert not AllowedOrigin.objects.exists()


def test_save_insecure_origin_with_allow_insecure_setting_is_stored(settings) -> None:
    settings.CREDCORS = {"ALLOW_INSECURE_ORIGINS": True}

    row = AllowedOrigin.objects.create(origin="http://Intranet.example.com")

    assert row.origin == "http://intranet.example.com"


def test_save_same_origin_spelled_differently_violates_uniqueness() -> None:
    AllowedOrigin.objects.create(origin="https://A.com")

    with pytest.raises(IntegrityError), transaction.atomic():
        AllowedOrigin.objects.create(origin="https://a.com:443/")

    assert list(AllowedOrigin.objects.values_list("origin", flat=True)) == ["https://a.com"]


def test_full_clean_same_origin_spelled_differently_reports_unique_error() -> None:
    AllowedOrigin.objects.create(origin="https://A.com")
    duplicate = AllowedOrigin(origin="https://a.com:443/")

    with pytest.raises(ValidationError) as info:
        duplicate.full_clean()

    assert "already exists" in " ".join(info.value.message_dict["origin"])


def test_full_clean_valid_value_canonicalizes_before_save() -> None:
    row = AllowedOrigin(origin="https://Partner.Example.com:443")

    row.full_clean()

    assert row.origin == "https://partner.example.com"


def test_full_clean_invalid_value_reports_validator_message_once() -> None:
    row = AllowedOrigin(origin="https://*.com")

    with pytest.raises(ValidationError) as info:
        row.full_clean()

    messages = info.value.message_dict["origin"]
    assert len(messages) == 1
    assert "'https://*.com' is not an allowed origin" in messages[0]


def test_canonicalize_origin_non_string_raises_validation_error() -> None:
    with pytest.raises(ValidationError) as info:
        canonicalize_origin(42)

    assert info.value.code == "invalid_origin"
    assert "expected a string" in info.value.messages[0]


def test_new_row_defaults_enabled_with_timestamps() -> None:
    row = AllowedOrigin.objects.create(origin="https://app.example.com")

    assert row.enabled is True
    assert row.note == ""
    assert row.created_at is not None
    assert row.updated_at >= row.created_at


@pytest.mark.django_db
def test_row_is_validated_for_its_own_policys_credentials(settings) -> None:
    settings.CREDCORS = {
        "ALLOW_CREDENTIALS": False,
        "POLICIES": {"partners": {"ALLOW_CREDENTIALS": True, "USE_DATABASE": True}},
    }
    AllowedOrigin(origin="http://reader.example.net").save()  # The default policy sends no credentials.

    with pytest.raises(ValidationError, match="http://"):
        AllowedOrigin(origin="http://p.example.net", policy="partners").save()
    row = AllowedOrigin(origin="http://p.example.net", policy="partners")
    with pytest.raises(ValidationError) as info:
        row.full_clean()

    assert list(info.value.message_dict) == ["origin"]
    assert AllowedOrigin.objects.filter(policy="partners").count() == 0


@pytest.mark.django_db
def test_plain_http_row_of_a_policy_without_credentials_is_accepted_beside_a_credentialed_default(settings) -> None:
    settings.CREDCORS = {"POLICIES": {"readers": {"USE_DATABASE": True}}}
    row = AllowedOrigin(origin="http://reader.example.net", policy="readers")

    row.full_clean()
    row.save()

    with pytest.raises(ValidationError):
        AllowedOrigin(origin="http://other.example.net").full_clean()  # The default policy sends credentials.


def test_trust_for_csrf_help_says_what_trusts_a_row_under_every_setting() -> None:
    help_text = str(AllowedOrigin._meta.get_field("trust_for_csrf").help_text)  # type: ignore[union-attr]

    # The box is one of two ways in (core.trust): the help names both, and who is never trusted.
    assert help_text.startswith("Ticked: Django's CSRF origin check accepts this exact origin")
    assert "CREDCORS['TRUST_FOR_CSRF'] = True trusts every exact row of the default policy, ticked or not" in help_text
    assert "patterns, and policies without credentials, are never trusted" in help_text
