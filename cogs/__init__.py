"""Slash commands, one module per feature; each ends with `async def setup(bot)`."""
