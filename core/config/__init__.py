"""The configuration language: tokenizer, conditional blocks, sections and the parser that
dispatches each line to the directive a plugin registered."""
