"""Where state lives: `STATE_URL` parsing, and the connections the stores share.

A leaf: it knows files and servers, not quotas or server settings. The stores in
`bot.limits.store` and `bot.moderation.store` are built on it.
"""

from bot.state.url import Backend, StateLocation, parse_state_url

__all__ = ["Backend", "StateLocation", "parse_state_url"]
