"""The rule engine: parsing one rule line generically and running a rule list.

A rule line is ``<action> [args...] [{if|unless} <condition>]``.  :func:`parse_rule` finds
the action record registered for the rule set, hands it the words before the condition and
compiles the condition; :func:`run_rules` evaluates a list of compiled rules on a stream.

The kernel names no action here: it only reads :class:`~hapx.core.records.Action` records.
Action parsers receive a :class:`~hapx.core.config.parser.ParseContext` whose ``keyword`` is
``"<rule set> <action>"`` (``"http-request deny"``), whose ``param`` holds the text inside
``name(...)`` for ``takes_param`` actions, whose ``point`` is the evaluation point and which
carries the rule set in an extra attribute ``ruleset``.  An action that meets a word it does
not understand raises :class:`UnexpectedWord` so the message is HAProxy's "expects either
'if' or 'unless'..." text.
"""

from __future__ import annotations

from typing import Any

from .config.model import Rule
from .errors import ConfigError, suggest
from .records import Action, ActResult, Point, RuleSet

#: rule sets whose messages follow HAProxy's tcp-request/tcp-response layout
_TCP_RULESETS = frozenset({RuleSet.TCP_REQ_CONN, RuleSet.TCP_REQ_SESS, RuleSet.TCP_REQ_CONT,
                           RuleSet.TCP_RES_CONT})


_RESUME = "rule_resume"
_CONT, _YIELD = ActResult.CONT, ActResult.YIELD


class UnexpectedWord(ConfigError):
    """Raised by an action parser on a word it does not take (``word`` is that word)."""

    def __init__(self, word: str) -> None:
        super().__init__(f"unexpected word '{word}'")
        self.word = word


# ---------------------------------------------------------------------------------------------
# Running

def run_rules(rules: list[Rule], strm: Any, *, final: bool = False) -> ActResult:
    """Evaluate ``rules`` in order on ``strm``.

    A rule without a condition applies; a condition answering None (data not complete yet)
    makes the whole list answer :attr:`ActResult.YIELD` so the caller retries later.  An
    action answering CONT lets evaluation go on; any other answer stops the list and is
    returned.  Final actions answer a stopping result (allow/accept answer STOP); a final
    action answering CONT did nothing (a redirect with ``ignore-empty`` and an empty
    location) and evaluation goes on.  When no rule stops the list, the answer is CONT.

    After a YIELD, the next call on the same stream and list resumes at the rule that
    yielded (kept in ``strm.ext["rule_resume"]``), so each action runs at most once per pass.
    With ``final`` (the inspect delay expired, or no more data can come) a condition that
    still cannot decide counts as not matching, as HAProxy does.
    """
    ext = strm.ext
    resume = ext.get(_RESUME) if ext else None
    start = resume.pop(id(rules), 0) if resume else 0
    for idx in range(start, len(rules)):
        rule = rules[idx]
        cond = rule.cond
        if cond is not None:
            verdict = cond.eval(strm)
            if verdict is None:
                if final:
                    continue
                strm.ext.setdefault(_RESUME, {})[id(rules)] = idx
                return _YIELD
            if not verdict:
                continue
        ret = rule.action.run(strm)
        if ret == _CONT:
            continue
        if ret == _YIELD:
            strm.ext.setdefault(_RESUME, {})[id(rules)] = idx
        return ret
    return _CONT


# ---------------------------------------------------------------------------------------------
# Parsing

def action_label(rec: Action) -> str:
    """How an action is listed in messages: ``set-var(*)`` for parameterized ones."""
    return f"{rec.name}(*)" if rec.takes_param else rec.name


def action_list(registry: Any, ruleset: RuleSet) -> list[str]:
    """The labels of the actions valid in ``ruleset``, in registration order."""
    return [action_label(a) for a in registry.actions_for(ruleset)]


