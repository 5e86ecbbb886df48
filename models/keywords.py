"""Tags and skills as searches compare them: case-insensitively, each once, in the order given."""


def key(word: str) -> str:
    return word.casefold()


def keys(words: list[str]) -> list[str]:
    return list(dict.fromkeys(key(word) for word in words))
