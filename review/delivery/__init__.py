"""Delivery of published digests: the email newsletter (SMTP) and chat/social posts.

Everything here sends a *published* revision (the HTML and Markdown the
archive got), keyed in `storage.deliveries` so nobody gets one twice.
"""
