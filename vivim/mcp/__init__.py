"""vivim as an MCP server: an AI client reaches the user's vault through tools."""
