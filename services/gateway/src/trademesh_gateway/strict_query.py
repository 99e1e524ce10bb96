"""Unknown query parameters are refused, as unknown body fields are.

A misspelt `?limt=5` must not silently mean "the default page size", and a
parameter the API does not document is either a client bug or a probe.
"""

from fastapi.routing import APIRoute
from starlette.requests import HTTPConnection

from trademesh_gateway.errors import ApiError


def _declared(route: APIRoute) -> frozenset[str]:
    """The query parameters of the route and of every dependency it uses."""
    names: set[str] = set()
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        names.update(param.alias for param in dependant.query_params)
        pending.extend(dependant.dependencies)
    return frozenset(names)


async def reject_unknown_query_parameters(connection: HTTPConnection) -> None:
    """An app-wide dependency: 400 naming the parameters the route does not declare."""
    route = connection.scope.get("route")
    if not isinstance(route, APIRoute):
        return  # the WebSocket route reads its own query (dev identity, tokens)
    unknown = sorted(set(connection.query_params) - _declared(route))
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        raise ApiError(400, "invalid_argument", f"unknown query parameter(s): {names}")
