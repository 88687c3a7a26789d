"""Administration pages in a real browser: logging in, agents, departments, routing."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, AGENT_PASSWORD, Server, log_in, screenshot

pytestmark = pytest.mark.browser


def test_a_wrong_password_is_refused_on_the_login_page(page: Page, server: Server) -> None:
    page.goto("/admin/webhooks")
    page.wait_for_url("**/admin/login?next=%2Fadmin%2Fwebhooks")
    page.get_by_label("Username or email").fill(ADMIN_USERNAME)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert").filter(has_text="Wrong username or password")).to_be_visible()
    screenshot(page, "login")

    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/webhooks")
    expect(page.locator("#whoami")).to_contain_text("admin")


def test_an_admin_creates_an_agent_and_a_department_and_chooses_the_routing(
    page: Page, server: Server
) -> None:
    log_in(page, ADMIN_USERNAME, ADMIN_PASSWORD, "/admin/agents")
    form = page.locator("#new-agent")
    form.get_by_label("Username").fill("carol")
    form.get_by_label("Name", exact=True).fill("Carol Agent")
    form.get_by_label("Email").fill("carol@example.com")
    form.get_by_label("Password (at least 8 characters)").fill("carol-password")
    form.get_by_role("button", name="Create agent").click()
    expect(page.locator("#agents tbody tr").filter(has_text="carol")).to_contain_text("Carol Agent")

    routing = page.get_by_label("How new chats reach agents")
    expect(routing).to_be_enabled()
    routing.select_option("Manual_Selection")
    expect(page.locator("#routing-status")).to_have_text("Saved.")
    assert server.call("GET", "settings/Livechat_Routing_Method")["value"] == "Manual_Selection"
    screenshot(page, "agents")

    # A duplicate username is refused beside the form, and nothing is added.
    form.get_by_label("Username").fill("carol")
    form.get_by_label("Name", exact=True).fill("Carol Again")
    form.get_by_label("Email").fill("carol2@example.com")
    form.get_by_label("Password (at least 8 characters)").fill("carol-password")
    form.get_by_role("button", name="Create agent").click()
    expect(form.locator(".field-error")).to_be_visible()
    expect(page.locator("#agents tbody tr")).to_have_count(2)  # the admin and carol

    page.get_by_role("link", name="Departments").click()
    page.wait_for_url("**/admin/departments")
    new = page.locator("#new-department")
    new.get_by_label("Name", exact=True).fill("Sales")
    new.get_by_label("Carol Agent").check()
    new.get_by_role("button", name="Create department").click()
    row = page.locator("#departments tbody tr").filter(has_text="Sales")
    expect(row).to_be_visible()
    screenshot(page, "departments")
    sales = next(d for d in server.call("GET", "livechat/department")["departments"] if d["name"] == "Sales")
    assert [a["username"] for a in sales["agents"]] == ["carol"]


def test_an_agent_gets_the_console_but_not_the_administration(page: Page, server: Server) -> None:
    server.create_agent("dave", "Dave Agent")
    log_in(page, "dave", AGENT_PASSWORD, "/agent")
    expect(page.get_by_role("link", name="Agent console")).to_be_visible()
    expect(page.get_by_role("link", name="Webhooks")).to_be_hidden()

    page.goto("/admin/webhooks")
    expect(page.locator("#page-error")).to_contain_text("cannot use this page")
    expect(page.get_by_label("Webhook URL")).to_have_value("")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/admin/login")
    page.goto("/agent")
    page.wait_for_url("**/admin/login?next=%2Fagent")
