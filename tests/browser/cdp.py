"""
cdp.py -- a small Chrome DevTools Protocol client for the browser tests.

Chromium is started with --remote-debugging-pipe: the protocol runs over
two pipes (the browser reads commands on its fd 3 and writes answers and
events on its fd 4), each message a JSON text ended by a NUL byte.  So
there is no port to pick, no WebSocket library to install and nothing
listening that another process could talk to.

A reader thread splits the stream: answers wake the caller waiting for
that id, events go to the page's list (console errors, exceptions,
responses), which the tests read.  Every wait has a deadline.
"""
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import base64


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class CDPError(Exception):
    pass


class Browser:
    def __init__(self, binary):
        self.profile = tempfile.mkdtemp(prefix="coffer-chromium-")
        to_child_r, self._w = os.pipe()
        self._r, from_child_w = os.pipe()
        args = [binary, "--headless=new", "--remote-debugging-pipe",
                "--user-data-dir=" + self.profile, "--no-first-run",
                "--no-default-browser-check", "--disable-gpu",
                "--disable-extensions", "--disable-background-networking",
                "--disable-sync", "--disable-dev-shm-usage", "--mute-audio",
                "--hide-scrollbars", "--no-sandbox", "about:blank"]
        # --no-sandbox: it only ever visits the cofferd under test, and
        # neither root nor a container without user namespaces can sandbox.

        def fds():
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)
        self.proc = subprocess.Popen(args, preexec_fn=fds, pass_fds=(3, 4),
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(from_child_w)
        self._next = 0
        self._wlock = threading.Lock()
        self._answers = {}
        self._cond = threading.Condition()
        self.events = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = os.read(self._r, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._closed = True
                    self._cond.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                with self._cond:
                    if "id" in msg:
                        self._answers[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                    self._cond.notify_all()

    def _write(self, method, params, session):
        with self._cond:
            self._next += 1
            mid = self._next
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        data = json.dumps(msg).encode() + b"\0"
        with self._wlock:
            while data:
                data = data[os.write(self._w, data):]
        return mid

    def send(self, method, params=None, session=None, timeout=30):
        mid = self._write(method, params, session)
        deadline = time.monotonic() + timeout
        with self._cond:
            while mid not in self._answers:
                left = deadline - time.monotonic()
                if left <= 0 or getattr(self, "_closed", False):
                    raise CDPError("no answer to %s" % method)
                self._cond.wait(left)
            answer = self._answers.pop(mid)
        if "error" in answer:
            raise CDPError("%s: %s" % (method, answer["error"].get("message")))
        return answer.get("result", {})

    def new_page(self, width, height=900):
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        return Page(self, session, width, height)

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except (CDPError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._w)
        shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    def __init__(self, browser, session, width, height):
        self.b = browser
        self.session = session
        self.seen = 0           # events of this session already looked at
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.send(domain + ".enable")
        self.resize(width, height)

    def send(self, method, params=None, timeout=30):
        return self.b.send(method, params, self.session, timeout)

    def resize(self, width, height=900):
        self.width = width
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1,
                   "mobile": width < 600})

    def my_events(self):
        with self.b._cond:
            return [e for e in self.b.events if e.get("sessionId") == self.session]

    def problems(self):
        """Console errors, uncaught exceptions and 5xx answers so far."""
        out = []
        for e in self.my_events():
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.append("exception: %s" % (d.get("exception", {}).get("description")
                                              or d.get("text")))
            elif m == "Runtime.consoleAPICalled" and p.get("type") == "error":
                out.append("console.error: %s" % [a.get("value", a.get("description"))
                                                  for a in p.get("args", [])])
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                entry = p["entry"]
                # A 4xx the page handles (401 before logging in, a free
                # group's 403 history, the HTML 404 itself) is logged by
                # the browser too;
                # 5xx are caught below, from the responses.
                if entry.get("source") == "network" and "status of 4" in entry.get("text", ""):
                    continue
                out.append("log: %s %s" % (entry.get("text"), entry.get("url", "")))
            elif m == "Network.responseReceived":
                r = p.get("response", {})
                if r.get("status", 0) >= 500:
                    out.append("HTTP %d %s" % (r["status"], r.get("url")))
        return out

    def eval(self, expr, timeout=30):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                           "awaitPromise": True}, timeout)
        if "exceptionDetails" in r:
            raise CDPError("eval %r: %s" % (expr, r["exceptionDetails"].get("text")))
        return r.get("result", {}).get("value")

    def wait(self, expr, timeout=10, what=None):
        deadline = time.monotonic() + timeout
        while True:
            try:
                # !! so that a DOM node (which has no JSON value) counts.
                v = self.eval("!!(%s)" % expr)
            except CDPError:
                v = None
            if v:
                return v
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for %s" % (what or expr))
            time.sleep(0.05)

    def goto(self, url, ready=True):
        self.send("Page.navigate", {"url": url})
        if ready:
            self.wait("document.readyState === 'complete' && "
                      "document.body && document.body.dataset.ready === 'true'",
                      timeout=15, what="page ready at " + url)

    def click(self, selector):
        ok = self.eval("(() => { const e = document.querySelector(%s); "
                       "if (!e) return false; e.click(); return true; })()"
                       % json.dumps(selector))
        if not ok:
            raise AssertionError("nothing to click at " + selector)

    def type(self, selector, text):
        ok = self.eval("(() => { const e = document.querySelector(%s); if (!e) return false; "
                       "e.focus(); e.value = %s; "
                       "e.dispatchEvent(new Event('input', {bubbles: true})); "
                       "e.dispatchEvent(new Event('change', {bubbles: true})); "
                       "return true; })()" % (json.dumps(selector), json.dumps(text)))
        if not ok:
            raise AssertionError("nothing to type into at " + selector)

    def text(self, selector):
        return self.eval("(() => { const e = document.querySelector(%s); "
                         "return e ? e.textContent : null; })()" % json.dumps(selector))

    def overflow(self):
        """How many CSS pixels the page is wider than the viewport."""
        return self.eval("document.documentElement.scrollWidth - window.innerWidth")

    def screenshot(self, path, full=True):
        """A PNG of the whole page (at most 6,000 px tall), or of what the
        viewport shows (a dialog over the page)."""
        m = self.send("Page.getLayoutMetrics")
        size = m.get("cssContentSize") or m["contentSize"]
        view = m.get("cssLayoutViewport") or m["layoutViewport"]
        h = min(int(size["height"]) + 1, 6000) if full else int(view["clientHeight"])
        shot = self.send("Page.captureScreenshot",
                         {"format": "png", "captureBeyondViewport": True,
                          "clip": {"x": 0, "y": 0 if full else view.get("pageY", 0),
                                   "width": self.width, "height": h,
                                   "scale": 1}})
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
