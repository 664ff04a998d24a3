"""Small helpers for the integration suite: waiting, ports, /proc, psql,
config files and Prometheus text.

Everything here is plain functions so the tests read straight down.  The
one rule for waiting: poll a condition with a deadline (wait_until), never
sleep a fixed time and hope.
"""
import os
import re
import socket
import subprocess
import time
import urllib.parse

import pytest

POLL_INTERVAL = 0.02
STOP_TIMEOUT = 15       # shutdown_timeout (5 s) + the master's kill grace (5 s) + slack


# ---- the environment tests/run-integration sets ----

def cofferd_bin():
    path = os.environ.get("COFFER_BIN")
    if not path:
        pytest.fail("COFFER_BIN is not set; run the suite with tests/run-integration")
    return path


def srcdir():
    """The source tree (COFFER_SRCDIR, else the one holding this file)."""
    return os.environ.get("COFFER_SRCDIR") or os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def pg_dsn():
    """The test server's conninfo; fails the test when there is none."""
    dsn = os.environ.get("COFFER_TEST_PG_DSN")
    if not dsn:
        pytest.fail("COFFER_TEST_PG_DSN is not set: the postgres cases need a server "
                    "(run the suite under tests/with-pg)")
    return dsn


def wait_until(fn, timeout, what=None, interval=POLL_INTERVAL):
    """Call fn() until it returns something true and return that value.

    Raises AssertionError after `timeout` seconds.  Exceptions from fn are
    not swallowed: a condition that can never become true should say so at
    once (for example "the daemon exited").
    """
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() >= deadline:
            name = what or getattr(fn, "__name__", "condition")
            raise AssertionError(f"timed out after {timeout} s waiting for {name}")
        time.sleep(interval)


def free_ports(n):
    """n distinct TCP ports that were free a moment ago on 127.0.0.1.

    All sockets stay bound until every port is chosen, so the n differ.
    """
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def connection_refused(port, host="127.0.0.1"):
    """True when a TCP connect to host:port is refused right now."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


# ---- processes, through /proc ----

def proc_stat(pid):
    """(state, ppid, starttime) of pid, or None when there is no such pid.

    The command name may hold spaces and parentheses, so the fields are
    split after its last ')'.
    """
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[19])


def children_of(ppid):
    """{pid: starttime} of the live (non-zombie) children of ppid."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if st and st[1] == ppid and st[0] != "Z":
            found[int(name)] = st[2]
    return found


def process_alive(pid, starttime):
    """True while the process pid that started at starttime still runs.

    A zombie has exited; a pid with another start time is a new process
    that reuses the number.
    """
    st = proc_stat(pid)
    return st is not None and st[0] != "Z" and st[2] == starttime


def unix_socket_inodes(path):
    """Inodes of the Unix sockets bound to path (listener and accepted)."""
    inodes = set()
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            fields = line.split()
            if len(fields) >= 8 and fields[7] == path:
                inodes.add(fields[6])
    return inodes


def holds_socket(pid, inodes):
    """True when process pid has a descriptor on one of these socket inodes."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except (FileNotFoundError, PermissionError):
        return False
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            return True
    return False


# ---- PostgreSQL, through psql ----

def psql(dsn, sql):
    """Run one SQL command with psql; returns its unaligned output."""
    out = subprocess.run(
        ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql],
        capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise AssertionError(f"psql failed ({sql}): {out.stderr.strip()}")
    return out.stdout.strip()


def dsn_with_dbname(dsn, dbname):
    """The libpq conninfo or URI dsn, pointed at database dbname."""
    if dsn.startswith(("postgres://", "postgresql://")):
        parts = urllib.parse.urlsplit(dsn)
        return urllib.parse.urlunsplit(parts._replace(path="/" + dbname))
    rest = re.sub(r"\bdbname\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", "", dsn).strip()
    return f"{rest} dbname={dbname}".strip()


# ---- configuration files ----

def merge_settings(base, overrides):
    """base updated with overrides (section -> key -> value); a value of
    None removes that key.  Neither argument is modified."""
    merged = {section: dict(keys) for section, keys in base.items()}
    for section, keys in (overrides or {}).items():
        target = merged.setdefault(section, {})
        for key, value in keys.items():
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value
    return merged


def render_config(settings):
    """INI text for settings (section -> key -> value), in dict order."""
    lines = []
    for section, keys in settings.items():
        lines.append(f"[{section}]")
        for key, value in keys.items():
            lines.append(f"{key} = {value}")
        lines.append("")
    return "\n".join(lines)


def insert_after_header(text, section, line):
    """text with line inserted right after the [section] header, and the
    1-based number the new line gets."""
    lines = text.split("\n")
    at = lines.index(f"[{section}]") + 1
    lines.insert(at, line)
    return "\n".join(lines), at + 1


# ---- Prometheus text ----

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """[(name, {label: value}, float)] for every sample line of text."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        labels = dict(_LABEL.findall(m.group(2) or ""))
        samples.append((m.group(1), labels, float(m.group(3))))
    return samples


def metric_value(text, name, **labels):
    """The value of the sample name{labels}, or 0 when it is absent
    (Prometheus counters that never moved are often not printed)."""
    for n, lab, value in parse_metrics(text):
        if n == name and lab == labels:
            return value
    return 0.0
