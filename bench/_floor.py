"""The floor of the sign-in path: a Litestar app on identity's HTTP stack that only verifies the same
Microsoft id_token (RS256, key fetched once) and signs an ES256 session. `python -m bench._floor`
with PORT, EMULATOR_URL, TID and APPLICATION_ID set (FLOOR_PROCESSES: as many processes as identity runs);
the bench compares identity with it."""

import os
import time
import uuid

import httpx
import jwt
import msgspec
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec
from litestar import Litestar, post

from kutamo_identity import server


class Body(msgspec.Struct):
    login_code: str
    id_token: str
    access_token: str | None = None
    nonce: str | None = None


class Session(msgspec.Struct):
    user_id: str
    session_token: str
    token_type: str
    expires_at: int


def create_app(emulator: str, tid: str, application_id: str) -> Litestar:
    published = httpx.get(f"{emulator}/{tid}/discovery/v2.0/keys").json()["keys"]
    keys = {k["kid"]: jwt.PyJWK(k, "RS256") for k in published if k["kty"] == "RSA"}
    signing = ec.generate_private_key(ec.SECP256R1())
    issuer = f"https://login.microsoftonline.com/{tid}/v2.0"  # the emulator issues as Microsoft does

    @post("/v1/sign-ins", status_code=201)
    async def sign_in(data: Body) -> Session:
        kid = jwt.get_unverified_header(data.id_token)["kid"]
        claims = jwt.decode(data.id_token, keys[kid], algorithms=["RS256"], audience=application_id, issuer=issuer)
        now = int(time.time())
        token = jwt.encode(
            {"iss": "floor", "aud": "kutamo", "sub": claims["oid"], "iat": now, "exp": now + 900,
             "jti": uuid.uuid4().hex},
            signing, algorithm="ES256", headers={"kid": "floor"},
        )  # fmt: skip
        return Session(user_id=claims["oid"], session_token=token, token_type="Bearer", expires_at=now + 900)  # noqa: S106

    return Litestar([sign_in], logging_config=None)


def from_env() -> Litestar:
    return create_app(os.environ["EMULATOR_URL"], os.environ["TID"], os.environ["APPLICATION_ID"])


if __name__ == "__main__":
    if os.environ.get("FLOOR_STACK") == "h11":  # uvicorn's pure-Python defaults, for bench/http_stack.py
        config = server.settings(from_env(), host="127.0.0.1", port=int(os.environ["PORT"]), workers=1)
        config.loop, config.http = "asyncio", "h11"
        uvicorn.Server(config).run()
    elif (processes := int(os.environ.get("FLOOR_PROCESSES", "1"))) > 1:  # as identity runs N processes
        server.serve("bench._floor:from_env", host="127.0.0.1", port=int(os.environ["PORT"]), workers=processes,
                     factory=True)  # fmt: skip
    else:
        server.serve(from_env(), host="127.0.0.1", port=int(os.environ["PORT"]), workers=1)
