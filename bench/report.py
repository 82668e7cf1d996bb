#!/usr/bin/env python3
"""Helpers for bench/run: parse tool output, read /proc, write the report.

Subcommands (all used by bench/run; none sends traffic):
  cpu PID...            CPU seconds of the process trees rooted at PID...
  mem PID...            "rss_kib pss_kib nprocs" summed over the trees
  tree PID...           descendants of PID..., one per line (for cleanup)
  add JSONL ...         append one measurement record (see cmd_add)
  facts OUT ...         write machine facts as JSON
  build DIR             results.json, results.md and plots from DIR/runs.jsonl
"""
import argparse
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
from datetime import datetime, timezone

SUBJECTS = ["direct", "socat", "ssh-r", "ssh-r-gcm", "ssh-r-tuned", "ferry", "ferry-dpdk",
            "ssh-l", "ssh-l-tuned", "ferry-l"]
# Agent to agent (-L): these subjects measure only L_WORKLOADS (bench/run has
# the same two lists) and are compared with L_BASES, in a table of their own;
# every other subject with R_BASES.
L_SUBJECTS = ["ssh-l", "ssh-l-tuned", "ferry-l"]
L_WORKLOADS = ["bulk", "rr", "connect"]
R_BASES = ["ssh-r", "ssh-r-tuned"]
L_BASES = ["ssh-l", "ssh-l-tuned"]
BASES = R_BASES + L_BASES

# workload -> [(variant, metric, label, unit, higher_is_better)]
METRICS = {
    "bulk": [
        ("1-up", "gbps", "1 stream, client->service", "Gbit/s", True),
        ("1-down", "gbps", "1 stream, service->client (-R)", "Gbit/s", True),
        ("8-up", "gbps", "8 streams, client->service", "Gbit/s", True),
        ("8-down", "gbps", "8 streams, service->client (-R)", "Gbit/s", True),
    ],
    "rr": [
        ("64", "rps", "64 B round trips/s", "1/s", True),
        ("64", "p50_us", "64 B p50", "us", False),
        ("64", "p99_us", "64 B p99", "us", False),
        ("64", "p999_us", "64 B p99.9", "us", False),
        ("4096", "rps", "4 KiB round trips/s", "1/s", True),
        ("4096", "p50_us", "4 KiB p50", "us", False),
        ("4096", "p99_us", "4 KiB p99", "us", False),
        ("4096", "p999_us", "4 KiB p99.9", "us", False),
    ],
    "connect": [
        ("64", "conns_per_s", "connections/s", "1/s", True),
        ("64", "p50_us", "connect+echo+close p50", "us", False),
        ("64", "p99_us", "connect+echo+close p99", "us", False),
    ],
    "http": [
        ("1k", "rps", "requests/s", "1/s", True),
        ("1k", "p50_us", "p50", "us", False),
        ("1k", "p99_us", "p99", "us", False),
    ],
    "streams": [
        ("idle", "relay_kib_per_stream", "relay RSS per stream", "KiB", False),
        ("idle", "agent_kib_per_stream", "agent RSS per stream", "KiB", False),
        ("idle", "relay_pss_kib_per_stream", "relay PSS per stream", "KiB", False),
        ("idle", "agent_pss_kib_per_stream", "agent PSS per stream", "KiB", False),
        ("idle", "open_per_s", "streams opened/s (64 in flight)", "1/s", True),
    ],
    "cost": [
        ("1-up", "relay_cpu_s_per_gb", "relay CPU, 1 stream up", "s/GB", False),
        ("1-up", "agent_cpu_s_per_gb", "agent CPU, 1 stream up", "s/GB", False),
        ("1-up", "total_cpu_s_per_gb", "relay+agent CPU, 1 stream up", "s/GB", False),
        ("1-down", "relay_cpu_s_per_gb", "relay CPU, 1 stream down", "s/GB", False),
        ("1-down", "agent_cpu_s_per_gb", "agent CPU, 1 stream down", "s/GB", False),
        ("1-down", "total_cpu_s_per_gb", "relay+agent CPU, 1 stream down", "s/GB", False),
    ],
}

