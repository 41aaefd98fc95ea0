"""How the CLI talks to a person: one line per event, prefixed, flushed."""


def say(message: str) -> None:
    print(f"[csops] {message}", flush=True)
