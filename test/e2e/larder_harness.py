"""Starts a real `larder serve` for end-to-end tests and hands out real AWS clients.

Usage (unittest):
    from larder_harness import LarderServer
    class MyTest(unittest.TestCase):
        @classmethod
        def setUpClass(cls):
            cls.srv = LarderServer()          # temp data dir, free port, fixed test keys
            cls.srv.start()
        @classmethod
        def tearDownClass(cls):
            cls.srv.close()                   # SIGTERM, then removes the temp dir
        def test_x(self):
            sm = self.srv.client("sagemaker")
            rt = self.srv.client("sagemaker-featurestore-runtime")  # has BatchWriteRecord/ListRecords
            ath = self.srv.client("athena")
            out = self.srv.aws("sagemaker", "list-feature-groups")   # AWS CLI, parsed JSON

The binary is $LARDER_BIN (CTest sets it) or <repo>/build/larder.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import boto3
from botocore.config import Config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(REPO, "src", "server", "models")
# botocore loads the vendored models (the runtime model there has BatchWriteRecord/ListRecords).
os.environ["AWS_DATA_PATH"] = MODELS

ACCESS_KEY = "AKIALARDERTEST000001"
SECRET_KEY = "larder-test-secret-key-0123456789abcdef"
REGION = "us-east-1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LarderServer:
    def __init__(self, data_dir=None, extra_args=(), access_key=ACCESS_KEY, secret_key=SECRET_KEY):
        self.binary = os.environ.get("LARDER_BIN", os.path.join(REPO, "build", "larder"))
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="larder-e2e-")
        self.extra_args = list(extra_args)
        self.access_key = access_key
        self.secret_key = secret_key
        self.port = None
        self.proc = None
        self.log_path = os.path.join(self.data_dir, "server.log")

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, extra_args=None, timeout=30):
        """Starts the server (on a new free port) and waits for /healthz to answer 200."""
        if extra_args is not None:
            self.extra_args = list(extra_args)
        self.port = free_port()
        cmd = [self.binary, "serve", "--data-dir", self.data_dir,
               "--listen", f"127.0.0.1:{self.port}",
               "--access-key-id", self.access_key, "--secret-access-key", self.secret_key,
               *self.extra_args]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"larder exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.endpoint + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.02)  # readiness polling, not synchronization of test logic
        raise RuntimeError(f"larder did not become healthy in {timeout}s:\n{self.log()}")

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-8000:]
        except OSError:
            return ""

    def _close_log(self):
        if getattr(self, "_log", None) is not None:
            self._log.close()
            self._log = None

    def stop(self, timeout=30):
        """SIGTERM and wait: a graceful shutdown. Returns the exit code."""
        try:
            return self._stop(timeout)
        finally:
            self._close_log()

    def _stop(self, timeout):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError("larder did not stop within %ss of SIGTERM" % timeout)
        return self.proc.returncode if self.proc else None

    def kill9(self):
        """SIGKILL: the crash every acknowledged write must survive."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_log()

    def restart(self, extra_args=None):
        self.stop()
        return self.start(extra_args)

    def close(self):
        try:
            self.stop()
        finally:
            if self.own_dir:
                shutil.rmtree(self.data_dir, ignore_errors=True)

    def client(self, service, secret_key=None, access_key=None, **kw):
        cfg = kw.pop("config", Config(retries={"max_attempts": 1, "mode": "standard"}))
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=access_key or self.access_key,
                            aws_secret_access_key=secret_key or self.secret_key,
                            config=cfg, **kw)

    def env(self):
        """Environment for the AWS CLI / SDK subprocesses pointed at this server."""
        e = dict(os.environ)
        e.update(AWS_ACCESS_KEY_ID=self.access_key, AWS_SECRET_ACCESS_KEY=self.secret_key,
                 AWS_DEFAULT_REGION=REGION, AWS_ENDPOINT_URL=self.endpoint,
                 AWS_DATA_PATH=MODELS, AWS_MAX_ATTEMPTS="1")
        e.pop("AWS_PROFILE", None)
        return e

    def aws(self, *args, check=True):
        """Runs the AWS CLI against this server; returns parsed JSON output (or None if empty).
        With check=False returns the CompletedProcess instead."""
        p = subprocess.run(["aws", *args, "--output", "json"], env=self.env(),
                           capture_output=True, text=True, timeout=60)
        if not check:
            return p
        if p.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed ({p.returncode}): {p.stderr}")
        return json.loads(p.stdout) if p.stdout.strip() else None
