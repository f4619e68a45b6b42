# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""The run's summary: ``test_info.yaml`` and one HTML page with the tree as a picture.

The picture is inline SVG (no script, no external file): every cluster of the fleet as a box
where the inventory puts it, coloured by its tests (green: all passed, red: a test failed or
a whole-tree scenario named it, grey: nothing ran), linked to the list of its tests, each of
which links to its entry in the suite's Robot Framework log.
"""

from __future__ import annotations

import html
import os
from typing import Any

from ..k8s.yaml_support import safe_dump

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 210, 66, 24, 54, 16
COLOURS = {"pass": "#2b8a3e", "fail": "#c92a2a", "skip": "#868e96", "none": "#adb5bd"}
STATUS_CLASS = {"PASS": "pass", "FAIL": "fail", "SKIP": "skip", "NOT RUN": "skip"}


def cluster_results(record: dict) -> dict:
    """cluster -> {passed, failed, skipped, status, tests: [(suite record, test)]}."""
    out = {
        c["name"]: {"passed": 0, "failed": 0, "skipped": 0, "tests": []}
        for c in record["fleet"]["clusters"]
    }
    for suite in record["suites"]:
        for test in suite["tests"]:
            # A failure counts against the clusters it names (subtree [b] fails because c is
            # disconnected: c is at fault), else against the test's own cluster.
            own = [test["cluster"]] if test.get("cluster") in out else []
            if test["status"] == "FAIL":
                names = [a for a in test.get("affects") or [] if a in out] or own
            else:
                names = own
            for name in names:
                entry = out[name]
                key = {"PASS": "passed", "FAIL": "failed"}.get(test["status"], "skipped")
                entry[key] += 1
                entry["tests"].append((suite, test))
    for entry in out.values():
        if entry["failed"]:
            entry["status"] = "fail"
        elif entry["passed"]:
            entry["status"] = "pass"
        elif entry["skipped"]:
            entry["status"] = "skip"
        else:
            entry["status"] = "none"
    return out


def layout(clusters: list) -> dict:
    """name -> (x, y) of each box: leaves side by side in tree order, parents centred."""
    children: dict = {c["name"]: [] for c in clusters}
    roots = []
    for c in clusters:
        if c.get("parent") in children:
            children[c["parent"]].append(c["name"])
        else:
            roots.append(c["name"])
    pos: dict = {}
    slot = [0]

    def place(name: str, depth: int) -> float:
        kids = children[name]
        if kids:
            xs = [place(kid, depth + 1) for kid in kids]
            x = (xs[0] + xs[-1]) / 2
        else:
            x = slot[0] * (BOX_W + GAP_X)
            slot[0] += 1
        pos[name] = (MARGIN + x, MARGIN + depth * (BOX_H + GAP_Y))
        return x

    for root in roots:
        place(root, 0)
    return pos


def tree_svg(record: dict, results: dict) -> str:
    clusters = record["fleet"]["clusters"]
    pos = layout(clusters)
    width = max((x for x, _y in pos.values()), default=0) + BOX_W + MARGIN
    height = max((y for _x, y in pos.values()), default=0) + BOX_H + MARGIN
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="the fleet as a tree">'
    ]
    for c in clusters:
        parent = c.get("parent")
        if parent in pos:
            px, py = pos[parent]
            x, y = pos[c["name"]]
            parts.append(
                f'<line x1="{px + BOX_W / 2:.0f}" y1="{py + BOX_H:.0f}" x2="{x + BOX_W / 2:.0f}" '
                f'y2="{y:.0f}" stroke="#495057" stroke-width="2"/>'
            )
    for c in clusters:
        name = c["name"]
        x, y = pos[name]
        r = results[name]
        colour = COLOURS[r["status"]]
        counts = f"{r['passed']} passed, {r['failed']} failed"
        if r["skipped"]:
            counts += f", {r['skipped']} skipped"
        parts.append(
            f'<a href="#cluster-{html.escape(name)}"><g class="cluster {r["status"]}">'
            f"<title>{html.escape(c['path'])}: {counts}</title>"
            f'<rect x="{x:.0f}" y="{y:.0f}" rx="10" ry="10" width="{BOX_W}" height="{BOX_H}" '
            f'fill="{colour}" stroke="#212529" stroke-width="1.5"/>'
            f'<text x="{x + BOX_W / 2:.0f}" y="{y + 27:.0f}" text-anchor="middle" '
            f'font-size="17" font-weight="bold" fill="#fff">{html.escape(name)}</text>'
            f'<text x="{x + BOX_W / 2:.0f}" y="{y + 49:.0f}" text-anchor="middle" '
            f'font-size="12" fill="#fff">{html.escape(counts)}</text></g></a>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _e(value: Any) -> str:
    return html.escape(str(value if value is not None else ""))


def _test_row(suite: dict, test: dict, with_suite: bool = True) -> str:
    status = test["status"]
    log = f"{suite['dir']}/log.html#{test['robot_id']}"
    cells = [f'<td><a href="{_e(log)}">{_e(test["name"])}</a></td>']
    if with_suite:
        cells.insert(0, f"<td>{_e(suite['layer'])}/{_e(suite['suite'])}</td>")
    cells.append(f'<td class="{STATUS_CLASS.get(status, "skip")}">{_e(status)}</td>')
    cells.append(f"<td>{'yes' if test.get('show_stopper') else ''}</td>")
    cells.append(f"<td class='msg'>{_e(test.get('message'))}</td>")
    return "<tr>" + "".join(cells) + "</tr>"


STYLE = """
body{font-family:sans-serif;margin:24px;color:#212529}
h1{margin-bottom:4px} .meta{color:#495057;margin-bottom:16px}
.verdict{display:inline-block;padding:2px 12px;border-radius:6px;color:#fff}
.verdict.PASS{background:#2b8a3e}.verdict.FAIL,.verdict.INTERRUPTED{background:#c92a2a}
table{border-collapse:collapse;margin:8px 0 20px}
td,th{border:1px solid #dee2e6;padding:4px 8px;text-align:left;vertical-align:top}
td.pass{color:#2b8a3e;font-weight:bold} td.fail{color:#c92a2a;font-weight:bold}
td.skip{color:#868e96} td.msg{max-width:60em;font-size:90%}
.stoppers{border:2px solid #c92a2a;padding:8px 16px;margin:12px 0}
.legend span{display:inline-block;width:14px;height:14px;margin:0 4px 0 14px;
vertical-align:middle;border-radius:3px}
"""


def options_text(options: dict) -> str:
    layers = ", ".join(options.get("layers") or []) or "all"
    optional = ", ".join(options.get("optional") or []) or "none"
    destructive = "yes" if options.get("destructive") else "no"
    return f"layers: {layers}; optional: {optional}; disruptive tests: {destructive}"


def _html_head(record: dict) -> list:
    """The title, the verdict, the run's facts and the show-stoppers that failed."""
    totals = record["totals"]
    out = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Fornax validation {_e(record['run_id'])}: {_e(record['result'])}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Fornax validation <span class='verdict {_e(record['result'])}'>"
        f"{_e(record['result'])}</span></h1>",
        f"<div class='meta'>blueprint <b>{_e(record['blueprint']['name'])}</b> &middot; run "
        f"{_e(record['run_id'])} &middot; {_e(record['started'])} &middot; "
        f"{record['duration_seconds']:g} s &middot; {totals['passed']} passed, "
        f"{totals['failed']} failed, {totals['skipped']} skipped &middot; "
        f"{_e(options_text(record['options']))}</div>",
    ]
    if record["result"] == "PASS" and totals["failed"]:
        out.append(
            f"<p class='meta'>No show-stopper failed; {totals['failed']} other test(s) failed "
            "(listed under their clusters below).</p>"
        )
    if record["show_stopper_failures"]:
        out.append("<div class='stoppers'><b>Show-stoppers failed</b> (the run stopped there):<ul>")
        out.extend(
            f"<li><b>{_e(f['test'])}</b> {_e(f['name'])}: {_e(f['message'])}</li>"
            for f in record["show_stopper_failures"]
        )
        out.append("</ul></div>")
    return out


def _html_fleet(record: dict, results: dict) -> list:
    """The picture of the tree and its legend."""
    legend = "".join(
        f"<span style='background:{COLOURS[k]}'></span>{label}"
        for k, label in (("pass", "all passed"), ("fail", "a test failed"), ("skip", "not run"))
    )
    return ["<h2>The fleet</h2>", tree_svg(record, results), f"<div class='legend'>{legend}</div>"]


def _html_suites(record: dict) -> list:
    """The table of suites: status, counts, time and links to their result files."""
    out = [
        "<h2>Suites</h2><table><tr><th>layer/suite</th><th>status</th><th>passed</th>"
        "<th>failed</th><th>skipped</th><th>seconds</th><th>results</th></tr>"
    ]
    for suite in record["suites"]:
        links = " ".join(
            f"<a href='{_e(suite['dir'])}/{f}'>{f}</a>"
            for f in ("report.html", "log.html", "output.xml", "xunit.xml")
        )
        out.append(
            f"<tr><td>{_e(suite['layer'])}/{_e(suite['suite'])}</td>"
            f"<td class='{STATUS_CLASS.get(suite['status'], 'skip')}'>{_e(suite['status'])}</td>"
            f"<td>{suite['passed']}</td><td>{suite['failed']}</td><td>{suite['skipped']}</td>"
            f"<td>{suite['seconds']:g}</td><td>{links}</td></tr>"
        )
    for suite_id in record.get("not_run") or []:
        out.append(
            f"<tr><td>{_e(suite_id)}</td><td class='skip'>NOT RUN</td><td colspan=5></td></tr>"
        )
    out.append("</table>")
    return out


def _html_tests(record: dict, results: dict) -> list:
    """The whole-tree scenarios, then each cluster's tests."""
    out = []
    head = "<tr><th>test</th><th>status</th><th>show-stopper</th><th>message</th></tr>"
    fleet_tests = [(s, t) for s in record["suites"] for t in s["tests"] if not t.get("cluster")]
    if fleet_tests:
        out.append("<h2>Whole-tree scenarios</h2><table><tr><th>suite</th>" + head[4:])
        out.extend(_test_row(s, t) for s, t in fleet_tests)
        out.append("</table>")
    for c in record["fleet"]["clusters"]:
        r = results[c["name"]]
        out.append(
            f"<h2 id='cluster-{_e(c['name'])}'>{_e(c['name'])} <small>({_e(c['path'])}, "
            f"{_e(c['api_endpoint'])})</small></h2>"
        )
        if not r["tests"]:
            out.append("<p>No test ran for this cluster.</p>")
            continue
        out.append("<table><tr><th>suite</th>" + head[4:])
        out.extend(_test_row(s, t) for s, t in r["tests"])
        out.append("</table>")
    return out


def html_page(record: dict) -> str:
    results = cluster_results(record)
    out = _html_head(record) + _html_fleet(record, results)
    out += _html_suites(record) + _html_tests(record, results)
    if record.get("cleanup"):
        out.append("<h2>Clean-up</h2><ul>")
        out.extend(f"<li>{_e(line)}</li>" for line in record["cleanup"])
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out)


def test_info(record: dict) -> dict:
    """The run in the spirit of BluVal's test_info.yaml (details stay in output.xml)."""
    return {
        "test_info": {
            "blueprint": record["blueprint"],
            "run_id": record["run_id"],
            "started": record["started"],
            "finished": record["finished"],
            "duration_seconds": record["duration_seconds"],
            "result": record["result"],
            "outcome": record["outcome"],
            "options": record["options"],
            "fleet": {
                "root": record["fleet"]["root"],
                "clusters": {c["name"]: c["path"] for c in record["fleet"]["clusters"]},
            },
            "totals": record["totals"],
            "show_stopper_failures": record["show_stopper_failures"],
            "failures": record["failures"][:100],
            "suites": [
                {
                    "layer": s["layer"],
                    "suite": s["suite"],
                    "status": s["status"],
                    "passed": s["passed"],
                    "failed": s["failed"],
                    "skipped": s["skipped"],
                    "seconds": s["seconds"],
                    "results": s["dir"],
                }
                for s in record["suites"]
            ],
            "not_run": record.get("not_run") or [],
            "cleanup": record.get("cleanup") or [],
            "tools": record.get("tools") or {},
        }
    }


def write_reports(results_dir: str, record: dict) -> None:
    with open(os.path.join(results_dir, "test_info.yaml"), "w", encoding="utf-8") as handle:
        handle.write(safe_dump(test_info(record)))
    with open(os.path.join(results_dir, "index.html"), "w", encoding="utf-8") as handle:
        handle.write(html_page(record))