# Metrics that do not exist for a subject by design (no relay or agent
# process).  Everything else must be a measured, non-zero number.
NOT_APPLICABLE = {
    ("direct", "cost"): {"relay_cpu_s_per_gb", "agent_cpu_s_per_gb", "total_cpu_s_per_gb"},
    ("direct", "streams"): {"relay_kib_per_stream", "agent_kib_per_stream",
                            "relay_pss_kib_per_stream", "agent_pss_kib_per_stream"},
    ("socat", "cost"): {"agent_cpu_s_per_gb"},
    ("socat", "streams"): {"agent_kib_per_stream", "agent_pss_kib_per_stream"},
}


# A measurement where more than this share of attempts failed is a failed
# measurement, not a slow one: its rate would hide that the path is broken.
MAX_ERROR_SHARE = 0.01


def not_applicable(subject, workload):
    return NOT_APPLICABLE.get((subject, workload), set())


def measured(subject, workload):
    """False for a workload a subject does not take part in (no row at all)."""
    return subject not in L_SUBJECTS or workload in L_WORKLOADS


# ---------------------------------------------------------------- /proc

def _stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    # rest[0] is field 3 (state); ppid is field 4, utime..cstime 14..17
    return {"ppid": int(rest[1]), "ticks": sum(int(x) for x in rest[11:15])}


def _children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        st = _stat(d)
        if st:
            kids.setdefault(st["ppid"], []).append(int(d))
    return kids


def _trees(roots):
    kids = _children_map()
    seen, todo = [], [int(r) for r in roots]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.append(p)
        todo.extend(kids.get(p, []))
    return seen


def cmd_cpu(a):
    # utime+stime+cutime+cstime of every live process in the trees: a child
    # that ended and was reaped is in its parent's c*time, counted once.
    ticks = 0
    for p in _trees(a.pids):
        st = _stat(p)
        if st:
            ticks += st["ticks"]
    print(f"{ticks / os.sysconf('SC_CLK_TCK'):.3f}")


def _kib(path, key):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cmd_mem(a):
    rss = pss = n = 0
    for p in _trees(a.pids):
        r = _kib(f"/proc/{p}/status", "VmRSS:")
        if r:
            n += 1
            rss += r
            pss += _kib(f"/proc/{p}/smaps_rollup", "Pss:")
    print(rss, pss, n)


def cmd_tree(a):
    roots = {int(p) for p in a.pids}
    for p in _trees(a.pids):
        if p not in roots:
            print(p)


# ---------------------------------------------------------------- parsing

def parse_iperf(path):
    with open(path) as f:
        d = json.load(f)
    if "error" in d:
        raise ValueError("iperf3: " + d["error"])
    s = d["end"]["sum_received"]
    sent = d["end"].get("sum_sent", {})
    return {
        "gbps": s["bits_per_second"] / 1e9,
        "bytes": s["bytes"],
        "seconds": s["seconds"],
        "retransmits": sent.get("retransmits", 0),
    }


_UNIT = {"us": 1.0, "ms": 1e3, "s": 1e6}


