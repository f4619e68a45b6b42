"""The hardened YAML loader and the YAML-1.1-safe dumper (plugins/module_utils/k8s/yaml_support)."""

import json
import time

import pytest
import yaml

from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.yaml_support import (
    CONFIG_LIMITS,
    CONTENT_LIMITS,
    HIERARCHY_LIMITS,
    YamlLimitError,
    YamlLimits,
    safe_dump,
    safe_dump_all,
    safe_load,
    safe_load_all,
)

# 9 levels of 9 aliases: 9**9 (387 million) strings once expanded, in 342 bytes.
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


def load(text, limits=CONTENT_LIMITS, tags=None):
    return safe_load_all(text, "spec.missionresource", limits, tags)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("data: {released: 2024-01-01}", [{"data": {"released": "2024-01-01"}}]),
        ("t: 2001-12-14 21:59:43.10 -5", [{"t": "2001-12-14 21:59:43.10 -5"}]),
        ("a: [1, 2.5, true, null, ~, 'y', on]", [{"a": [1, 2.5, True, None, None, "y", True]}]),
        ("base: &b {x: 1}\nd: {<<: *b, y: 2}", [{"base": {"x": 1}, "d": {"x": 1, "y": 2}}]),
        ("---\na: 1\n---\n---\nb: 2\n", [{"a": 1}, None, {"b": 2}]),
        ('{"json": {"works": [1, "two"]}}', [{"json": {"works": [1, "two"]}}]),
        ("big: 123456789012345678901234567890", [{"big": 123456789012345678901234567890}]),
        ("", []),
    ],
)
def test_accepted_values_round_trip_through_json(text, expected):
    loaded = load(text)
    assert loaded == expected
    assert json.loads(json.dumps(loaded)) == loaded


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !!binary aGVsbG8=", "line 1, column 4: binary values (!!binary) have no JSON form"),
        ("a: !!set {x, y}", "sets (!!set) have no JSON form"),
        ("a: !!omap [x: 1]", "ordered maps (!!omap)"),
        ("a: .nan", ".nan has no JSON form"),
        ("a: -.inf", "-.inf has no JSON form"),
        ("1: x", "mapping key '1' is not a string: quote it"),
        ("on: x", "mapping key 'on' is not a string"),
        ("~: x", "mapping key '~' is not a string"),
        ("? [a]\n: b", "a mapping key must be a string, not a collection"),
        ("a: &a [*a]", "alias *a refers to itself"),
        ("a: *nowhere", "alias *nowhere names no anchor"),
        ("a: !foo x", "the tag !foo is not accepted here"),
        ("a: !!python/object:os.system x", "is not accepted here"),
        ("a: b\n  c: d", "spec.missionresource: not valid YAML at line 2, column 4"),
        (BOMB, "aliases repeat more than 1000 nodes (an alias bomb?)"),
        ("[" * 100_000, "nested deeper than 64 levels"),
        ("- " * 5000 + "x", "nested deeper than 64 levels"),
        (b"\xff\xfe", "not UTF-8 text"),
        (42, "expected YAML text, got int"),
    ],
)
def test_refused_input_names_the_place_and_the_reason(text, message):
    with pytest.raises(YamlLimitError) as caught:
        load(text)
    assert str(caught.value).startswith("spec.missionresource")
    assert message in str(caught.value)


def test_the_alias_bomb_is_refused_before_anything_is_built():
    assert len(BOMB) < 450
    started = time.process_time()
    with pytest.raises(YamlLimitError):
        load(BOMB, HIERARCHY_LIMITS)  # even the largest alias budget stops it
    assert time.process_time() - started < 2  # counted, never expanded


def test_size_and_node_limits():
    small = YamlLimits(max_bytes=100, max_depth=5, max_nodes=10, max_alias_nodes=3)
    with pytest.raises(YamlLimitError, match="101 characters, more than the 100 accepted"):
        load("x" * 101, small)
    with pytest.raises(YamlLimitError, match="more than 10 nodes"):
        load("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]", small)
    with pytest.raises(YamlLimitError, match="aliases repeat more than 3 nodes"):
        load("a: &a [1, 2]\nb: *a\nc: *a", small)
    assert load("a: &a [1]\nb: *a", small) == [{"a": [1], "b": [1]}]
    assert CONTENT_LIMITS.max_bytes < CONFIG_LIMITS.max_bytes < HIERARCHY_LIMITS.max_bytes


def test_caller_tags_and_single_document():
    tags = {"!unsafe": lambda builder, node: str(builder.construct_scalar(node))}
    assert load("a: !unsafe '{{ x }}'", tags=tags) == [{"a": "{{ x }}"}]
    assert safe_load("a: 1") == {"a": 1}
    assert safe_load("") is None
    with pytest.raises(YamlLimitError, match="holds 2 documents, expected one"):
        safe_load("a: 1\n---\nb: 2", "config")


@pytest.mark.parametrize(
    "name",
    [
        "y",
        "Y",
        "n",
        "N",
        "on",
        "off",
        "yes",
        "no",
        "true",
        "101",
        "1e3",
        "-2E5",
        "0o17",
        "0x1f",
        "1_000",
        "2024-01-01",
        "12:30",
        "~",
        "null",
        ".inf",
        "1.5",
    ],
)
def test_dump_quotes_what_a_yaml_1_1_reader_would_misread(name):
    text = safe_dump({"clusters": [{"name": name}]})
    assert f"name: '{name}'" in text or f'name: "{name}"' in text
    assert yaml.safe_load(text) == {"clusters": [{"name": name}]}


def test_dump_leaves_plain_words_plain_and_keeps_order():
    text = safe_dump({"b": "store-7", "a": "region"})
    assert text == "b: store-7\na: region\n"
    assert safe_dump_all([{"a": 1}, {"b": 2}]) == "a: 1\n---\nb: 2\n"
