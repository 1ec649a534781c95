"""The OpenAI-compatible Images API: model profiles, client, typed results and errors."""
