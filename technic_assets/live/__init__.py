"""Technic live: the stored day served instantly, and kept current during the trading day."""
