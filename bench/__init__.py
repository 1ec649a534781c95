"""Benchmarks: the real bot, in its own process, against the fake Discord and fake Images API.

Run with `.venv/bin/python -m bench` (see bench/README.md). Never part of the test run.
"""
