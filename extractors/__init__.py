"""Collect posts and articles, politely; extract article text."""
from .article import extract_article
from .article_batch import extract_many
