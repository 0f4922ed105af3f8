"""The AWS endpoint side by side: podid vs moto's server vs a bare aiohttp handler, same client load.

What runs (every server on 127.0.0.1, on a free port, each in its own process pinned to one CPU; the
load generator runs pinned to another):

- **podid**: `podid serve --ephemeral --no-runtime` exactly as a user starts it: full SigV4
  verification, principal resolution, botocore-model parsing, IAM policy evaluation, serialization,
  audit record.
- **moto**: `python -m moto.server` (moto[server], werkzeug, threaded) with its IAM authorization
  turned on through the `INITIAL_NO_AUTH_ACTION_COUNT` environment variable (moto's documented
  switch: the first N requests are served without authentication, every later one has its SigV4
  signature recomputed and, except `sts:GetCallerIdentity`, which moto always allows, its action
  checked against the caller's IAM policies). N is exactly the number of set-up calls below, and the
  driver then checks that moto refuses a wrong secret before measuring anything.
- **bare**: an aiohttp handler (same aiohttp version and settings as podid's server, `access_log=None`)
  that reads the body and returns a fixed GetCallerIdentity XML document: the ceiling of our HTTP
  stack.

Set-up, identical on podid and moto: with the administrator's key, create the IAM user `bench` with an
inline policy allowing `sts:GetCallerIdentity` and `iam:GetRole`, an access key for it, and the role
`bench-role`. The load then runs as `bench` (an IAM user whose request is authorized like any other).

Load: a separate process (`--load`) holding `CONCURRENCY` keep-alive HTTP/1.1 connections, each sending
its next request as soon as the previous response is complete. The client is a minimal asyncio
protocol writing pre-built request bytes (not aiohttp's client: on two cores a heavyweight client
would be the bottleneck and flatter every ratio). Requests are signed with botocore's `SigV4Auth` just
before each row (a pool of `POOL` requests per row, well within SigV4's 15-minute window; the
server verifies every one in full, it has no cache of verified signatures). Each run has a
`WARMUP`-second warm-up that is not counted, then `DURATION` seconds measured; the three servers
take turns for `ROUNDS` rounds and the median round of each is printed, so that a burst of other
load on the machine does not land on one server only. Besides req/s and latency, each row shows the
server's CPU time per request (from /proc), the figure that stays meaningful on a loaded machine.

Targets (issue 2): podid >= 5x moto's server and >= 40% of the bare handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DURATION = 3.0
ROUNDS = 3  # podid, moto, bare, podid, moto, bare, ...: the median round of each server is shown
WARMUP = 1.0
CONCURRENCY = 64
POOL = 256
REGION = "us-east-1"
# With two or more CPUs, every server runs on SERVER_CPU and the load generator on LOAD_CPU, so that
# each server gets the same one core and never competes with its own client.
SERVER_CPU = 0
LOAD_CPU = 1
TARGET_VS_MOTO = 5.0
TARGET_VS_BARE = 0.40

BARE_XML = (
    b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
    b"<GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/bench</Arn>"
    b"<UserId>AIDACKCEVSQ6C2EXAMPLE</UserId><Account>123456789012</Account>"
    b"</GetCallerIdentityResult><ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7"
    b"</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
)

USER_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["sts:GetCallerIdentity", "iam:GetRole"], "Resource": "*"}
        ],
    }
)
ROLE_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
SETUP_CALLS = 4  # create_user, put_user_policy, create_access_key, create_role

OPERATIONS: dict[str, tuple[str, str]] = {
    # name -> (signing service, form body)
    "sts GetCallerIdentity": ("sts", "Action=GetCallerIdentity&Version=2011-06-15"),
    "iam GetRole": ("iam", "Action=GetRole&RoleName=bench-role&Version=2010-05-08"),
}


# --- the bare handler process ------------------------------------------------------------------
def bare_main() -> None:
    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(
            body=BARE_XML,
            content_type="text/xml",
            headers={"x-amzn-RequestId": "c6104cbe-af31-11e0-8154-cbc7ccf896c7"},
        )

    async def run() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        print(json.dumps({"port": sockets[0].getsockname()[1]}), flush=True)
        await asyncio.Event().wait()

    asyncio.run(run())


# --- the load generator process ----------------------------------------------------------------
class _Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: write a request, wait for its complete response."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._check()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._check(eof=True)

    def _check(self, eof: bool = False) -> None:
        if self.waiter is None or self.waiter.done():
            return
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            if eof:
                self.waiter.set_exception(ConnectionError("connection closed before a response"))
            return
        head = bytes(self.buffer[:head_end]).decode("latin-1").lower()
        status = int(head.split(" ", 2)[1])
        length = -1
        chunked = close = False
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection" and "close" in value:
                close = True  # moto's werkzeug server closes after every response
        body_start = head_end + 4
        done = False
        if length >= 0:
            if len(self.buffer) - body_start >= length:
                del self.buffer[: body_start + length]
                done = True
        elif chunked:
            end = self.buffer.find(b"\r\n0\r\n\r\n", body_start - 2)
            if end >= 0:
                del self.buffer[: end + 7]
                done = True
        elif eof:  # delimited by the connection's end
            self.buffer.clear()
            done = True
        if done:
            if close and self.transport is not None:
                self.closed = True
                self.transport.close()
            self.waiter.set_result(status)

    async def exchange(self, raw: bytes) -> int:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self.waiter


async def _load(
    port: int, requests: list[bytes], concurrency: int, warmup: float, duration: float
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    total = 0  # every answered request, warm-up included (for the server's CPU time per request)
    counter = iter(range(10**12))
    started = time.perf_counter()
    measure_from = started + warmup
    deadline = measure_from + duration

    async def connect() -> _Conn:
        _, conn = await loop.create_connection(_Conn, "127.0.0.1", port)
        return conn

    async def worker() -> None:
        conn = await connect()
        while True:
            now = time.perf_counter()
            if now >= deadline:
                break
            raw = requests[next(counter) % len(requests)]
            t0 = time.perf_counter()
            if conn.closed:  # a server that closes after each response makes its clients reconnect
                conn = await connect()
            try:
                status = await asyncio.wait_for(conn.exchange(raw), 30)
            except (ConnectionError, TimeoutError):
                status = 0
                if conn.transport is not None:
                    conn.transport.close()
                conn.closed = True
            t1 = time.perf_counter()
            nonlocal total
            total += 1
            if t0 >= measure_from and t1 <= deadline:
                latencies.append(t1 - t0)
                statuses[str(status)] = statuses.get(str(status), 0) + 1
        if conn.transport is not None:
            conn.transport.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    latencies.sort()
    n = len(latencies)
    return {
        "count": n,
        "rps": n / duration,
        "p50_ms": latencies[n // 2] * 1000 if n else 0.0,
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1000 if n else 0.0,
        "statuses": statuses,
        "total": total,
    }


def pin(pid: int, cpu: int) -> None:
    """Bind a process (0: this one) to one CPU when there are at least two; best effort."""
    if (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(pid, {cpu})


def load_main(argv: list[str]) -> None:
    pin(0, LOAD_CPU)
    port, path, concurrency = int(argv[0]), argv[1], int(argv[2])
    warmup, duration = float(argv[3]), float(argv[4])
    requests = [r.encode("latin-1") for r in json.loads(Path(path).read_text())]
    print(json.dumps(asyncio.run(_load(port, requests, concurrency, warmup, duration))), flush=True)


# --- the driver --------------------------------------------------------------------------------
def _median_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median req/s (the machine's other load varies from round to round), with
    the median CPU time per request over all rounds."""
    row = dict(sorted(rows, key=lambda r: float(r["rps"]))[len(rows) // 2])
    row["cpu_us"] = sorted(float(r["cpu_us"]) for r in rows)[len(rows) // 2]
    return row


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _sign_pool(port: int, key: tuple[str, str], operation: str, size: int) -> list[str]:
    """`size` raw HTTP/1.1 requests for `operation`, SigV4-signed now with botocore's signer."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    service, body = OPERATIONS[operation]
    signer = SigV4Auth(Credentials(*key), service, REGION)
    url = f"http://127.0.0.1:{port}/"
    pool = []
    for _ in range(size):
        request = AWSRequest(
            method="POST",
            url=url,
            data=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                "User-Agent": "podid-bench",
            },
        )
        signer.add_auth(request)
        lines = ["POST / HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in request.headers.items()]
        pool.append("\r\n".join(lines) + "\r\n\r\n" + body)
    return pool


def _provision(url: str, admin: tuple[str, str]) -> tuple[str, str]:
    """The `bench` user (inline policy, access key) and `bench-role`, made with the admin's key."""
    import boto3

    iam = boto3.client(
        "iam",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=admin[0],
        aws_secret_access_key=admin[1],
    )
    iam.create_user(UserName="bench")
    iam.put_user_policy(UserName="bench", PolicyName="bench", PolicyDocument=USER_POLICY)
    key = iam.create_access_key(UserName="bench")["AccessKey"]
    iam.create_role(RoleName="bench-role", AssumeRolePolicyDocument=ROLE_TRUST)
    return key["AccessKeyId"], key["SecretAccessKey"]


def _check_auth(url: str, key: tuple[str, str]) -> None:
    """The right key is served and a wrong secret is refused: authorization is really on."""
    import boto3
    from botocore.exceptions import ClientError

    def sts(secret: str) -> Any:
        return boto3.client(
            "sts",
            endpoint_url=url,
            region_name=REGION,
            aws_access_key_id=key[0],
            aws_secret_access_key=secret,
        )

    sts(key[1]).get_caller_identity()
    try:
        sts(key[1] + "x").get_caller_identity()
    except ClientError as err:
        if err.response["Error"]["Code"] != "SignatureDoesNotMatch":
            raise
    else:
        raise RuntimeError(f"{url} accepted a wrong secret: its authorization is off")


async def _start(argv: list[str], env: dict[str, str], ready: Any) -> tuple[asyncio.subprocess.Process, Any]:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env
    )
    pin(proc.pid, SERVER_CPU)  # before it serves (moto's threads inherit it)
    try:
        return proc, await asyncio.wait_for(ready(proc), 90)
    except BaseException:
        proc.kill()
        await proc.wait()
        raise


async def _wait_http(port: int) -> None:
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)


async def _run() -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PODID_", "MOTO_"))}
    bin_dir = Path(sys.executable).parent
    procs: list[asyncio.subprocess.Process] = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            # podid, as a user runs it
            state = Path(tmp) / "podid"
            podid_cmd = [str(bin_dir / "podid"), "serve", "--ephemeral", "--no-runtime", "--port", "0"]

            async def podid_ready(proc: asyncio.subprocess.Process) -> dict[str, Any]:
                while not (state / "endpoint.json").exists() or not (state / "admin.json").exists():
                    if proc.returncode is not None:
                        raise RuntimeError("podid serve exited")
                    await asyncio.sleep(0.1)
                await asyncio.sleep(0.2)
                return {
                    **json.loads((state / "endpoint.json").read_text()),
                    **json.loads((state / "admin.json").read_text()),
                }

            proc, info = await _start(podid_cmd, {**env, "PODID_STATE_DIR": str(state)}, podid_ready)
            procs.append(proc)
            podid_port = int(info["port"])
            podid_admin = (info["access_key_id"], info["secret_access_key"])

            # moto's server with IAM authorization on after the set-up calls
            moto_port = _free_port()
            moto_env = {**env, "INITIAL_NO_AUTH_ACTION_COUNT": str(SETUP_CALLS)}

            async def moto_ready(proc: asyncio.subprocess.Process) -> None:
                await _wait_http(moto_port)

            moto_cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)]
            proc, _ = await _start(moto_cmd, moto_env, moto_ready)
            procs.append(proc)

            async def bare_ready(proc: asyncio.subprocess.Process) -> dict[str, Any]:
                assert proc.stdout is not None
                return dict(json.loads(await proc.stdout.readline()))

            proc, bare = await _start([sys.executable, __file__, "--bare"], env, bare_ready)
            procs.append(proc)

            ports = {"podid": podid_port, "moto": moto_port, "bare": int(bare["port"])}
            pids = {"podid": procs[0].pid, "moto": procs[1].pid, "bare": procs[2].pid}
            keys = {
                "podid": await asyncio.to_thread(_provision, f"http://127.0.0.1:{podid_port}", podid_admin),
                "moto": await asyncio.to_thread(
                    _provision,
                    f"http://127.0.0.1:{moto_port}",
                    ("AKIAIOSFODNN7EXAMPLE", "moto-setup-unauthenticated"),
                ),
            }
            keys["bare"] = keys["podid"]
            for target in ("podid", "moto"):
                await asyncio.to_thread(_check_auth, f"http://127.0.0.1:{ports[target]}", keys[target])

            rounds: dict[str, list[dict[str, Any]]] = {}
            for operation, _round, target in (
                (op, r, t) for op in OPERATIONS for r in range(ROUNDS) for t in ("podid", "moto", "bare")
            ):
                pool = _sign_pool(ports[target], keys[target], operation, POOL)
                req_file = Path(tmp) / "requests.json"
                req_file.write_text(json.dumps(pool))
                args = [str(ports[target]), str(req_file), str(CONCURRENCY), str(WARMUP), str(DURATION)]
                load = await asyncio.create_subprocess_exec(
                    sys.executable, __file__, "--load", *args, stdout=asyncio.subprocess.PIPE, env=env
                )
                cpu_before = _cpu_seconds(pids[target])
                out, _ = await load.communicate()
                cpu = _cpu_seconds(pids[target]) - cpu_before
                row = json.loads(out)
                row["cpu_us"] = cpu / row["total"] * 1e6 if row["total"] else 0.0
                rounds.setdefault(f"{operation}|{target}", []).append(row)
            results = {name: _median_row(rows) for name, rows in rounds.items()}
            loadavg = " ".join(f"{x:.1f}" for x in os.getloadavg())
            return results, {"loadavg": loadavg, "cpus": str(os.cpu_count())}
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.terminate()
            for proc in procs:
                try:
                    await asyncio.wait_for(proc.wait(), 10)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()


