"""A shim only: the project's metadata lives in pyproject.toml; the layout requires a setup.py."""
from setuptools import setup

setup()
