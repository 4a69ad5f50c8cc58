"""Collect posts and articles, politely; extract article text."""
