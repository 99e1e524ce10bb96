"""The market service: instruments, quotes, depth, candles, fundamentals and live updates."""