def main() -> None:
    results, machine = asyncio.run(_run())
    print(
        f"AWS endpoint, {CONCURRENCY} keep-alive connections from a separate process, median of "
        f"{ROUNDS} interleaved rounds of {DURATION:.0f} s (after {WARMUP:.0f} s warm-up) per row; "
        f"{machine['cpus']} CPUs, load average {machine['loadavg']}"
    )
    print(
        f"{'operation':<22} {'server':<6} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'CPU us/req':>10}  statuses"
    )
    verdicts = []
    for operation in OPERATIONS:
        for target in ("podid", "moto", "bare"):
            r = results[f"{operation}|{target}"]
            print(
                f"{operation:<22} {target:<6} {r['count']:>9} {r['rps']:>8.0f} "
                f"{r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['cpu_us']:>10.0f}  {r['statuses']}"
            )
        podid, moto, bare = (results[f"{operation}|{t}"]["rps"] for t in ("podid", "moto", "bare"))
        vs_moto = podid / moto if moto else float("inf")
        vs_bare = podid / bare if bare else 0.0
        ok = vs_moto >= TARGET_VS_MOTO and vs_bare >= TARGET_VS_BARE
        verdicts.append(ok)
        print(
            f"{operation:<22} podid/moto {vs_moto:6.1f}x (target >= {TARGET_VS_MOTO:.0f}x)   "
            f"podid/bare {vs_bare:6.1%} (target >= {TARGET_VS_BARE:.0%})   {'met' if ok else 'NOT met'}"
        )
        # The same ratios in CPU time per request: what each server's code costs, whatever share
        # of the machine the scheduler gave it during its turn.
        cpu = {t: float(results[f"{operation}|{t}"]["cpu_us"]) for t in ("podid", "moto", "bare")}
        if cpu["podid"] > 0:
            print(
                f"{'':<22} by CPU time: podid/moto {cpu['moto'] / cpu['podid']:6.1f}x   "
                f"podid/bare {cpu['bare'] / cpu['podid']:6.1%}"
            )
    print(f"targets: {'met' if all(verdicts) else 'NOT met'}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--bare":
        bare_main()
    elif len(sys.argv) > 2 and sys.argv[1] == "--load":
        load_main(sys.argv[2:])
    else:
        main()
