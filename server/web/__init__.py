"""The web app: the app factory and route table, request plumbing, headers,
templates, translations, static files and the views.
"""
