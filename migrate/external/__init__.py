"""One wrapper per outside tool: timeouts, and the tool's failures mapped to domain errors."""