def find_action(registry: Any, ruleset: RuleSet, word: str) -> tuple[Action | None, str | None]:
    """The action record for ``word`` in ``ruleset`` and its parenthesized parameter."""
    rec = registry.action(word, ruleset)
    if rec is not None and not rec.takes_param:
        return rec, None
    paren = word.find("(")
    if paren > 0 and word.endswith(")"):
        rec = registry.action(word[:paren], ruleset)
        if rec is not None and rec.takes_param:
            return rec, word[paren + 1:-1]
    if rec is not None and rec.takes_param:
        return rec, None  # written without its parameter: the action reports it
    return None, None


def _where(proxy: Any) -> str:
    """HAProxy's proxy_type_str(): a listen section is a "proxy"."""
    if proxy is None:
        return "section"
    kind = "proxy" if proxy.kind == "listen" else proxy.kind
    return f"{kind} '{proxy.name}'"


def unknown_action_message(registry: Any, ruleset: RuleSet, word: str, proxy: Any) -> str:
    """HAProxy's message for an unknown action, with the nearest valid one suggested."""
    recs = registry.actions_for(ruleset)
    labels = ", ".join(f"'{action_label(a)}'" for a in recs)
    best = suggest(word, [a.name for a in recs]) if word else None
    hint = f" Did you mean '{best}' maybe ?" if best else ""
    if ruleset in _TCP_RULESETS:
        return f"'{ruleset.value}' expects {labels} in {_where(proxy)} (got '{word}').{hint}"
    missing = "" if word else " (missing argument)"
    return f"'{ruleset.value}' expects {labels}, but got '{word}'{missing}.{hint}"


def split_rule_condition(words: list[str]) -> tuple[list[str], list[str] | None]:
    """Words before the first ``if``/``unless`` and the condition words from it on."""
    from .sample.cond import split_condition

    return split_condition(words)


def parse_rule(ctx: Any, ruleset: RuleSet, words: list[str], point: Point) -> Rule:
    """Parse ``<action> [args] [{if|unless} <cond>]`` for ``ruleset`` into a Rule.

    ``ctx`` is the directive's context (its ``section`` is the proxy).  Errors are raised as
    ConfigError with HAProxy's texts; inactive actions are noted with ``ctx.mark_inactive``.
    """
    proxy = ctx.section
    word = words[0] if words else ""
    rec, param = find_action(ctx.registry, ruleset, word) if word else (None, None)
    if rec is None:
        raise ctx.error(unknown_action_message(ctx.registry, ruleset, word, proxy))
    tcp = ruleset in _TCP_RULESETS
    args, cond_words = split_rule_condition(words[1:])
    sub = ctx.sub(f"{ruleset.value} {word}", args)
    sub.param = param
    sub.point = point
    sub.ruleset = ruleset
    try:
        action = rec.parse(sub, args)
    except UnexpectedWord as exc:
        if tcp:
            raise ctx.error(f"'{ruleset.value} {word}' only accepts 'if' or 'unless', in "
                            f"{_where(proxy)} (got '{exc.word}')") from None
        raise ctx.error(f"'{ruleset.value} {word}' expects either 'if' or 'unless' followed "
                        f"by a condition but found '{exc.word}'.") from None
    except ConfigError as exc:
        if tcp:
            raise ctx.error(exc.message) from None
        raise ctx.error(f"error detected in {_where(proxy)} while parsing '{ruleset.value} "
                        f"{word}' rule : {exc.message}.") from None
    cond = None
    if cond_words:
        from .sample.cond import compile_condition

        try:
            cond = compile_condition(cond_words, sub, point,
                                     where=ruleset.value if tcp else None)
        except ConfigError as exc:
            if tcp:
                raise ctx.error(f"'{ruleset.value} {word}' : error detected in "
                                f"{_where(proxy)} while parsing '{cond_words[0]}' condition : "
                                f"{exc.message}") from None
            raise ctx.error(f"error detected while parsing an '{ruleset.value} {word}' "
                            f"condition : {exc.message}.") from None
    if not rec.active:
        ctx.mark_inactive(f"{ruleset.value} {rec.name}", "action", rec.owner)
    return Rule(ruleset=ruleset.value, keyword=rec.name, action=action, cond=cond,
                file=ctx.file, line=ctx.line)
