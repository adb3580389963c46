"""Serving: an HTTP API and one web page over the sampling API (optional extra `knowgen[serve]`)."""
