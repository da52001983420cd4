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

    A list is compiled on its first run into one generated function (:func:`compile_rules`),
    kept on its first rule; the list is compiled again when its length changed.
    """
    if not rules:
        return _CONT
    entry = rules[0].runners.get(id(rules))
    if entry is None or entry[0] is not rules or entry[1] != len(rules):
        entry = rules[0].runners[id(rules)] = (rules, len(rules), compile_rules(rules))
    return entry[2](strm, final)


def _run_from(rules: list[Rule], strm: Any, final: bool) -> ActResult:
    """The rule loop itself, resuming where a previous pass yielded: what the compiled
    runner does when the stream holds a place to resume at."""
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


def _cond_fn(cond: Any) -> Any:
    """The function evaluating a rule's condition: a compiled condition's own test."""
    tester = getattr(cond, "tester", None)
    return tester() if tester is not None else cond.eval


def compile_rules(rules: list[Rule]) -> Any:
    """One generated function ``run(strm, final) -> ActResult`` with :func:`run_rules`'s
    behaviour for ``rules``: each rule's condition test and action are called in line, in
    order, without the loop; a stream holding a place to resume at goes through
    :func:`_run_from`."""
    key = id(rules)

    def wait(strm: Any, idx: int) -> ActResult:
        strm.ext.setdefault(_RESUME, {})[key] = idx
        return _YIELD

    def stop(strm: Any, ret: ActResult, idx: int) -> ActResult:
        if ret == _YIELD:
            strm.ext.setdefault(_RESUME, {})[key] = idx
        return ret

    def slow(strm: Any, final: bool) -> ActResult:
        return _run_from(rules, strm, final)

    ns: dict[str, Any] = {"_CONT": _CONT, "_RESUME": _RESUME, "_wait": wait, "_stop": stop,
                          "_slow": slow}
    body = ["def run(strm, final):",
            "    ext = strm.ext",
            "    if ext and _RESUME in ext:",
            "        return _slow(strm, final)"]
    for idx, rule in enumerate(rules):
        ns[f"_a{idx}"] = rule.action.run
        call = [f"r = _a{idx}(strm)",
                "if r is not _CONT and r != _CONT:",
                f"    return _stop(strm, r, {idx})"]
        if rule.cond is None:
            body += ["    " + line for line in call]
            continue
        ns[f"_c{idx}"] = _cond_fn(rule.cond)
        body += [f"    c = _c{idx}(strm)",
                 "    if c is None:",
                 "        if not final:",
                 f"            return _wait(strm, {idx})",
                 "    elif c:"]
        body += ["        " + line for line in call]
    body.append("    return _CONT")
    src = "\n".join(body) + "\n"
    code = _CODE.get(src)
    if code is None:  # the same rule shapes in many proxies generate the same text
        code = _CODE[src] = compile(src, "<rules>", "exec")
    exec(code, ns)  # noqa: S102 - our own generated text
    return ns["run"]


#: generated rule runners by source text, compiled once
_CODE: dict[str, Any] = {}


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
