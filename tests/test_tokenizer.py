"""The line tokenizer: quoting, escapes, comments and environment expansion."""

import pytest
from hapx.core.config.tokenizer import MAX_WORDS, TokenizeError, marker, tokenize

ENV = {"A": "x y", "E": "", "B": "b", "SP": "  p  q "}


def words(text: str) -> list[str]:
    return tokenize(text, ENV).words


def test_words_and_blanks():
    assert words("  bind\t:80   name  fe  ") == ["bind", ":80", "name", "fe"]


def test_comment_outside_quotes_only():
    assert words("a b # c d") == ["a", "b"]
    assert words("a '#b' \"#c\" d#e") == ["a", "#b", "#c", "d"]


def test_escapes_outside_quotes():
    assert words(r"a\ b \#c \\d \'e \"f") == ["a b", "#c", "\\d", "'e", '"f']
    assert words(r"\x41\x7a \t") == ["Az", "\t"]


def test_unknown_escape_is_kept_for_regex_backreferences():
    assert words(r"replace \1 \d") == ["replace", "\\1", "\\d"]


def test_bad_hex_escape():
    with pytest.raises(TokenizeError):
        words(r"a \xZZ")


def test_single_quotes_are_strong():
    assert words(r"'a \" $A # \x41'") == [r'a \" $A # \x41']


def test_double_quotes_expand_and_escape():
    assert words(r'"$B-${B}-\$B"') == ["b-b-$B"]
    assert words('"a\\"b"') == ['a"b']


def test_env_not_expanded_outside_quotes():
    assert words("$B ${B}") == ["$B", "${B}"]


def test_concatenation_of_parts():
    assert words("\"a b\"'c'\\ d") == ["a bc d"]


def test_default_value_only_when_unset():
    # unset -> default; set but empty -> empty (an empty word in the middle is kept)
    assert words('x "${NOPE-dflt}" "${E-dflt}" y') == ["x", "dflt", "", "y"]


def test_word_expansion():
    assert words('x "${A[*]}" z') == ["x", "x", "y", "z"]
    assert words('x "${SP[*]}" z') == ["x", "p", "q", "z"]


def test_empty_word_expansion_is_no_word():
    assert words('x "${E[*]}" z') == ["x", "z"]


def test_empty_variable_in_quotes_is_an_empty_word():
    assert words('x "$E" z') == ["x", "", "z"]


def test_trailing_empty_word_is_not_counted():
    assert words('a "" b ""') == ["a", "", "b"]


def test_unmatched_quote():
    with pytest.raises(TokenizeError) as err:
        words("a 'b")
    assert err.value.column == 2


def test_unmatched_brace_and_bad_name():
    with pytest.raises(TokenizeError):
        words('"${A"')
    with pytest.raises(TokenizeError):
        words('"$1"')
    with pytest.raises(TokenizeError):
        words('"${A[x]}"')


def test_pseudo_variables():
    line = tokenize('"${.LINE}:${.FILE}"', {}, pseudo=lambda n: {".LINE": "7", ".FILE": "f"}.get(n))
    assert line.words == ["7:f"]


def test_columns():
    assert tokenize("  ab  'c d' e").columns == [2, 6, 12]


def test_too_many_words_truncates():
    line = tokenize(" ".join(["w"] * (MAX_WORDS + 3)))
    assert line.too_many and len(line.words) == MAX_WORDS


def test_marker():
    assert marker("ab cd", 3) == "  ab cd\n     ^"
