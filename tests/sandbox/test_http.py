"""The sandbox's HTTP layer: persistent (HTTP/1.1 keep-alive) connections with correct
framing for every kind of answer, and the connection-level knobs (request_timeout,
stop()) still cutting clients off. Real sockets and real HTTP throughout."""

from __future__ import annotations

import socket
import time

import pytest
import requests

from autoenhance_nb.sandbox import Sandbox

from ..conftest import png_bytes

KEY = {"x-api-key": "k"}


def _read_answer(sock: socket.socket) -> tuple[bytes, dict[str, str], bytes]:
    """One HTTP/1.1 answer framed by its Content-Length: (status line, headers, body).
    Reads byte by byte past the headers so a second, pipelined answer stays unread."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)
        assert byte, f"connection closed before a full answer: {head!r}"
        head += byte
    status, *lines = head[:-4].split(b"\r\n")
    headers = {}
    for line in lines:
        k, _, v = line.decode("latin1").partition(":")
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        assert chunk
        body += chunk
    return status, headers, body


def test_sequential_requests_on_one_session_use_one_connection(sandbox):
    with requests.Session() as s:
        for i in range(50):
            r = s.post(sandbox.url + "/v3/orders/", json={"name": f"o{i}"}, headers=KEY)
            assert r.status_code == 200
            assert r.headers.get("Connection", "").lower() != "close"
            assert r.headers["Content-Length"] == str(len(r.content))
    assert sandbox.connections_opened == 1
    assert {e.connection for e in sandbox.request_log} == {1}
    assert len(sandbox.orders) == 50


def test_without_a_session_each_request_opens_its_own_connection(sandbox):
    for _ in range(3):
        requests.get(sandbox.url + "/_sandbox/health")
    assert sandbox.connections_opened == 3
    assert [e.connection for e in sandbox.request_log] == [1, 2, 3]


def test_every_kind_of_answer_keeps_the_connection_usable():
    with (
        Sandbox(processing_seconds=0, max_json_bytes=1000, max_upload_bytes=1000) as sb,
        requests.Session() as s,
    ):
        url = sb.url
        answers = [
            s.get(url + "/v3/orders/missing"),  # 404
            s.post(url + "/v3/orders/", json={"name": "x"}),  # 401, body never read
            s.post(url + "/v3/orders/", json={"name": 5}, headers=KEY),  # 422
            s.post(
                url + "/v3/orders/",
                data=b"{not json",
                headers={**KEY, "Content-Type": "application/json"},
            ),  # 400
            s.post(url + "/v3/orders/", json={"name": "x" * 5000}, headers=KEY),  # 413 drained
            s.put(url + "/v3/orders/", headers=KEY),  # 405
        ]
        assert [a.status_code for a in answers] == [404, 401, 422, 400, 413, 405]
        created = s.post(url + "/v3/images/", json={"image_name": "a.png"}, headers=KEY).json()
        too_big = s.put(
            created["upload_url"],
            data=b"\x89PNG" + b"0" * 5000,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert too_big.status_code == 413
        chunked = s.put(
            created["upload_url"],
            data=iter([b"\x89PNG", b"rest"]),
            headers={"Content-Type": "application/octet-stream"},
        )
        assert chunked.status_code == 200  # a chunked body, read to its end
        put = s.put(
            created["upload_url"],
            data=png_bytes(),
            headers={"Content-Type": "application/octet-stream"},
        )
        assert put.status_code == 200 and put.content == b""
        original = s.get(url + f"/v3/images/{created['image_id']}/original", headers=KEY)
        assert original.status_code == 200 and original.content == png_bytes()
        deleted = s.delete(url + f"/v3/images/{created['image_id']}", headers=KEY)
        assert deleted.status_code == 204 and deleted.content == b""
        assert s.get(url + "/_sandbox/health").json()["status"] == "ok"
        assert sb.connections_opened == 1


def test_faults_and_latency_are_answered_on_the_same_connection():
    with Sandbox(error_rate=1.0, latency=0.01) as sb, requests.Session() as s:
        codes = [s.post(sb.url + "/v3/orders/", json={}, headers=KEY).status_code for _ in range(5)]
        sb.error_rate, sb.ambiguous_rate = 0.0, 1.0
        codes += [
            s.post(sb.url + "/v3/orders/", json={}, headers=KEY).status_code for _ in range(5)
        ]
        assert codes == [503] * 5 + [502] * 5
        assert sb.connections_opened == 1 and len(sb.orders) == 5


def test_two_requests_sent_back_to_back_get_two_framed_answers(sandbox):
    """The first body is never read by the app (401 comes first); the server must
    still find where the second request starts."""
    host, port = sandbox._server.server_address
    body = b'{"name": "not read"}'
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(
            b"POST /v3/orders/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
            b"\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
            + b"GET /_sandbox/health HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        status1, _, body1 = _read_answer(sock)
        status2, headers2, body2 = _read_answer(sock)
    assert status1.startswith(b"HTTP/1.1 401") and b"Unauthorized" in body1
    assert status2.startswith(b"HTTP/1.1 200") and b'"status": "ok"' in body2
    assert "connection" not in headers2
    assert sandbox.connections_opened == 1


def test_a_client_asking_to_close_is_closed(sandbox):
    host, port = sandbox._server.server_address
    for request in (
        b"GET /_sandbox/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /_sandbox/health HTTP/1.0\r\n\r\n",
    ):
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(request)
            status, headers, _ = _read_answer(sock)
            assert status.endswith(b"200 OK") and headers["connection"] == "close"
            assert sock.recv(10) == b""


def test_an_idle_kept_alive_connection_is_closed_after_request_timeout():
    with Sandbox(request_timeout=0.4) as sb:
        host, port = sb._server.server_address
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(b"GET /_sandbox/health HTTP/1.1\r\nHost: x\r\n\r\n")
            status, _, _ = _read_answer(sock)
            assert status.startswith(b"HTTP/1.1 200")
            start = time.perf_counter()
            assert sock.recv(10) == b""  # the server hung up on the idle connection
            assert 0.3 < time.perf_counter() - start < 3


def test_stop_cuts_a_kept_alive_connection_at_once():
    sb = Sandbox(request_timeout=30).start()
    host, port = sb._server.server_address
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"GET /_sandbox/health HTTP/1.1\r\nHost: x\r\n\r\n")
        _read_answer(sock)
        start = time.perf_counter()
        sb.stop()
        try:
            assert sock.recv(10) == b""
        except ConnectionResetError:
            pass
        assert time.perf_counter() - start < 3  # not the 30 s idle timeout


def test_a_kept_alive_session_reconnects_after_a_restart():
    sb = Sandbox().start()
    with requests.Session() as s:
        assert s.get(sb.url + "/_sandbox/health").status_code == 200
        url = sb.url
        sb.stop()
        with pytest.raises(requests.ConnectionError):
            s.get(url + "/_sandbox/health", timeout=2)
        sb.start()
        try:
            assert sb.url == url
            assert s.get(url + "/_sandbox/health").status_code == 200
            assert sb.connections_opened == 2
        finally:
            sb.stop()


def test_a_kept_alive_connection_answers_without_a_delayed_ack_stall(sandbox):
    """Headers and body leave in one segment with TCP_NODELAY; otherwise each answer
    waits out the client's delayed ACK (about 40 ms), 4 s for these 100 requests."""
    with requests.Session() as s:
        s.get(sandbox.url + "/_sandbox/health")
        start = time.perf_counter()
        for _ in range(100):
            assert s.post(sandbox.url + "/v3/orders/", json={}, headers=KEY).status_code == 200
        elapsed = time.perf_counter() - start
    assert elapsed < 2.5, f"100 requests took {elapsed:.2f} s"


