"""Unknown query parameters are refused, as unknown body fields are; so is NUL in any.

A misspelt `?limt=5` must not silently mean "the default page size", and a
parameter the API does not document is either a client bug or a probe. `%00`
decodes to NUL, which no parameter means and PostgreSQL cannot compare.
"""

from fastapi.routing import APIRoute
from starlette.requests import HTTPConnection

from trademesh_gateway.errors import ApiError

# Kept on the route (the app's routes are fixed once it serves; APIRoute is not hashable):
# walking the dependency tree on every request cost more than the check itself.
_CACHE_ATTRIBUTE = "_trademesh_declared_query"


def _declared(route: APIRoute) -> frozenset[str]:
    """The query parameters of the route and of every dependency it uses."""
    declared: frozenset[str] | None = getattr(route, _CACHE_ATTRIBUTE, None)
    if declared is None:
        declared = _walk(route)
        setattr(route, _CACHE_ATTRIBUTE, declared)
    return declared


def _walk(route: APIRoute) -> frozenset[str]:
    names: set[str] = set()
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        names.update(param.alias for param in dependant.query_params)
        pending.extend(dependant.dependencies)
    return frozenset(names)


async def reject_unknown_query_parameters(connection: HTTPConnection) -> None:
    """An app-wide dependency: 400 naming the undeclared parameters, or those holding NUL."""
    scope = connection.scope
    if not scope.get("query_string"):
        return  # the common case: nothing to check, and no parsing
    route = scope.get("route")
    if not isinstance(route, APIRoute):
        return  # the WebSocket route reads its own query (dev identity, tokens)
    query = connection.query_params
    unknown = sorted(set(query) - _declared(route))
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        raise ApiError(400, "invalid_argument", f"unknown query parameter(s): {names}")
    with_nul = sorted({name for name, value in query.multi_items() if "\x00" in value})
    if with_nul:
        names = ", ".join(repr(name) for name in with_nul)
        raise ApiError(
            400, "invalid_argument", f"query parameter(s) {names} must not contain NUL (%00)"
        )
