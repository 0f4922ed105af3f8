"""S3 throughput and request rates, podid next to moto's server (IAM authorization on), same load.

Both servers run as separate processes on 127.0.0.1; the clients are boto3 with default settings.
Figures: PutObject and GetObject of 1 MiB and 64 MiB objects (MiB/s), ListBuckets and HeadObject
per second (one signed request replayed on 4 keep-alive connections), the disk's own write speed
(dd-like write + fsync of 64 MiB in the same filesystem as podid's object directory) and podid's peak
memory (VmHWM) before and after moving a 1 GiB object up and down with s3transfer. Targets (issue
5): request rates at least 5x moto's; large objects within 50% of the disk's write speed; memory
flat while moving 1 GiB. The `raw` lines replay one signed 64 MiB PutObject and GetObject with
http.client (no client-side hashing): what the server itself sustains, and its CPU time per MiB.

`python -m benchmarks s3` (add `PODID_BENCH_QUICK=1` to skip the 1 GiB transfer).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.config
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

MIB = 1024 * 1024
REGION = "us-west-2"


@dataclass
class Server:
    name: str
    url: str
    key: str
    secret: str
    pid: int

    def client(self) -> Any:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=self.key,
            aws_secret_access_key=self.secret,
            config=botocore.config.Config(max_pool_connections=16, retries={"max_attempts": 1}),
        )


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true"
    )
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes], seconds: float = 30) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def podid_server(state: Path) -> Iterator[Server]:
    env = _env() | {"PODID_STATE_DIR": str(state)}
    cmd = [
        sys.executable,
        "-m",
        "podid",
        "serve",
        "--port",
        "0",
        "--no-runtime",
        "--account-id",
        "111122223333",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (state / "endpoint.json").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        info = json.loads((state / "endpoint.json").read_text())
        admin = json.loads((state / "admin.json").read_text())
        url = f"http://127.0.0.1:{info['port']}"
        _wait(url, proc)
        yield Server("podid", url, admin["access_key_id"], admin["secret_access_key"], proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextmanager
def moto_server() -> Iterator[Server]:
    port = _free_port()
    # moto checks IAM policies only after INITIAL_NO_AUTH_ACTION_COUNT unauthenticated calls (it
    # counts one more than the three that create an administrator with an access key); every later
    # request is authorized.
    env = _env() | {"INITIAL_NO_AUTH_ACTION_COUNT": "4"}
    exe = str(Path(sys.executable).parent / "moto_server")
    proc = subprocess.Popen(
        [exe, "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url, proc)
        iam = boto3.session.Session().client(
            "iam", endpoint_url=url, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
        )
        iam.create_user(UserName="bench")
        allow_all = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
        iam.put_user_policy(UserName="bench", PolicyName="all", PolicyDocument=json.dumps(allow_all))
        key = iam.create_access_key(UserName="bench")["AccessKey"]
        yield Server("moto", url, key["AccessKeyId"], key["SecretAccessKey"], proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def throughput(server: Server, bucket: str, size: int, count: int) -> tuple[float, float]:
    s3 = server.client()
    body = os.urandom(size)
    started = time.perf_counter()
    for i in range(count):
        s3.put_object(Bucket=bucket, Key=f"obj-{size}-{i}", Body=body)
    put = size * count / MIB / (time.perf_counter() - started)
    started = time.perf_counter()
    for i in range(count):
        data = s3.get_object(Bucket=bucket, Key=f"obj-{size}-{i}")["Body"].read()
        assert len(data) == size
    get = size * count / MIB / (time.perf_counter() - started)
    return put, get


def rate(
    server: Server, method: str, path: str, seconds: float = 2.0, threads: int = 4, body: bytes = b""
) -> float:
    """Requests per second of one signed request replayed on keep-alive connections.

    A SigV4 signature carries no nonce and stays valid for 15 minutes, so one request signed by
    botocore can be sent again and again; the client then costs microseconds per request and the
    figure is the server's, not boto3's.
    """
    request = AWSRequest(method=method, url=server.url + path, data=body)
    S3SigV4Auth(Credentials(server.key, server.secret), "s3", REGION).add_auth(request)
    parts = urlsplit(server.url)
    headers = dict(request.headers) | {"Host": parts.netloc}
    done = [0] * threads
    stop = time.perf_counter() + seconds

    def work(i: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
        while time.perf_counter() < stop:
            conn.request(method, path, body=body or None, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status >= 300:
                raise RuntimeError(f"{server.name} answered {response.status} to {method} {path}")
            done[i] += 1
        conn.close()

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(done) / seconds


def measure(server: Server) -> dict[str, float]:
    s3 = server.client()
    bucket = "bench-" + server.name
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=bucket, Key="head-me", Body=b"x" * 1024)
    out: dict[str, float] = {}
    out["PutObject 1 MiB (MiB/s)"], out["GetObject 1 MiB (MiB/s)"] = throughput(server, bucket, MIB, 40)
    out["PutObject 64 MiB (MiB/s)"], out["GetObject 64 MiB (MiB/s)"] = throughput(server, bucket, 64 * MIB, 3)
    out["ListBuckets (req/s)"] = rate(server, "GET", "/")
    out["HeadObject (req/s)"] = rate(server, "HEAD", f"/{bucket}/head-me")
    out |= raw_transfers(server, bucket)
    return out


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raw_transfers(server: Server, bucket: str, size: int = 64 * MIB, count: int = 5) -> dict[str, float]:
    """64 MiB PutObject and GetObject replayed with http.client (no client-side hashing).

    The PUT is signed with the body's SHA-256 (as botocore signs over http), so the server hashes
    MD5, SHA-256 and CRC64NVME. Median MiB/s over `count` requests, and the server's CPU time per
    MiB (user + system, from /proc), which a loaded machine distorts far less than wall time.
    """
    body = os.urandom(size)
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=120)
    out: dict[str, float] = {}
    for method in ("PUT", "GET"):
        request = AWSRequest(
            method=method, url=f"{server.url}/{bucket}/raw", data=body if method == "PUT" else b""
        )
        S3SigV4Auth(Credentials(server.key, server.secret), "s3", REGION).add_auth(request)
        headers = dict(request.headers) | {"Host": parts.netloc}
        walls: list[float] = []
        cpus: list[float] = []
        for _ in range(count):
            cpu, started = _cpu_seconds(server.pid), time.perf_counter()
            conn.request(method, f"/{bucket}/raw", body=body if method == "PUT" else None, headers=headers)
            response = conn.getresponse()
            got = response.read()
            walls.append(time.perf_counter() - started)
            cpus.append(_cpu_seconds(server.pid) - cpu)
            if response.status != 200 or (method == "GET" and len(got) != size):
                raise RuntimeError(f"{server.name} answered {response.status} to raw {method}")
        name = "PutObject" if method == "PUT" else "GetObject"
        out[f"raw {name} 64 MiB (MiB/s)"] = size / MIB / sorted(walls)[count // 2]
        out[f"raw {name} CPU (ms/MiB)"] = 1000 * sorted(cpus)[count // 2] / (size / MIB)
    conn.close()
    return out


def disk_write_speed(directory: Path, size: int = 64 * MIB, rounds: int = 5) -> float:
    """dd-like: write `size` bytes in 1 MiB blocks, then fsync; the median of `rounds` runs."""
    block = os.urandom(MIB)
    path = directory / "disk-probe.bin"
    speeds: list[float] = []
    for _ in range(rounds):
        started = time.perf_counter()
        with open(path, "wb") as handle:
            for _ in range(size // len(block)):
                handle.write(block)
            handle.flush()
            os.fsync(handle.fileno())
        speeds.append(size / MIB / (time.perf_counter() - started))
        path.unlink()
    return sorted(speeds)[rounds // 2]


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def memory_while_moving(server: Server, directory: Path, size: int = 1024 * MIB) -> tuple[float, float]:
    s3 = server.client()
    s3.create_bucket(Bucket="bench-memory", CreateBucketConfiguration={"LocationConstraint": REGION})
    src = directory / "gib.bin"
    block = os.urandom(8 * MIB)
    with open(src, "wb") as handle:
        for _ in range(size // len(block)):
            handle.write(block)
    before = peak_rss_mib(server.pid)
    s3.upload_file(str(src), "bench-memory", "gib.bin")
    s3.download_file("bench-memory", "gib.bin", str(directory / "gib.down"))
    after = peak_rss_mib(server.pid)
    assert (directory / "gib.down").stat().st_size == size
    src.unlink()
    (directory / "gib.down").unlink()
    return before, after


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="podid-bench-s3-") as tmp:
        root = Path(tmp)
        with podid_server(root / "state") as podid:
            ours = measure(podid)
            memory = None if os.environ.get("PODID_BENCH_QUICK") else memory_while_moving(podid, root)
        with moto_server() as moto:
            theirs = measure(moto)
        disk = disk_write_speed(root)
    print(f"{'load':<28}{'podid':>12}{'moto':>12}{'ratio':>9}")
    for name, value in ours.items():
        other = theirs[name]
        print(f"{name:<28}{value:>12.1f}{other:>12.1f}{value / other:>8.1f}x")
    print(f"{'disk write+fsync 64 MiB (MiB/s)':<28}{disk:>12.1f}")
    for name in ("PutObject 64 MiB (MiB/s)", "raw PutObject 64 MiB (MiB/s)", "raw GetObject 64 MiB (MiB/s)"):
        print(f"{name[:-8]} at {100 * ours[name] / disk:.0f}% of the disk's write speed")
    if memory is not None:
        print(
            f"podid peak RSS: {memory[0]:.0f} MiB before, {memory[1]:.0f} MiB after moving 1 GiB up and down"
        )


if __name__ == "__main__":
    main()
