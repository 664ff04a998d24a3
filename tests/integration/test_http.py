"""HTTP basics on both listeners: health, readiness, which routes each
listener serves, the error shapes, and the request metrics."""
import pytest
import requests

from client import assert_error, db_sql
from helpers import metric_value, parse_metrics, wait_until

ADMIN_ONLY = [
    ("GET", "/metrics"),
    ("GET", "/api/v1/ops/version"),
    ("GET", "/api/v1/ops/pool"),
    ("POST", "/internal/dev/sleep?ms=0"),
]
MAIN_ONLY = [
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/groups"),
    ("GET", "/"),
]


def request(inst, method, path, admin=False):
    base = inst.admin_url if admin else inst.url
    return requests.request(method, base + path, timeout=5)


@pytest.mark.parametrize("admin", [False, True], ids=["main", "admin"])
def test_healthz(server, admin):
    r = server.get("/healthz", admin=admin)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {"status": "ok"}


@pytest.mark.parametrize("admin", [False, True], ids=["main", "admin"])
def test_readyz(server, admin):
    r = server.get("/readyz", admin=admin)
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready", "engine": server.engine}


@pytest.mark.parametrize("method, path", ADMIN_ONLY)
def test_admin_routes_not_on_main(server, method, path):
    assert_error(request(server, method, path), 404, "not_found")


@pytest.mark.parametrize("method, path", MAIN_ONLY)
def test_main_routes_not_on_admin(server, method, path):
    assert_error(request(server, method, path, admin=True), 404, "not_found")


def test_admin_routes_on_admin(server):
    assert server.get("/metrics", admin=True).status_code == 200
    version = server.get("/api/v1/ops/version", admin=True).json()
    assert {"version", "build", "engine", "schema_version"} <= set(version)
    assert version["engine"] == server.engine
    assert version["schema_version"] == int(
        db_sql(server, "SELECT MAX(version) FROM schema_migrations"))
    r = server.post("/internal/dev/sleep?ms=10", admin=True)
    assert r.status_code == 200
    assert r.json() == {"slept_ms": 10}


@pytest.mark.parametrize("admin", [False, True], ids=["main", "admin"])
def test_unknown_path(server, admin):
    assert_error(server.get("/no/such/thing", admin=admin), 404, "not_found")


@pytest.mark.parametrize("method, path, admin, allowed", [
    ("POST", "/healthz", False, "GET"),
    ("DELETE", "/readyz", True, "GET"),
    ("PUT", "/metrics", True, "GET"),
    ("GET", "/internal/dev/sleep", True, "POST"),
])
def test_wrong_method(server, method, path, admin, allowed):
    r = request(server, method, path, admin=admin)
    assert_error(r, 405, "method_not_allowed")
    allow = [m.strip() for m in r.headers["Allow"].split(",")]
    assert allowed in allow


def test_metrics_count_requests(server):
    k = 25
    labels = {"route": "GET /healthz", "status": "200"}
    before = metric_value(server.metrics(), "coffer_http_requests_total", **labels)
    for _ in range(k):
        assert server.get("/healthz").status_code == 200
    # A request is counted just after its response is sent: poll.
    wait_until(lambda: metric_value(server.metrics(), "coffer_http_requests_total",
                                    **labels) >= before + k,
               5, f"the counter to rise by {k}")


def test_metrics_count_unmatched(server):
    assert server.get("/no/such/thing").status_code == 404

    def counted_404():
        return any(name == "coffer_http_requests_total" and lab.get("status") == "404"
                   for name, lab, _ in parse_metrics(server.metrics()))
    wait_until(counted_404, 5, "a 404 in coffer_http_requests_total")


def test_metrics_latency_histogram(server):
    assert server.get("/healthz").status_code == 200
    route = "GET /healthz"

    def histogram():
        samples = parse_metrics(server.metrics())
        buckets = [(lab["le"], v) for name, lab, v in samples
                   if name == "coffer_http_request_duration_seconds_bucket"
                   and lab.get("route") == route]
        count = [v for name, lab, v in samples
                 if name == "coffer_http_request_duration_seconds_count"
                 and lab.get("route") == route]
        total = [v for name, lab, v in samples
                 if name == "coffer_http_request_duration_seconds_sum"
                 and lab.get("route") == route]
        return buckets and count and total and (buckets, count[0], total[0])

    buckets, count, total = wait_until(histogram, 5, "the /healthz histogram")
    assert buckets[-1][0] == "+Inf"
    assert buckets[-1][1] == count >= 1
    values = [v for _, v in buckets]
    assert values == sorted(values), "buckets are cumulative"
    bounds = [float(le) for le, _ in buckets[:-1]]
    assert bounds == sorted(bounds) and len(bounds) >= 5
    assert total >= 0


def test_metrics_worker_restarts_present(server):
    names = {name for name, _, _ in parse_metrics(server.metrics())}
    assert "coffer_worker_restarts_total" in names


def test_oversize_bodies_get_the_json_413(server):
    """Past max_body_size the answer is 413 in the documented error shape; far
    past it (evhttp's own backstop) the status is still 413."""
    big = b'{"label": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    r = server.post("/api/v1/me/tokens", data=big,
                    headers={"Content-Type": "application/json"})
    assert_error(r, 413, "payload_too_large")
    huge = b"x" * (5 * 1024 * 1024)
    try:
        r = server.post("/api/v1/me/tokens", data=huge,
                        headers={"Content-Type": "application/json"})
        assert r.status_code == 413
    except requests.ConnectionError:
        pass    # evhttp may close before the client finished sending
