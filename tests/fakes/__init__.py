"""Test doubles shared by unit and end-to-end tests."""
from .llm_families import (
    FAMILIES,
    FAILURES,
    FamilyServer,
    LlamaCppServer,
    LlamaServerCpp,
    OllamaServer,
    OpenAIServer,
    Recorded,
    VLLMServer,
    strict_schema_problem,
)
from .openai_server import FakeCall, FakeOpenAI, Reply
from .small_model import SmallModel

__all__ = [
    "FAMILIES", "FAILURES", "FakeCall", "FakeOpenAI", "FamilyServer", "LlamaCppServer", "LlamaServerCpp", "OllamaServer",
    "OpenAIServer", "Recorded", "Reply", "SmallModel", "VLLMServer", "strict_schema_problem",
]
