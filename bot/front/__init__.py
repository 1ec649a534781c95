"""The Discord front: where discord.py lives, beside the cogs.

The bot and its command tree, replies to members, job tracking and shutdown, command sync, and
posting results. The core (the rest of `bot/`) never imports this package or `discord`.
"""