def _lat_us(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not m:
        raise ValueError("wrk: cannot read latency " + text)
    return float(m.group(1)) * _UNIT[m.group(2)]


def parse_wrk(path):
    with open(path) as f:
        t = f.read()
    out = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", t)
    if not m:
        raise ValueError("wrk printed no Requests/sec")
    out["rps"] = float(m.group(1))
    for q, key in (("50", "p50_us"), ("75", "p75_us"), ("90", "p90_us"), ("99", "p99_us")):
        m = re.search(r"^\s+%s%%\s+(\S+)" % q, t, re.M)
        if not m:
            raise ValueError("wrk printed no %s%% latency (run with --latency)" % q)
        out[key] = _lat_us(m.group(1))
    m = re.search(r"(\d+) requests in", t)
    out["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", t)
    if m:
        errs = [int(x) for x in re.findall(r"\d+", m.group(1))]
        out["socket_errors"] = sum(errs)
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
    if m:
        out["non_2xx"] = int(m.group(1))
    return out


def parse_fy(path):
    with open(path) as f:
        lines = [l for l in f.read().splitlines() if l.startswith("{")]
    if not lines:
        raise ValueError("fy-bench printed no JSON")
    return json.loads(lines[-1])


# ---------------------------------------------------------------- records

def _num(v):
    try:
        x = float(v)
    except ValueError:
        return v
    return int(x) if x.is_integer() and "." not in v else x


def cmd_add(a):
    """Parses the raw output, adds key=value extras, derives per-workload
    metrics, appends one JSON line and prints a one-line summary."""
    rec = {
        "subject": a.subject, "workload": a.workload, "variant": a.variant,
        "run": a.run, "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "ok": True, "metrics": {}, "raw": {},
    }
    with open("/proc/loadavg") as f:
        rec["loadavg1"] = float(f.read().split()[0])  # others' work shows up here
    na = sorted(not_applicable(a.subject, a.workload))
    if na:
        rec["not_applicable"] = na
    extra = {}
    for kv in a.kv:
        k, _, v = kv.partition("=")
        extra[k] = _num(v)
    try:
        if a.error:
            raise ValueError(a.error)
        raw = {}
        if a.raw_kind == "iperf":
            raw = parse_iperf(a.raw)
        elif a.raw_kind == "wrk":
            raw = parse_wrk(a.raw)
        elif a.raw_kind == "fy":
            raw = parse_fy(a.raw)
        raw.update(extra)
        rec["raw"] = raw
        rec["metrics"] = derive(a.workload, a.subject, raw)
        if a.raw:
            rec["raw_file"] = os.path.relpath(a.raw, os.path.dirname(os.path.abspath(a.jsonl)))
    except (ValueError, KeyError, OSError, json.JSONDecodeError) as e:
        rec["ok"] = False
        rec["error"] = str(e)
        rec["raw"] = extra
        err = (a.raw or "") + ".err"
        if a.raw and os.path.exists(err):
            with open(err, errors="replace") as f:
                tail = f.read()[-300:].strip()
            if tail:
                rec["error"] += " | stderr: " + tail
    with open(a.jsonl, "a") as f:
        f.write(json.dumps(rec, sort_keys=True) + "\n")
    print(summary_line(rec))
    return 0 if rec["ok"] else 1


def derive(workload, subject, raw):
    na = not_applicable(subject, workload)
    m = {}
    if workload == "bulk":
        m["gbps"] = raw["gbps"]
    elif workload == "cost":
        gb = raw["bytes"] / 1e9
        if gb <= 0:
            raise ValueError("no bytes moved")
        rel, agt = raw.get("relay_cpu_s", 0.0), raw.get("agent_cpu_s", 0.0)
        if "relay_cpu_s_per_gb" not in na:
            m["relay_cpu_s_per_gb"] = rel / gb
        if "agent_cpu_s_per_gb" not in na:
            m["agent_cpu_s_per_gb"] = agt / gb
        if "total_cpu_s_per_gb" not in na:
            m["total_cpu_s_per_gb"] = (rel + agt) / gb
        m["gbps"] = raw["gbps"]
    elif workload == "rr":
        if raw.get("errors") or not raw.get("count"):
            raise ValueError("rr: %s errors, %s round trips: %s"
                             % (raw.get("errors"), raw.get("count"), raw.get("error")))
        for k in ("rps", "p50_us", "p99_us", "p999_us"):
            m[k] = raw[k]
    elif workload == "connect":
        if not raw.get("count"):
            raise ValueError("connect: no connection completed: %s" % raw.get("error"))
        err, tries = raw.get("errors", 0), raw.get("errors", 0) + raw["count"]
        if err > MAX_ERROR_SHARE * tries:
            raise ValueError("connect: %d of %d connections failed (%s)"
                             % (err, tries, raw.get("error")))
        for k in ("conns_per_s", "p50_us", "p99_us"):
            m[k] = raw[k]
        m["errors"] = err
    elif workload == "http":
        err = raw.get("socket_errors", 0) + raw.get("non_2xx", 0)
        if err > MAX_ERROR_SHARE * max(raw.get("requests", 0), 1):
            raise ValueError("http: %d errors for %d requests" % (err, raw.get("requests", 0)))
        if err:
            m["errors"] = err  # a few timeouts under load are reported, not hidden
        for k in ("rps", "p50_us", "p99_us"):
            m[k] = raw[k]
    elif workload == "streams":
        n = raw.get("established", 0)
        if n <= 0 or raw.get("failed") or raw.get("dropped"):
            raise ValueError("streams: %s of %s opened, %s failed, %s dropped: %s"
                             % (n, raw.get("conns"), raw.get("failed"), raw.get("dropped"),
                                raw.get("error")))
        if "relay_kib_per_stream" not in na:
            m["relay_kib_per_stream"] = (raw["relay_rss_after"] - raw["relay_rss_before"]) / n
            m["relay_pss_kib_per_stream"] = (raw["relay_pss_after"] - raw["relay_pss_before"]) / n
        if "agent_kib_per_stream" not in na:
            m["agent_kib_per_stream"] = (raw["agent_rss_after"] - raw["agent_rss_before"]) / n
            m["agent_pss_kib_per_stream"] = (raw["agent_pss_after"] - raw["agent_pss_before"]) / n
        m["open_per_s"] = raw["open_per_s"]
        m["streams"] = n
    return m


def fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1000:
        return "%.0f" % v
    if a >= 100:
        return "%.1f" % v
    if a >= 10:
        return "%.2f" % v
    return "%.3f" % v


def summary_line(rec):
    if not rec["ok"]:
        return "FAILED: " + rec["error"]
    m = rec["metrics"]
    w = rec["workload"]
    if w == "bulk":
        s = "%s Gbit/s" % fmt(m["gbps"])
        r = rec["raw"]
        if "relay_cpu_s" in r:
            s += " (relay %.2f s CPU, agent %.2f s CPU)" % (r["relay_cpu_s"], r["agent_cpu_s"])
        return s
    if w == "cost":
        parts = ["%s %s s/GB" % (k.split("_")[0], fmt(v)) for k, v in m.items()
                 if k.endswith("_per_gb")]
        return ", ".join(parts) or "n/a (no tunnel process)"
    if w == "rr":
        return "%s rt/s, p50 %s us, p99 %s us, p99.9 %s us" % (
            fmt(m["rps"]), fmt(m["p50_us"]), fmt(m["p99_us"]), fmt(m["p999_us"]))
    if w == "connect":
        return "%s conns/s, p50 %s us, p99 %s us%s" % (
            fmt(m["conns_per_s"]), fmt(m["p50_us"]), fmt(m["p99_us"]),
            ", %d errors" % m["errors"] if m.get("errors") else "")
    if w == "http":
        return "%s req/s, p50 %s us, p99 %s us%s" % (
            fmt(m["rps"]), fmt(m["p50_us"]), fmt(m["p99_us"]),
            ", %d errors" % m["errors"] if m.get("errors") else "")
    if w == "streams":
        s = "%d streams, %s opened/s" % (m["streams"], fmt(m["open_per_s"]))
        if "relay_kib_per_stream" in m:
            s += ", relay %s KiB/stream" % fmt(m["relay_kib_per_stream"])
        if "agent_kib_per_stream" in m:
            s += ", agent %s KiB/stream" % fmt(m["agent_kib_per_stream"])
        return s
    return json.dumps(m)


# ---------------------------------------------------------------- facts

def _cmd(argv):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (p.stdout + p.stderr).strip().splitlines()[0] if (p.stdout + p.stderr).strip() else ""
    except (OSError, subprocess.TimeoutExpired):
        return ""


def cmd_facts(a):
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = _kib("/proc/meminfo", "MemTotal:")
    commit = _cmd(["git", "-C", a.root, "rev-parse", "HEAD"])
    dirty = _cmd(["git", "-C", a.root, "--no-optional-locks", "status", "--porcelain",
                  "--untracked-files=no"])
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    facts = {
        "timestamp_utc": a.stamp,
        "hostname": platform.node(),
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "mem_total_mib": mem // 1024,
        "kernel": platform.release(),
        "os": _cmd(["sh", "-c", ". /etc/os-release && echo \"$PRETTY_NAME\""]),
        "openssh": _cmd(["ssh", "-V"]),
        "openssl": _cmd(["openssl", "version"]),
        "iperf3": _cmd(["iperf3", "--version"]),
        "wrk": _cmd(["wrk", "-v"]),
        "socat": _cmd(["sh", "-c", "socat -V | grep 'socat version'"]),
        "cc": _cmd(["cc", "--version"]),
        "ferry_commit": commit,
        "ferry_tree_dirty": bool(dirty),
        "loadavg_start": load,
    }
    for kv in a.kv:
        k, _, v = kv.partition("=")
        try:
            facts[k] = json.loads(v)
        except json.JSONDecodeError:
            facts[k] = v
    with open(a.out, "w") as f:
        json.dump(facts, f, indent=2, sort_keys=True)
        f.write("\n")


# ---------------------------------------------------------------- report

def load_runs(path):
    recs = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if line.strip():
                    recs.append(json.loads(line))
    return recs


def summarize(recs, subjects, workloads):
    """One row per (workload, variant, metric, subject) with pairwise ratios."""
    by = {}
    for r in recs:
        if r["ok"]:
            for k, v in r["metrics"].items():
                by.setdefault((r["workload"], r["variant"], k, r["subject"]), {})[r["run"]] = v
    failed = {}
    for r in recs:
        if not r["ok"]:
            failed.setdefault((r["workload"], r["variant"], r["subject"]), []).append(
                "run %s: %s" % (r["run"], r["error"]))
    rows = []
    for w in workloads:
        for variant, metric, label, unit, hib in METRICS[w]:
            for s in subjects:
                if not measured(s, w):
                    continue
                vals = by.get((w, variant, metric, s), {})
                row = {"workload": w, "variant": variant, "metric": metric, "label": label,
                       "unit": unit, "higher_is_better": hib, "subject": s,
                       "values": [vals[i] for i in sorted(vals)],
                       "runs": sorted(vals)}
                if metric in not_applicable(s, w):
                    row["not_applicable"] = True
                if (w, variant, s) in failed:
                    row["failures"] = failed[(w, variant, s)]
                if vals:
                    v = list(vals.values())
                    row.update(median=statistics.median(v), min=min(v), max=max(v))
                for b in BASES:
                    base = by.get((w, variant, metric, b), {})
                    pairs = [vals[i] / base[i] for i in vals if i in base and base[i]]
                    if pairs and b in subjects:
                        row["ratio_vs_" + b.replace("-", "_")] = statistics.median(pairs)
                        row["pairs_vs_" + b.replace("-", "_")] = len(pairs)
                rows.append(row)
    return rows


def _ratio_cell(row, base):
    if row["subject"] == base:
        return "base"
    v = row.get("ratio_vs_" + base.replace("-", "_"))
    return "%.2fx" % v if v is not None else "-"


def _table(rows, bases):
    out = []
    out.append("| workload | metric | subject | median | min-max | %s | runs |"
               % " | ".join("vs " + b for b in bases))
    out.append("|---|---|---|---:|---:|%s---:|" % ("---:|" * len(bases)))
    for r in rows:
        arrow = "higher is better" if r["higher_is_better"] else "lower is better"
        metric = "%s (%s, %s)" % (r["label"], r["unit"], arrow)
        if r.get("not_applicable"):
            med, rng = "n/a", "no such process"
        elif "median" in r:
            med = fmt(r["median"])
            rng = "%s-%s" % (fmt(r["min"]), fmt(r["max"]))
            if r.get("failures"):
                rng += " (%d failed)" % len(r["failures"])
        elif r.get("failures"):
            med, rng = "FAILED", r["failures"][0][:90].replace("|", "/")
        else:
            med, rng = "-", "not run"
        if r.get("not_applicable"):
            ratios = ["-"] * len(bases)
        else:
            ratios = [_ratio_cell(r, b) for b in bases]
        out.append("| %s | %s | %s | %s | %s | %s | %d |" % (
            r["workload"], metric, r["subject"], med, rng, " | ".join(ratios), len(r["values"])))
    return "\n".join(out)


def markdown(facts, rows, subjects):
    """The main table (public ports, -R: vs ssh-r and ssh-r-tuned) and, when
    an agent-to-agent subject ran, the -L table (vs ssh-l and ssh-l-tuned,
    with direct as the ceiling when it ran)."""
    parts = []
    if any(s not in L_SUBJECTS for s in subjects):
        parts.append(_table([r for r in rows if r["subject"] not in L_SUBJECTS], R_BASES))
    if any(s in L_SUBJECTS for s in subjects):
        lrows = [r for r in rows if r["subject"] in L_SUBJECTS
                 or (r["subject"] == "direct" and r["workload"] in L_WORKLOADS)]
        parts.append("### Agent to agent (-L): ferry-l against ssh -J ... -L\n\n"
                     "`vs ssh-l` = median over run i of subject_i / ssh-l_i (the same run, "
                     "back to back); %s only.\n\n%s"
                     % (", ".join(L_WORKLOADS), _table(lrows, L_BASES)))
    return "\n\n".join(parts)


def header_md(facts):
    f = facts
    lines = [
        "# ferry bench results, %s" % f.get("timestamp_utc", ""),
        "",
        "- command: `%s`" % f.get("command", ""),
        "- machine: %s, %s cores, %s MiB, kernel %s, %s" % (
            f.get("cpu_model"), f.get("cores"), f.get("mem_total_mib"), f.get("kernel"),
            f.get("os")),
        "- %s; %s; ferry %s%s" % (f.get("openssh"), f.get("openssl"),
                                  (f.get("ferry_commit") or "?")[:12],
                                  " (dirty tree)" if f.get("ferry_tree_dirty") else ""),
        "- topology %s, %s run(s) per subject, %s s per measurement, %s idle streams "
        "(%s run(s)); ssh-*-tuned cipher %s; load average at start %s, at the end %s" % (
            f.get("topology"), f.get("runs"), f.get("duration_s"), f.get("streams"),
            f.get("streams_runs", f.get("runs")),
            f.get("tuned_cipher"), " ".join(f.get("loadavg_start", [])),
            " ".join(f.get("loadavg_end", [])) or "?"),
    ]
    for s, why in sorted((f.get("skipped_subjects") or {}).items()):
        lines.append("- %s skipped: %s" % (s, why))
    if "ferry-dpdk" in (f.get("subjects") or []):
        lines.append("- ferry-dpdk: ferry-relay --backend dpdk (DPDK %s), 1 worker on 1 lcore, "
                     "net_af_packet on a veth in the relay ns (EAL `%s`): a functional path "
                     "(every frame is copied through the kernel), not a NIC's speed; its relay "
                     "CPU includes idle polling" % (f.get("dpdk_version"), f.get("dpdk_eal")))
        cap = f.get("dpdk_max_streams")
        if ("streams" in (f.get("workloads") or []) and isinstance(cap, int)
                and cap < (f.get("streams") or 0)):
            lines.append("- ferry-dpdk held %d idle streams, not %s: relay/net has 4,096 "
                         "connection slots per lcore (SYNs beyond are dropped); its per-stream "
                         "figures are over %d streams" % (cap, f.get("streams"), cap))
    lsub = [s for s in (f.get("subjects") or []) if s in L_SUBJECTS]
    if lsub:
        what = []
        if any(s.startswith("ssh-l") for s in lsub):
            what.append("%s = `ssh -J jump -L PORT:127.0.0.1:TARGET edge`, the edge's sshd "
                        "published on the jump host by `ssh -R` from the edge"
                        % "/".join(s for s in lsub if s.startswith("ssh-l")))
        if "ferry-l" in lsub:
            what.append("ferry-l = ferry-agent -L through ferry-relay to an agent with --allow")
        lines.append("- agent to agent (-L): the load tools connect to local ports on the "
                     "client side; %s; %s only, compared in their own table"
                     % ("; ".join(what), ", ".join(L_WORKLOADS)))
    idle = f.get("idle_cpu_cores") or {}
    if idle:
        parts = []
        for s in f.get("subjects", []):
            if s in idle:
                v = idle[s]
                parts.append("%s relay %s / agent %s" % (
                    s, "n/a" if v.get("relay") is None else "%.3f" % v["relay"],
                    "n/a" if v.get("agent") is None else "%.3f" % v["agent"]))
        lines.append("- idle CPU before measuring (cores, no traffic): " + "; ".join(parts))
    lines += [
        "",
        "median and min-max over runs; `vs X` = median over run i of subject_i / X_i, "
        "where subject and X ran back to back in the same run (A B A B). "
        "A ratio above 1 is better for higher-is-better metrics, below 1 for "
        "lower-is-better ones.",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- plots

def gnuplot_terminal():
    try:
        p = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True,
                           timeout=20)
        if "pngcairo" in p.stdout + p.stderr:
            return "pngcairo size 1000,600 font 'sans,10'"
    except (OSError, subprocess.TimeoutExpired):
        pass
    return "png size 1000,600"


# a valid PNG that says so, when every run of every subject failed or is n/a
# (or no subject of the run takes part in the workload: -L subjects only)
NO_DATA = ("set title '%s' noenhanced\nset xrange [0:1]\nset yrange [0:1]\n"
           "unset xtics\nunset ytics\nset label 1 '%s' "
           "at graph 0.5,0.5 center\nplot 2 notitle\n")
NO_DATA_WHY = "no data: every run failed or is n/a"
NO_SUBJECT_WHY = "not measured: no subject of this run takes part in this workload"


def _bars(d, name, title, ylabel, groups, subjects, rows_for):
    """Clustered bars: one cluster per group, one bar per subject, with
    min-max error bars.  rows_for(group, subject) -> row or None."""
    dat = os.path.join(d, "plots", name + ".dat")
    with open(dat, "w") as f:
        f.write("# group " + " ".join("%s_med %s_min %s_max" % (s, s, s) for s in subjects) + "\n")
        for g in groups:
            cols = []
            for s in subjects:
                r = rows_for(g, s)
                if r and "median" in r:
                    cols += ["%g" % r["median"], "%g" % r["min"], "%g" % r["max"]]
                else:
                    cols += ["?", "?", "?"]
            f.write('"%s" %s\n' % (g, " ".join(cols)))
    plots = []
    valid = any(r and "median" in r for g in groups for s in subjects for r in [rows_for(g, s)])
    for i, s in enumerate(subjects):
        c = 2 + 3 * i
        plots.append("'%s' using %d:%d:%d:xtic(1) title '%s'" % (dat, c, c + 1, c + 2, s))
    gp = os.path.join(d, "plots", name + ".gp")
    with open(gp, "w") as f:
        f.write("set terminal %s\nset output '%s'\n" % (gnuplot_terminal(),
                                                       os.path.join(d, name + ".png")))
        if not valid:
            f.write(NO_DATA % (title, NO_DATA_WHY if subjects else NO_SUBJECT_WHY))
            return gp
        f.write("set title '%s' noenhanced\nset ylabel '%s'\nset yrange [0:*]\n" % (title, ylabel))
        f.write("set datafile missing '?'\nset style data histogram\n")
        f.write("set style histogram errorbars gap 2 lw 1\nset style fill solid 0.8 border -1\n")
        f.write("set key outside right top noenhanced\nset grid ytics\nset xtics noenhanced\n")
        f.write("plot " + ", \\\n     ".join(plots) + "\n")
    return gp


def _cdf(d, name, title, series):
    gp = os.path.join(d, "plots", name + ".gp")
    plots = []
    for s, vals in series:
        vals = sorted(vals)
        dat = os.path.join(d, "plots", "%s_%s.dat" % (name, s))
        with open(dat, "w") as f:
            n = len(vals)
            for i, v in enumerate(vals):
                f.write("%g %g\n" % (v, (i + 1) / n))
        plots.append("'%s' using 1:2 with lines lw 2 title '%s'" % (dat, s))
    with open(gp, "w") as f:
        f.write("set terminal %s\nset output '%s'\n" % (gnuplot_terminal(),
                                                       os.path.join(d, name + ".png")))
        f.write("set title '%s' noenhanced\nset xlabel 'round-trip latency (us, log scale)'\n"
                "set ylabel 'fraction of round trips'\nset logscale x\nset yrange [0:1]\n"
                "set key bottom right noenhanced\nset grid\n" % title)
        if plots:
            f.write("plot " + ", \\\n     ".join(plots) + "\n")
        else:
            f.write("unset logscale x\n" + NO_DATA % (title, NO_DATA_WHY))
    return gp


def plots(d, rows, recs, subjects, workloads):
    os.makedirs(os.path.join(d, "plots"), exist_ok=True)
    idx = {(r["workload"], r["variant"], r["metric"], r["subject"]): r for r in rows}

    def subjects_of(w):  # the -L subjects are in the bulk, rr and connect plots only
        return [x for x in subjects if measured(x, w)]
    scripts = []
    if "bulk" in workloads:
        scripts.append(_bars(d, "bulk", "bulk throughput (iperf3), median and min-max",
                             "Gbit/s", ["1-up", "1-down", "8-up", "8-down"], subjects_of("bulk"),
                             lambda g, s: idx.get(("bulk", g, "gbps", s))))
    if "connect" in workloads:
        scripts.append(_bars(d, "connect", "new connections through the tunnel",
                             "connections/s", ["connect+echo+close"], subjects_of("connect"),
                             lambda g, s: idx.get(("connect", "64", "conns_per_s", s))))
    if "http" in workloads:
        scripts.append(_bars(d, "http", "HTTP (wrk, 1 KiB keep-alive)", "requests/s",
                             ["requests/s"], subjects_of("http"),
                             lambda g, s: idx.get(("http", "1k", "rps", s))))
    if "cost" in workloads:
        m = {"relay 1-up": ("1-up", "relay_cpu_s_per_gb"),
             "agent 1-up": ("1-up", "agent_cpu_s_per_gb"),
             "relay 1-down": ("1-down", "relay_cpu_s_per_gb"),
             "agent 1-down": ("1-down", "agent_cpu_s_per_gb")}
        scripts.append(_bars(d, "cost", "CPU seconds per GB moved", "CPU s / GB", list(m),
                             subjects_of("cost"), lambda g, s: idx.get(("cost", m[g][0], m[g][1], s))))
    if "streams" in workloads:
        m = {"relay": "relay_kib_per_stream", "agent": "agent_kib_per_stream"}
        scripts.append(_bars(d, "streams", "RSS per idle stream (VmRSS delta)", "KiB",
                             list(m), subjects_of("streams"),
                             lambda g, s: idx.get(("streams", "idle", m[g], s))))
    if "rr" in workloads:
        for size in ("64", "4096"):
            series = []
            for s in subjects_of("rr"):
                vals = []
                for r in recs:
                    if (r["ok"] and r["workload"] == "rr" and r["variant"] == size
                            and r["subject"] == s and r["raw"].get("samples_file")):
                        p = os.path.join(d, r["raw"]["samples_file"])
                        if os.path.exists(p):
                            with open(p) as f:
                                vals += [float(x) for x in f if x.strip()]
                if vals:
                    series.append((s, vals))
            scripts.append(_cdf(d, "rr_cdf_%s" % size,
                                "request/response latency CDF, %s B messages, all runs" % size,
                                series))
    pngs = []
    for gp in scripts:
        p = subprocess.run(["gnuplot", gp], capture_output=True, text=True, timeout=60)
        png = os.path.join(d, os.path.basename(gp)[:-3] + ".png")
        if p.returncode != 0 or not os.path.exists(png):
            raise RuntimeError("gnuplot %s failed: %s" % (gp, p.stderr.strip()))
        pngs.append(os.path.basename(png))
    return pngs


def cmd_build(a):
    d = a.dir
    with open(os.path.join(d, "facts.json")) as f:
        facts = json.load(f)
    recs = load_runs(os.path.join(d, "runs.jsonl"))
    subjects = facts["subjects"]
    workloads = facts["workloads"]
    with open("/proc/loadavg") as f:
        facts["loadavg_end"] = f.read().split()[:3]
    rows = summarize(recs, subjects, workloads)
    plot_error = None
    try:
        pngs = plots(d, rows, recs, subjects, workloads)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        pngs, plot_error = [], str(e)
    result = {"facts": facts, "runs": recs, "summary": rows, "plots": pngs,
              "failures": [r for r in recs if not r["ok"]]}
    if plot_error:
        result["plot_error"] = plot_error
    with open(os.path.join(d, "results.json"), "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
        f.write("\n")
    table = markdown(facts, rows, subjects)
    md = header_md(facts) + table + "\n\nplots: " + ", ".join(
        "[%s](%s)" % (p, p) for p in pngs) + "\n"
    if result["failures"]:
        md += "\n## Failures\n\n" + "\n".join(
            "- %s %s %s run %s: %s" % (r["subject"], r["workload"], r["variant"], r["run"],
                                       r["error"]) for r in result["failures"]) + "\n"
    with open(os.path.join(d, "results.md"), "w") as f:
        f.write(md)
    print(table)
    if plot_error:
        print("report.py: plots failed: " + plot_error, file=sys.stderr)
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("cpu", "mem", "tree"):
        p = sub.add_parser(name)
        p.add_argument("pids", nargs="*")
    p = sub.add_parser("add")
    p.add_argument("jsonl")
    p.add_argument("--subject", required=True)
    p.add_argument("--workload", required=True)
    p.add_argument("--variant", required=True)
    p.add_argument("--run", type=int, required=True)
    p.add_argument("--raw")
    p.add_argument("--raw-kind", choices=["iperf", "wrk", "fy", "none"], default="none")
    p.add_argument("--error")
    p = sub.add_parser("facts")
    p.add_argument("out")
    p.add_argument("--root", required=True)
    p.add_argument("--stamp", required=True)
    p = sub.add_parser("build")
    p.add_argument("dir")
    # key=value extras may come anywhere after the subcommand
    a, rest = ap.parse_known_args()
    bad = [x for x in rest if x.startswith("-") or "=" not in x]
    if bad or (rest and a.cmd not in ("add", "facts")):
        ap.error("unrecognized arguments: " + " ".join(bad or rest))
    a.kv = rest
    return {"cpu": cmd_cpu, "mem": cmd_mem, "tree": cmd_tree, "add": cmd_add,
            "facts": cmd_facts, "build": cmd_build}[a.cmd](a) or 0


if __name__ == "__main__":
    sys.exit(main())
