"""The public REST and WebSocket API of trademesh: validates callers' requests, forwards them
to the services over gRPC and pushes each user's order updates to their WebSocket connections."""
