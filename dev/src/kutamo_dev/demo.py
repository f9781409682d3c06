"""One demo sign-in, end to end, the way the frontend does it: login page, Microsoft, sign-in, user record."""

import time
from pathlib import Path
from typing import Any

import httpx

from kutamo_dev.services import DEMO_APPLICATION_ID, DEMO_DIRECTORY_ID, DEMO_LOGIN_CODE, DEMO_PEOPLE
from kutamo_dev.stack import Stack

DEMO_OID = DEMO_PEOPLE[0]["oid"]


class DemoError(RuntimeError):
    """The demo could not complete; the message says which step and why."""


def sign_in_once(stack: Stack, out: Path) -> dict[str, Any]:
    urls = {s.name: s.url for s in stack.services}
    if {"identity", "provisioning"} - set(urls) or stack.emulator is None:
        raise DemoError("the services are not running; start them with `make run` first")
    with httpx.Client(timeout=15) as http:
        page = _ok(http.get(f"{urls['identity']}/v1/login/{DEMO_LOGIN_CODE}"), "login page")
        print(f"1. Login page for /login/{DEMO_LOGIN_CODE}: {page['organisation_name']} — {page['user_note']!r}")
        _ok(
            http.post(
                f"{stack.emulator.url}/_emulator/users",
                json={**DEMO_PEOPLE[0], "tid": DEMO_DIRECTORY_ID, "photo": True},
            ),
            "emulator user",
        )
        tokens = _ok(
            http.post(
                f"{stack.emulator.url}/_emulator/tokens",
                json={
                    "tid": DEMO_DIRECTORY_ID,
                    "oid": DEMO_OID,
                    "client_id": DEMO_APPLICATION_ID,
                    "nonce": page["nonce"],
                },
            ),
            "emulator tokens",
        )
        print("2. Microsoft (emulated) signed Adele Vance in and returned an id_token and a Graph token")
        signed_in = _ok(
            http.post(
                f"{urls['identity']}/v1/sign-ins",
                json={
                    "login_code": DEMO_LOGIN_CODE,
                    "id_token": tokens["id_token"],
                    "access_token": tokens["access_token"],
                    "access_token_expires_in": tokens["expires_in"],
                    "nonce": page["nonce"],
                },
            ),
            "sign-in",
        )
        print(f"3. Kutamo accepted the sign-in: user {signed_in['user_id']}, session until {signed_in['expires_at']}")
        user = _wait_for_user(http, urls["provisioning"], signed_in)
        print("4. The provisioning worker built the user record:")
        for field in ("user_id", "name", "email", "title", "avatar_url", "updated_at"):
            print(f"     {field:<11} {user[field]}")
        if user["avatar_url"]:
            avatar = http.get(urls["provisioning"] + user["avatar_url"])
            out.write_bytes(avatar.content)
            print(f"   avatar: {len(avatar.content)} bytes of {avatar.headers['content-type']}, saved to {out}")
        print(f"   again: curl -H 'Authorization: Bearer <session>' {urls['provisioning']}/v1/users/{user['user_id']}")
        return user


def _wait_for_user(http: httpx.Client, url: str, signed_in: dict[str, Any]) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {signed_in['session_token']}"}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = http.get(f"{url}/v1/users/{signed_in['user_id']}", headers=headers)
        if response.status_code == 200 and response.json()["title"]:
            record: dict[str, Any] = response.json()
            return record
        time.sleep(0.3)
    raise DemoError("the user record did not appear within 30 s; see .run/provisioning.log and .run/identity.log")


def _ok(response: httpx.Response, step: str) -> dict[str, Any]:
    if response.is_error:
        raise DemoError(f"{step} failed with HTTP {response.status_code}: {response.text[:300]}")
    body: dict[str, Any] = response.json()
    return body
