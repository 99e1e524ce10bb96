"""Accounts and tokens as the public API shows them."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from trademesh_gateway.schemas.text import WireText

# Outer bounds only (nothing unbounded reaches the auth service); it applies the rules.
_CREDENTIALS = ConfigDict(
    extra="forbid",
    json_schema_extra={"examples": [{"username": "alice", "password": "correct horse battery"}]},
)


class RegisterRequest(BaseModel):
    model_config = _CREDENTIALS

    username: WireText = Field(
        min_length=1,
        max_length=64,
        description="3-32 letters, digits and `_.-`, starting with a letter or digit; "
        "unique regardless of case.",
    )
    password: WireText = Field(min_length=1, max_length=256, description="8-128 characters.")


class LoginRequest(BaseModel):
    model_config = _CREDENTIALS

    username: WireText = Field(min_length=1, max_length=64)
    password: WireText = Field(min_length=1, max_length=256)


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: WireText = Field(
        min_length=1, max_length=512, description="The latest refresh token of the session."
    )


class LogoutRequest(RefreshRequest):
    pass


class User(BaseModel):
    user_id: str
    username: str
    created_at: datetime


class TokenResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJFZERTQSIsImtpZCI6Ij...",
                    "refresh_token": "yJ3f0xQ4m1nYy8b3w5b6cDRfZ0l2dHh2bG9r...",
                    "token_type": "bearer",
                    "expires_in": 300,
                }
            ]
        }
    )

    access_token: str = Field(description="Send as `Authorization: Bearer <access_token>`.")
    refresh_token: WireText = Field(
        description="Single use: `POST /auth/refresh` spends it and returns a new pair. "
        "Presenting a spent refresh token ends the whole session."
    )
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")


class Jwk(BaseModel):
    model_config = ConfigDict(extra="allow")

    kty: str
    kid: str
    alg: str | None = None
    use: str | None = None


class JwksDocument(BaseModel):
    keys: list[Jwk]
