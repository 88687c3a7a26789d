"""Omnichannel > Webhooks in a real browser: save, Reset, Send Test, validation beside the field."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, Server, log_in, screenshot
from tests.receiver import Receiver

pytestmark = pytest.mark.browser


def open_webhooks(page: Page) -> None:
    log_in(page, ADMIN_USERNAME, ADMIN_PASSWORD, "/admin/webhooks")
    expect(page.locator("#webhooks-form")).to_have_attribute("aria-busy", "false")


def test_admin_saves_the_settings_and_send_test_reaches_the_receiver(
    page: Page, server: Server, receiver: Receiver
) -> None:
    open_webhooks(page)
    send_test = page.get_by_role("button", name="Send Test")
    expect(send_test).to_be_disabled()  # no URL saved yet

    page.get_by_label("Webhook URL").fill(receiver.url)
    page.get_by_label("Secret Token").fill("s3cret-token")
    for event in ("Chat Start", "Chat Close", "Chat Taken", "Visitor Messages", "Agent Messages"):
        page.get_by_label(event, exact=True).check()
    page.get_by_label("HTTP timeout (in milliseconds)").fill("3000")
    page.get_by_label("Retries after a failure").fill("4")
    expect(send_test).to_be_disabled()  # unsaved changes: test what is saved, as Rocket.Chat does
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()

    saved = server.settings()
    assert saved["Livechat_webhookUrl"] == receiver.url
    assert saved["Livechat_secret_token"] == "********oken"  # write-only: its last four characters at most
    assert saved["Livechat_webhook_on_start"] is True
    assert saved["Livechat_webhook_on_chat_taken"] is True
    assert saved["Livechat_webhook_on_chat_queued"] is False
    assert saved["Livechat_http_timeout"] == 3000
    assert saved["Livechat_webhook_retries"] == 4

    expect(send_test).to_be_enabled()
    send_test.click()
    expect(page.locator("#test-result")).to_contain_text("It works")
    test_request = receiver.wait_for(1)[0]
    assert test_request.header("X-RocketChat-Livechat-Token") == "s3cret-token"
    assert test_request.json()["type"] == "LivechatSession"
    screenshot(page, "webhooks")


def test_send_test_shows_what_a_failing_receiver_answered(
    page: Page, server: Server, receiver: Receiver
) -> None:
    server.call("POST", "omnichannel/integrations", {"LivechatWebhookUrl": receiver.url})
    receiver.default_status = 503
    receiver.response_body = "maintenance, come back later"
    open_webhooks(page)

    page.get_by_role("button", name="Send Test").click()

    result = page.locator("#test-result")
    expect(result).to_contain_text("Send Test failed")
    expect(result).to_contain_text("status 503")
    expect(result).to_contain_text("maintenance, come back later")
    screenshot(page, "webhooks-send-test-failed")
    assert len(receiver.wait_for(1)) == 1


def test_reset_restores_the_saved_values(page: Page, server: Server, receiver: Receiver) -> None:
    server.call(
        "POST",
        "omnichannel/integrations",
        {"LivechatWebhookUrl": receiver.url, "LivechatWebhookOnClose": True, "LivechatHttpTimeout": 4000},
    )
    open_webhooks(page)
    url = page.get_by_label("Webhook URL")
    expect(url).to_have_value(receiver.url)

    url.fill("https://crm.example.com/other")
    page.get_by_label("Chat Close", exact=True).uncheck()
    page.get_by_label("HTTP timeout (in milliseconds)").fill("9000")
    expect(page.get_by_role("button", name="Send Test")).to_be_disabled()
    page.get_by_role("button", name="Reset").click()

    expect(url).to_have_value(receiver.url)
    expect(page.get_by_label("Chat Close", exact=True)).to_be_checked()
    expect(page.get_by_label("HTTP timeout (in milliseconds)")).to_have_value("4000")
    expect(page.get_by_role("button", name="Save")).to_be_disabled()
    expect(page.get_by_role("button", name="Send Test")).to_be_enabled()
    assert server.settings()["Livechat_webhookUrl"] == receiver.url


def test_a_bad_url_shows_its_error_beside_the_field_and_saves_nothing(
    page: Page, server: Server, receiver: Receiver
) -> None:
    server.call("POST", "omnichannel/integrations", {"LivechatWebhookUrl": receiver.url})
    before = server.settings()
    open_webhooks(page)

    page.get_by_label("Webhook URL").fill("crm.example.com/no-scheme")
    page.get_by_label("Chat Start", exact=True).check()
    page.get_by_role("button", name="Save").click()

    url_field = page.locator('.field[data-field="LivechatWebhookUrl"]')
    expect(url_field.locator(".field-error")).to_be_visible()
    expect(url_field.locator(".field-error")).to_contain_text(re.compile("http", re.IGNORECASE))
    expect(page.locator("#form-status")).to_be_hidden()
    screenshot(page, "webhooks-invalid-url")
    assert server.settings() == before


def test_the_secret_token_is_write_only_and_kept_when_other_fields_are_saved(
    page: Page, server: Server, receiver: Receiver
) -> None:
    server.call(
        "POST",
        "omnichannel/integrations",
        {"LivechatWebhookUrl": receiver.url, "LivechatSecretToken": "crm-token-0123456789"},
    )
    open_webhooks(page)
    token = page.get_by_label("Secret Token")
    expect(token).to_have_attribute("type", "password")
    expect(token).to_have_value("")  # the saved token is never put back in the page
    expect(page.locator("#secret-token-state")).to_have_text("Saved: ********6789")
    assert "crm-token" not in page.content()

    page.get_by_label("HTTP timeout (in milliseconds)").fill("3500")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    page.get_by_role("button", name="Send Test").click()
    expect(page.locator("#test-result")).to_contain_text("It works")
    assert receiver.wait_for(1)[0].header("X-RocketChat-Livechat-Token") == "crm-token-0123456789"
    assert server.settings()["Livechat_http_timeout"] == 3500

    page.get_by_label("Remove the saved token").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#secret-token-state")).to_have_text("Not set.")
    assert server.settings()["Livechat_secret_token"] == ""
