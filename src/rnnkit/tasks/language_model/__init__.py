"""Language models: the next token of a continuous text, at the level of characters, words or subwords."""
