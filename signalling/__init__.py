"""Signalling for video sessions: WebSocket rooms, waiting room, TURN credentials, aiortc peer."""
