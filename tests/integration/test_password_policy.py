"""Password rules: Rocket.Chat's Accounts_Password_Policy_* settings, on creating users and changing passwords."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import login_headers


async def _create(client: httpx.AsyncClient, admin: dict[str, str], password: str) -> httpx.Response:
    body = {"username": "pat", "email": "pat@example.com", "name": "Pat", "password": password}
    return await client.post("/api/v1/users.create", json=body, headers=admin)


async def _set(client: httpx.AsyncClient, admin: dict[str, str], setting_id: str, value: Any) -> None:
    response = await client.post(f"/api/v1/settings/{setting_id}", json={"value": value}, headers=admin)
    assert response.status_code == 200, response.text


async def test_a_password_shorter_than_eight_characters_is_refused_with_rocketchats_reason(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await _create(client, admin, "short-1")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "error-password-policy-not-met-minLength"
    assert body["errorType"] == "error-password-policy-not-met"
    assert (await _create(client, admin, "long-enough")).status_code == 200


async def test_a_character_repeated_more_than_three_times_in_a_row_is_refused(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await _create(client, admin, "passwoooord")
    assert response.status_code == 400
    assert response.json()["error"] == "error-password-policy-not-met-repeatingCharacters"
    assert (await _create(client, admin, "passwooord")).status_code == 200


async def test_an_admin_can_require_character_classes_and_every_reason_is_named(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for rule in ("AtLeastOneUppercase", "AtLeastOneNumber", "AtLeastOneSpecialCharacter"):
        await _set(client, admin, f"Accounts_Password_Policy_{rule}", True)
    response = await _create(client, admin, "lowercaseonly")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "error-password-policy-not-met-oneUppercase"
    for reason in ("oneUppercase", "oneNumber", "oneSpecial"):
        assert f"error-password-policy-not-met-{reason}" in body["details"]
    created = await _create(client, admin, "Lowercase-1")
    assert created.status_code == 200, created.text
    await login_headers(client, "pat", "Lowercase-1")


async def test_an_admin_can_set_the_length_limits(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    await _set(client, admin, "Accounts_Password_Policy_MinLength", 12)
    await _set(client, admin, "Accounts_Password_Policy_MaxLength", 16)
    assert (await _create(client, admin, "eleven-char")).json()["error"] == (
        "error-password-policy-not-met-minLength"
    )
    assert (await _create(client, admin, "seventeen-chars-x")).json()["error"] == (
        "error-password-policy-not-met-maxLength"
    )
    assert (await _create(client, admin, "twelve-chars")).status_code == 200


async def test_the_policy_settings_are_read_and_checked_like_other_settings(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    read = await client.get("/api/v1/settings/Accounts_Password_Policy_MinLength", headers=admin)
    assert read.json()["value"] == 8
    read = await client.get("/api/v1/settings/Accounts_Password_Policy_MaxLength", headers=admin)
    assert read.json()["value"] == -1
    wrong = await client.post(
        "/api/v1/settings/Accounts_Password_Policy_MinLength", json={"value": "8"}, headers=admin
    )
    assert wrong.status_code == 400
    below = await client.post(
        "/api/v1/settings/Accounts_Password_Policy_MinLength", json={"value": -2}, headers=admin
    )
    assert below.status_code == 400


async def test_with_the_policy_disabled_any_non_blank_password_is_taken(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await _set(client, admin, "Accounts_Password_Policy_Enabled", False)
    assert (await _create(client, admin, "   ")).json()["error"] == "error-password-policy-not-met"
    assert (await _create(client, admin, "aaaa")).status_code == 200
