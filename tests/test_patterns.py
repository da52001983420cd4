"""Pattern lists: names, file formats, versions, used-by bookkeeping and subscribers."""

from __future__ import annotations

import pytest
from hapx.core.errors import ConfigError
from hapx.core.sample.match import RefMatcher
from hapx.core.sample.patterns import (
    PatternStore,
    parse_ref_name,
    read_acl_lines,
    read_map_lines,
)
from hapx.core.sample.types import smp_str


class Where:
    """The file:line a list is used at (what a ParseContext provides)."""

    def __init__(self, file: str, line: int) -> None:
        self.file = file
        self.line = line


def test_ref_names():
    assert parse_ref_name("/a/b").name == "/a/b"
    assert parse_ref_name("file@/a/b").name == "/a/b"
    rn = parse_ref_name("opt@/a/b")
    assert rn.name == "/a/b" and rn.optional
    rn = parse_ref_name("virt@hosts")
    assert rn.name == "virt@hosts" and rn.path is None
    assert parse_ref_name("file@./virt@x").path == "./virt@x"


def test_acl_file_format():
    data = "# comment\n\n   spaced\n\ttabbed\n #hash\ntrail  \r\nlast"
    assert read_acl_lines(data) == ["spaced", "tabbed", "#hash", "trail  ", "last"]


def test_map_file_format():
    data = ("# comment\n\n  key1   value one  \nkey2\tv2\r\n"
            "key3\n   # indented comment\nk4 \t a\tb\n")
    assert read_map_lines(data) == [("key1", "value one  "), ("key2", "v2"), ("key3", ""),
                                    ("k4", "a\tb")]


def test_load_files(tmp_path):
    store = PatternStore()
    f = tmp_path / "list"
    f.write_text("a\nb\n")
    ref = store.load(str(f), Where("h.cfg", 3))
    assert [e.key for e in ref.entries] == ["a", "b"]
    # the same file under another prefix is the same list, read once
    f.write_text("changed\n")
    assert store.load(f"file@{f}", Where("h.cfg", 9)) is ref
    assert store.load(f"opt@{f}") is ref
    assert store.get(str(f)) is ref and store.get(f"file@{f}") is ref
    assert ref.description == (f"pattern loaded from file '{f}' used by acl at file 'h.cfg' "
                               "line 3, by acl at file 'h.cfg' line 9")
    empty = tmp_path / "empty"
    empty.write_text("")
    assert store.load(str(empty)).entries == []


def test_missing_files(tmp_path):
    store = PatternStore()
    with pytest.raises(ConfigError, match=r"failed to open pattern file <.*/nope>"):
        store.load(str(tmp_path / "nope"))
    ref = store.load(f"opt@{tmp_path}/nope")
    assert ref.entries == [] and ref.name == f"{tmp_path}/nope"


def test_virtual_lists_are_never_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "virt@x").write_text("ondisk\n")
    store = PatternStore()
    v = store.load("virt@x", kind="map")
    assert v.entries == [] and v.name == "virt@x"
    real = store.load("file@./virt@x")
    assert [e.key for e in real.entries] == ["ondisk"]
    assert real is not v


def test_map_kind_reads_pairs(tmp_path):
    f = tmp_path / "m.map"
    f.write_text("k1 v1\nk2 v 2\n")
    store = PatternStore()
    ref = store.load(str(f), Where("c", 1), kind="map")
    assert [(e.key, e.value) for e in ref.entries] == [("k1", "v1"), ("k2", "v 2")]
    assert ref.is_map and "used by map at file 'c' line 1" in ref.description


def test_add_delete_set_clear():
    store = PatternStore()
    ref = store.load("virt@m", kind="map")
    ref.add("a", "1")
    ref.add("b", "2")
    ref.add("a", "3")
    assert ref.set("a", "9") == 2
    assert [(e.key, e.value) for e in ref.entries] == [("a", "9"), ("b", "2"), ("a", "9")]
    assert ref.delete("a") == 2 and ref.delete("zz") == 0
    entry = ref.entries[0]
    assert ref.find_ptr(entry.ptr) is entry
    assert ref.delete_entry(entry) and len(ref) == 0
    ref.add("x")
    ref.clear()
    assert ref.entries == []


def test_prepare_and_commit():
    store = PatternStore()
    ref = store.load("virt@v")
    ref.add("old")
    seen = []
    ref.subscribe(lambda: seen.append([e.key for e in ref.entries]))
    ver = ref.prepare()
    assert (ref.curr_ver, ref.next_ver, ver) == (0, 1, 1)
    ref.add("new1", version=ver)
    ref.add("new2", version=ver)
    assert [e.key for e in ref.entries] == ["old"]
    assert seen == []  # a pending version is invisible
    ver2 = ref.prepare()
    ref.add("later", version=ver2)
    ref.commit(ver)
    assert [e.key for e in ref.entries] == ["new1", "new2"]
    assert seen == [["new1", "new2"]]
    assert [e.key for e in ref.version_entries(ver2)] == ["later"]
    ref.clear(ver2)
    assert ref.version_entries(ver2) == []
    ref.commit(ver2)
    assert ref.entries == [] and ref.curr_ver == 2
    with pytest.raises(ValueError):
        ref.commit(1)
    with pytest.raises(ValueError):
        ref.add("x", version=7)


def test_matchers_rebuild_on_change():
    store = PatternStore()
    ref = store.load("virt@r")
    m = RefMatcher(ref, "beg")
    assert not m.match(smp_str("/api/x"))
    ref.add("/api")
    assert m.match(smp_str("/api/x"))
    ver = ref.prepare()
    ref.add("/v2", version=ver)
    assert not m.match(smp_str("/v2/x"))
    ref.commit(ver)
    assert m.match(smp_str("/v2/x")) and not m.match(smp_str("/api/x"))
    # a bad runtime entry is skipped instead of breaking the list
    ipm = RefMatcher(store.load("virt@ips"), "ip")
    store.get("virt@ips").add("nope")
    store.get("virt@ips").add("10.0.0.0/8")
    assert ipm.match(smp_str("10.1.1.1"))
    m.release()
    ref.add("/late")
    assert not m.match(smp_str("/late"))


def test_unique_ids():
    store = PatternStore()
    a = store.load("virt@a")
    b = store.new_inline("acl 'path' file 'x' line 1", unique_id=0)
    c = store.load("virt@c")
    assert [r.unique_id for r in store] == [1, 0, 2]
    assert store.get("#2") is c and store.get("#0") is b and store.get("#1") is a
    with pytest.raises(ConfigError, match="already used"):
        store.new_inline("dup", unique_id=2)
