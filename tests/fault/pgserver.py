"""The fault suite's own PostgreSQL server, which it may kill.

The harness's server (tests/with-pg) is shared by every other test, so
the suite starts its own with tests/pgtmp.sh in a directory of its own
and breaks only that one: kill -9 of the postmaster, a stop, a start on
the same directory and socket.

Two things pgtmp.sh's server is not, and the suite needs:

* durable commits.  pgtmp.sh runs with synchronous_commit = off, which
  acknowledges a commit before its WAL leaves PostgreSQL's memory: a
  kill -9 then loses the last commits, and the suite would blame
  cofferd for them.  A role setting outranks the command line, so the
  role gets synchronous_commit = on.  (fsync stays off: a killed process
  loses nothing the kernel already has.)
* a parent that reaps it.  After pg_ctl exits, the postmaster's parent
  is init, and a container's init may leave a dead postmaster a zombie:
  PostgreSQL then reads its lock file as "another server is running"
  and refuses to start.  faultkit makes the test process a child
  subreaper, so the orphaned postmaster and its backends become our
  children, and reap() collects them by pid.
"""
import os
import signal
import subprocess
import tempfile
import time

from helpers import process_alive, proc_stat, psql, srcdir, wait_until

START_TIMEOUT = 90      # initdb and start; crash recovery after a kill -9


def reap(pids, timeout):
    """Wait until every process in pids (a {pid: starttime} map) is gone,
    collecting the ones that are our children."""
    def gone():
        for pid, start in list(pids.items()):
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    del pids[pid]
                    continue
            except ChildProcessError:
                pass
            if not process_alive(pid, start):
                del pids[pid]
        return not pids
    wait_until(gone, timeout, f"processes {sorted(pids)} to exit")


def descendants(pid):
    """{pid: starttime} of pid and every process below it."""
    found = {}
    st = proc_stat(pid)
    if st is None:
        return found
    found[pid] = st[2]
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            s = proc_stat(int(name))
            if s and s[1] == parent and int(name) not in found:
                found[int(name)] = s[2]
                frontier.append(int(name))
    return found


class PgServer:
    """A throw-away PostgreSQL 15 in its own directory (tests/pgtmp.sh)."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="coffer-fault-pg.")
        os.chmod(self.root, 0o755)     # the postgres user must get through
        self.dir = os.path.join(self.root, "pg")
        self.dsn = None

    def _pgtmp(self, cmd, check=True):
        out = subprocess.run(["sh", os.path.join(srcdir(), "tests", "pgtmp.sh"), cmd, self.dir],
                             capture_output=True, text=True, timeout=START_TIMEOUT + 30)
        if check and out.returncode != 0:
            raise AssertionError(f"pgtmp.sh {cmd} failed: {out.stderr.strip()}")
        return out

    def start(self):
        self.dsn = self._pgtmp("start").stdout.strip()
        psql(self.dsn, "ALTER ROLE postgres SET synchronous_commit = on")
        return self.dsn

    def postmaster_pid(self):
        with open(os.path.join(self.dir, "data", "postmaster.pid")) as f:
            return int(f.readline())

    def kill9(self):
        """kill -9 of the postmaster; returns once it and every backend
        (which leave on their own once their postmaster is gone) exit."""
        pid = self.postmaster_pid()
        procs = descendants(pid)
        os.kill(pid, signal.SIGKILL)
        reap(procs, 30)

    def stop(self):
        """A fast shutdown (pg_ctl stop -m fast), reaped."""
        procs = descendants(self.postmaster_pid())
        self._pgtmp("stop")
        reap(procs, 30)

    def start_again(self):
        """Start on the same directory and socket; after a kill -9 this
        is crash recovery.  Returns once the server takes connections."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            self._clear_stale_lock()
            out = self._pgtmp("restart", check=False)
            if out.returncode == 0:
                return
            if time.monotonic() >= deadline:
                raise AssertionError(f"PostgreSQL did not start again: {out.stderr.strip()}")
            time.sleep(0.2)

    def _clear_stale_lock(self):
        """The postmaster the suite killed may linger as a zombie that is
        not ours to reap (reaped counts it gone, but its pid still exists):
        PostgreSQL then reads the lock file as "another server is running".
        The server it names is dead, so the lock file goes."""
        path = os.path.join(self.dir, "data", "postmaster.pid")
        try:
            with open(path) as f:
                pid = int(f.readline())
        except (OSError, ValueError):
            return
        st = proc_stat(pid)
        if st is None or st[0] == "Z":
            os.unlink(path)

    def close(self):
        try:
            if os.path.exists(os.path.join(self.dir, "data", "postmaster.pid")):
                self.stop()
        finally:
            subprocess.run(["rm", "-rf", self.root], check=False)
