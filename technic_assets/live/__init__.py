"""Technic live: the scanned day in memory, screened on demand and re-ranked intraday (engine), served
over HTTP with a web page and Server-Sent Events (server), and watched from a terminal (watch)."""
