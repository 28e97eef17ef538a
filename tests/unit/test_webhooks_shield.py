"""The server's Shield leaves the webhooks' bodies to the receiver, and only theirs."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from driftless.server.shield import MAX_BODY, Shield
from driftless.webhooks.receiver import PREFIX


async def length(request: Request) -> JSONResponse:
    return JSONResponse({"read": len(await request.body())})


def client() -> httpx.AsyncClient:
    routes = [
        Route("/api/v1/applications", length, methods=["POST"]),
        Route(PREFIX + "{provider}", length, methods=["POST"]),
    ]
    app = Shield(Starlette(routes=routes), local_only=False, tls=False, own_body=(PREFIX,))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_webhook_bodies_pass_the_shield_cap_and_others_do_not() -> None:
    big = b"x" * (MAX_BODY * 4)
    async with client() as http:
        resp = await http.post(PREFIX + "github", content=big)
        assert resp.status_code == 200 and resp.json() == {"read": len(big)}
        resp = await http.post("/api/v1/applications", content=big)
        assert resp.status_code == 413
        resp = await http.post("/api/v1/applicationsx" + PREFIX, content=big)
        assert resp.status_code == 413  # the prefix starts the path, or it is no webhook


async def test_cross_site_posts_to_webhooks_are_still_refused() -> None:
    async with client() as http:
        resp = await http.post(
            PREFIX + "github", content=b"{}", headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert resp.status_code == 403
