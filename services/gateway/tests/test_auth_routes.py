"""Auth and watchlist routes: what the gateway sends to AuthService and what callers see."""


async def test_login_answers_the_token_pair(client, fakes):
    response = await client.post(
        "/api/v1/auth/login", json={"username": "alice", "password": "correct horse"}
    )

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert (body["token_type"], body["expires_in"]) == ("bearer", 300)
    sent = fakes.behaviour.calls("Login")[-1]
    assert (sent.username, sent.password) == ("alice", "correct horse")
    # The issued token works on the gateway.
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["username"] == "alice-name"


async def test_credentials_are_bounded_and_strict(client, fakes):
    too_long = await client.post(
        "/api/v1/auth/register", json={"username": "a" * 65, "password": "x" * 10}
    )
    extra = await client.post(
        "/api/v1/auth/login", json={"username": "alice", "password": "pw", "admin": True}
    )

    assert too_long.status_code == extra.status_code == 400
    assert fakes.behaviour.calls("Register") == fakes.behaviour.calls("Login") == []


async def test_a_watchlist_the_service_does_not_find_is_404(client, alice):
    response = await client.get(
        "/api/v1/watchlists/5b0e6e58-2f6c-4d47-8a43-0f8d3c6fa3e1", headers=alice
    )

    assert response.status_code == 404
    assert response.json()["error"]["message"] == (
        "watchlist '5b0e6e58-2f6c-4d47-8a43-0f8d3c6fa3e1' not found"
    )


async def test_watchlist_symbols_are_checked_before_the_service_sees_them(client, alice, fakes):
    response = await client.post(
        "/api/v1/watchlists", json={"name": "x", "symbols": ["ok", "not ok!"]}, headers=alice
    )

    assert response.status_code == 400
    assert "body.symbols[1]" in response.json()["error"]["message"]