def test_head_announces_the_get_length_without_a_body_and_keeps_the_connection(sandbox):
    with requests.Session() as s:
        get = s.get(sandbox.url + "/v3/orders/missing")
        head = s.head(sandbox.url + "/v3/orders/missing")
        assert head.status_code == 404 and head.content == b""
        assert head.headers["Content-Length"] == str(len(get.content))
        assert s.get(sandbox.url + "/_sandbox/health").status_code == 200
    assert sandbox.connections_opened == 1


# -- issue 22 item 10: deeply nested JSON is a 400, never a 500 ---------------------------------
JSON = {"x-api-key": "k", "Content-Type": "application/json"}


def _no_500(answer: requests.Response, status: int, text: str) -> None:
    assert answer.status_code == status, (answer.status_code, answer.text[:200])
    body = answer.json()
    assert set(body) == {"detail", "message"} and text in body["message"], body


def test_a_deeply_nested_json_body_is_a_400_like_malformed_json(sandbox):
    with requests.Session() as s:
        malformed = s.post(sandbox.url + "/v3/orders/", data=b"{bad", headers=JSON)
        _no_500(malformed, 400, "not valid JSON")
        for body in (b"[" * 400_000, b'{"a":' * 100_000, b"[" * 5000 + b"]" * 5000):
            _no_500(s.post(sandbox.url + "/v3/orders/", data=body, headers=JSON), 400, "nested")
        # deep enough to pass json.loads, then break whatever walks it: refused up front
        order = s.post(sandbox.url + "/v3/orders/", json={"name": "Loft"}, headers=KEY).json()
        for depth in (100, 990):
            nested = "[" * depth + "]" * depth
            body = (
                f'{{"name": "b", "order_id": "{order["order_id"]}", "metadata": {{"a": {nested}}}}}'
            )
            answer = s.post(sandbox.url + "/v3/brackets/", data=body, headers=JSON)
            _no_500(answer, 400, "nested")
        fine = s.post(sandbox.url + "/v3/orders/", json={"name": "after"}, headers=KEY)
        assert fine.status_code == 200 and fine.json()["name"] == "after"


def test_a_page_token_of_nested_json_is_a_422_not_a_500(sandbox):
    import base64

    token = base64.urlsafe_b64encode(b"[" * 20_000).decode().rstrip("=")
    answer = requests.get(sandbox.url + "/v3/orders/", params={"offset": token}, headers=KEY)
    assert answer.status_code == 422, (answer.status_code, answer.text[:200])
    assert answer.json()["detail"] == {"query": {"offset": ["Not a valid page token."]}}
