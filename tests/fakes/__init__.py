"""Test doubles shared by unit and end-to-end tests."""
from .openai_server import FakeCall, FakeOpenAI, Reply

__all__ = ["FakeCall", "FakeOpenAI", "Reply"]
