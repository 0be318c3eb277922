"""gandyn's thin web layer: the FastAPI app (server.app.create_app), training sessions over
websockets (server.session), the protocol (server.protocol, docs/protocol.md), presets."""
