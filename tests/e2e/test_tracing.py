"""One trace per order: spans exported by the real services to a real OTLP/gRPC
receiver follow a crossing order from the gateway's HTTP request through order
entry (gRPC), Kafka, matching, the executions consumer and back to the gateway's
WebSocket push, each span the child of the one before.
"""

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

INTERNAL, SERVER, CLIENT, CONSUMER = 1, 2, 3, 5  # OTLP SpanKind values


def is_fill_for(order_id):
    return lambda m: m["type"] == "fill" and m["fill"]["order_id"] == order_id


def chain_to_root(span, by_id):
    chain = [span]
    while chain[-1].parent_span_id and chain[-1].parent_span_id in by_id:
        chain.append(by_id[chain[-1].parent_span_id])
    return list(reversed(chain))


async def test_a_crossing_order_is_one_trace_from_the_http_request_to_the_websocket_push(
    traders, span_receiver
):
    seller, buyer = await traders("trace-seller"), await traders("trace-buyer")
    await seller.place(symbol="KO", side="sell", type="limit", quantity=5, price="60.00")
    bid = await buyer.place(symbol="KO", side="buy", type="limit", quantity=5, price="60.00")
    await buyer.wait_for_message(is_fill_for(bid["order_id"]))
    order_id = bid["order_id"]

    # Spans leave each service in batches (every few seconds): wait for the last link.
    pushes = span_receiver.wait_for(
        lambda s: (
            s.name == "push order update" and s.attributes.get("trademesh.order_id") == order_id
        )
    )
    assert pushes, "the gateway's WebSocket push span never arrived"
    push = pushes[0]

    # The chain is complete once the push's ancestry reaches a root span.
    def complete(_):
        by_id = {s.span_id: s for s in span_receiver.spans() if s.trace_id == push.trace_id}
        return chain_to_root(push, by_id)[0].parent_span_id == ""

    span_receiver.wait_for(complete)
    by_id = {s.span_id: s for s in span_receiver.spans() if s.trace_id == push.trace_id}
    chain = chain_to_root(push, by_id)
    # Libraries may nest spans of their own (FastAPI's endpoint span): the hops are the
    # spans that cross a process or a broker.
    hops = [s for s in chain if s.kind != INTERNAL]
    steps = [(s.service, s.name, s.kind) for s in hops]
    assert steps == [
        ("gateway", "POST /api/v1/orders", SERVER),
        ("gateway", "trademesh.order.v1.OrderService/PlaceOrder", CLIENT),
        ("order", "trademesh.order.v1.OrderService/PlaceOrder", SERVER),
        ("matching", "matching.apply", CONSUMER),
        ("order", "apply execution report", CONSUMER),
        ("gateway", "push order update", CONSUMER),
    ], steps
    root = chain[0]
    assert root.parent_span_id == ""
    assert root.attributes["http.route"] == "/api/v1/orders"
    assert root.attributes["http.response.status_code"] == 202
    # Every hop names the order and its symbol.
    for span in hops[2:]:
        assert span.attributes.get("trademesh.order_id") == order_id, span
        assert span.attributes.get("trademesh.symbol") == "KO", span

    # Never secrets or personal data: no identity header, no user id in any attribute.
    for span in by_id.values():
        for key, value in span.attributes.items():
            assert "authorization" not in key.lower() and "password" not in key.lower()
            assert buyer.user_id not in str(value) and seller.user_id not in str(value)
