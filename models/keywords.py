"""Tags and skills as searches compare them: case-insensitively, each once, in the order given."""


def keys(words: list[str]) -> list[str]:
    return list(dict.fromkeys(word.casefold() for word in words))
