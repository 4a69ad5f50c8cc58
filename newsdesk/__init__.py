"""newsdesk: a newsroom pipeline for AI news."""
__version__ = "0.1.0"
PROJECT_URL = "https://github.com/newsdesk-ai/newsdesk"
