"""The hosts of AllowedOrigin rows in the admin (issue 24): column, filter, search, form, and the test page's host."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from credcors.models import AllowedOrigin

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/credcors/allowedorigin/"
ADD = CHANGELIST + "add/"
TEST_PAGE = CHANGELIST + "test-origin/"
PARTNER = "https://partner.example.net"


def _listed(client: Client, **query: str) -> list[str]:
    response = client.get(CHANGELIST, query)
    assert response.status_code == 200
    return sorted(row.origin for row in response.context["cl"].result_list)


def _host_filter(response: Any) -> list[tuple[str, str]]:
    # The host filter's (display, query string) pairs; [] when the page does not show it.
    for spec in response.context["cl"].filter_specs:
        if getattr(spec, "parameter_name", "") == "hosts":
            return [(str(choice["display"]), choice["query_string"]) for choice in spec.choices(response.context["cl"])]
    return []


def _add(client: Client, origin: str, hosts: str) -> Any:
    return client.post(ADD, {"origin": origin, "policy": "default", "enabled": "on", "hosts": hosts, "note": ""})


# -- The change list ------------------------------------------------------------------


def test_changelist_shows_each_rows_hosts_and_every_host_for_an_unscoped_row(admin_client: Client) -> None:
    AllowedOrigin.objects.create(origin="https://a.example.net", hosts="api.customer-a.com")
    AllowedOrigin.objects.create(origin="https://all.example.net")
    many = " ".join(f"api{i}.customer-{i}.example.com" for i in range(4))
    AllowedOrigin.objects.create(origin="https://many.example.net", hosts=many)

    page = admin_client.get(CHANGELIST).content.decode()

    assert '<td class="field-shown_hosts">api.customer-a.com</td>' in page
    assert '<td class="field-shown_hosts">every host</td>' in page
    # Long lists are cut at a whole entry, whole on hover.
    stored = AllowedOrigin.objects.get(origin="https://many.example.net").hosts
    assert f'<span title="{stored}">api0.customer-0.example.com…</span>' in page


def test_host_filter_is_hidden_while_no_row_names_a_host(admin_client: Client) -> None:
    AllowedOrigin.objects.create(origin="https://all.example.net")

    assert _host_filter(admin_client.get(CHANGELIST)) == []


def test_host_filter_lists_every_entry_once_and_every_host(admin_client: Client) -> None:
    AllowedOrigin.objects.create(origin="https://a.example.net", hosts="api.customer-a.com")
    AllowedOrigin.objects.create(origin="https://b.example.net", hosts="api.customer-a.com .customer-b.com")
    AllowedOrigin.objects.create(origin="https://all.example.net")

    shown = [display for display, _query in _host_filter(admin_client.get(CHANGELIST))]

    assert shown == ["All", "Every host", ".customer-b.com", "api.customer-a.com"]


def test_host_filter_matches_whole_entries_only(admin_client: Client) -> None:
    for origin, hosts in (
        ("https://alone.example.net", "api.a.com"),
        ("https://first.example.net", "api.a.com api.b.com"),
        ("https://last.example.net", ".b.com api.a.com"),
        ("https://middle.example.net", ".b.com api.a.com api.c.com"),
        ("https://longer.example.net", "api.a.com.evil.net xapi.a.com"),
        ("https://all.example.net", ""),
    ):
        AllowedOrigin.objects.create(origin=origin, hosts=hosts)

    assert _listed(admin_client, hosts="api.a.com") == [
        "https://alone.example.net",
        "https://first.example.net",
        "https://last.example.net",
        "https://middle.example.net",
    ]
    assert _listed(admin_client, hosts="*") == ["https://all.example.net"]
    assert len(_listed(admin_client)) == 6


def test_search_finds_rows_by_host(admin_client: Client) -> None:
    AllowedOrigin.objects.create(origin="https://a.example.net", hosts="api.customer-a.com")
    AllowedOrigin.objects.create(origin="https://b.example.net", hosts="api.customer-b.com")

    assert _listed(admin_client, q="customer-a") == ["https://a.example.net"]


# -- The form -------------------------------------------------------------------------


def test_add_form_has_a_small_hosts_box_that_says_it_is_space_separated(admin_client: Client) -> None:
    form = admin_client.get(ADD).context["adminform"].form
    field = form.fields["hosts"]

    assert field.widget.attrs["rows"] == 2
    assert "separated by spaces" in str(field.help_text)


def test_add_form_stores_the_hosts_canonical(admin_client: Client) -> None:
    response = _add(admin_client, PARTNER, "API.Customer-A.com, .customer-b.com\napi.customer-a.com")

    assert response.status_code == 302
    assert AllowedOrigin.objects.get(origin=PARTNER).hosts == ".customer-b.com api.customer-a.com"


def test_add_form_refuses_a_host_allowed_hosts_never_accepts_and_keeps_what_was_typed(
    admin_client: Client, settings: Any
) -> None:
    settings.ALLOWED_HOSTS = ["testserver", "api.customer-a.com"]
    typed = "api.customer-a.com api.customer-b.com"

    response = _add(admin_client, PARTNER, typed)

    assert response.status_code == 200
    [error] = response.context["adminform"].form.errors["hosts"]
    assert "'api.customer-b.com'" in error
    assert "add it to ALLOWED_HOSTS" in error
    assert f">\n{typed}</textarea>" in response.content.decode()
    assert not AllowedOrigin.objects.exists()


def test_add_form_refuses_a_host_with_a_port_saying_what_to_write(admin_client: Client) -> None:
    response = _add(admin_client, PARTNER, "api.customer-a.com:8443")

    [error] = response.context["adminform"].form.errors["hosts"]
    assert "has a port" in error
    assert "'api.customer-a.com'" in error
    assert not AllowedOrigin.objects.exists()


def test_change_form_empties_the_hosts_to_allow_every_host(admin_client: Client) -> None:
    row = AllowedOrigin.objects.create(origin=PARTNER, hosts="api.customer-a.com")

    response = admin_client.post(
        f"{CHANGELIST}{row.pk}/change/", {"origin": PARTNER, "policy": "default", "enabled": "on", "hosts": ""}
    )

    assert response.status_code == 302
    row.refresh_from_db()
    assert row.hosts == ""


# -- The test page ----------------------------------------------------------------------


def _explain(client: Client, **params: str) -> Any:
    response = client.get(TEST_PAGE, {"origin": PARTNER, "method": "GET", **params})
    assert response.status_code == 200
    return response


def test_test_page_decides_on_the_host_given(admin_client: Client) -> None:
    AllowedOrigin.objects.create(origin=PARTNER, hosts="api.customer-a.com")

    on_its_host = _explain(admin_client, host="api.customer-a.com").context["explanation"]
    elsewhere = _explain(admin_client, host="api.customer-b.com").context["explanation"]
    no_host = _explain(admin_client).context["explanation"]

    assert on_its_host.allowed
    assert not elsewhere.allowed
    assert not no_host.allowed


def test_test_page_takes_the_host_as_a_browser_sends_it(admin_client: Client) -> None:
    AllowedOrigin.objects.create(origin=PARTNER, hosts=".customer-a.com")

    response = _explain(admin_client, host="API.Customer-A.com:8443")

    assert response.context["form"].cleaned_data["host"] == "api.customer-a.com"
    assert response.context["explanation"].allowed


def test_test_page_refuses_on_a_host_allowed_hosts_refuses(admin_client: Client, settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["testserver", "api.customer-a.com"]
    AllowedOrigin.objects.create(origin=PARTNER)

    explanation = _explain(admin_client, host="api.customer-b.com").context["explanation"]

    assert not explanation.allowed
    assert explanation.cause == "disallowed-host"


@pytest.mark.parametrize(
    ("host", "said"),
    [
        (".customer-a.com", "is a domain; a request is sent to one host. Write e.g. 'customer-a.com'."),
        ("https://api.customer-a.com", "is a URL or an origin, not a host"),
        ("api..customer-a.com", "is not a valid host name"),
    ],
)
def test_test_page_refuses_what_is_no_host(admin_client: Client, host: str, said: str) -> None:
    response = _explain(admin_client, host=host)

    assert response.context["explanation"] is None
    [error] = response.context["form"].errors["host"]
    assert said in error
