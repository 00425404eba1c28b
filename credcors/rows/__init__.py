"""Every change made to ``AllowedOrigin`` through credcors: the one write path, history, imports and exports."""
