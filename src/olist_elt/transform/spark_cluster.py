"""A standalone Spark cluster on the loopback, from the installed pyspark: one master,
N workers and the Hive Thrift Server the `spark_thrift` target's dbt talks to.

It runs with the settings of the in-process session (`spark_conf`: tables and
metastore in the lake, UTC) and JVM options of its own (`cluster_conf`). The PII
key's pads reach the Thrift Server through a conf file only its owner can read (mode
600), never a command line or a log line; the Thrift Server's per-statement log
(which would print the substituted SQL) is off.
Every process is started in its own process group; pids, logs and conf live under
`<lake>/_spark/`, and `stop_cluster` ends only the groups recorded there.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path

from olist_elt.errors import OlistEltError
from olist_elt.settings import Settings
from olist_elt.transform.spark import (
    pads_conf,
    spark_conf,
    with_java_options,
    write_conf_file,
    write_private,
)

LOOPBACK = "127.0.0.1"
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
THRIFT_CLASS = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
STOP_SECONDS = 30.0
# Spark's log4j2 defaults, quieter: the Thrift Server logs each statement after
# variable substitution (the pads included) at INFO, and a failed statement's error
# (a parse error quotes the SQL) at ERROR: its statement log is off. dbt still gets
# the error over thrift.
LOG4J2 = """\
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.thrift.name = org.apache.spark.sql.hive.thriftserver
logger.thrift.level = warn
logger.statement.name = org.apache.spark.sql.hive.thriftserver.SparkExecuteStatementOperation
logger.statement.level = off
logger.hive.name = org.apache.hive.service
logger.hive.level = warn
logger.started.name = org.apache.spark.deploy
logger.started.level = info
"""


class SparkClusterError(OlistEltError):
    """The local Spark cluster could not be started, reached or stopped."""


@dataclass(frozen=True)
class ClusterProcess:
    """One process the cluster started: its role, pid (= its process group) and log."""

    role: str
    pid: int
    started: int  # the kernel's start time of the pid, so a reused pid is not ours
    log: str


@dataclass(frozen=True)
class ClusterState:
    """What `start_cluster` left in `<lake>/_spark/cluster.json`."""

    master_url: str
    thrift_host: str
    thrift_port: int
    processes: tuple[ClusterProcess, ...]


def cluster_dir(settings: Settings) -> Path:
    """Where the cluster keeps its conf, logs, pids and scratch space."""
    return settings.lake_dir / "_spark"


def spark_home() -> Path:
    """The installed pyspark, which ships bin/spark-class and the Thrift Server jar."""
    try:
        import pyspark
    except ImportError as exc:
        raise SparkClusterError("pyspark is not installed: pip install 'olist-elt[spark]'") from exc
    return Path(pyspark.__file__).resolve().parent


def port_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _start_time(pid: int) -> int | None:
    """The kernel's start time of a live pid (None when it is gone or a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return None if fields[0] == "Z" else int(fields[19])


def _alive(proc: ClusterProcess) -> bool:
    """Whether the recorded process is still the one the cluster started."""
    return _start_time(proc.pid) == proc.started


def group_members(pgid: int) -> list[int]:
    """Live pids in a process group (a worker's executors are in the worker's)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def cluster_conf(settings: Settings) -> dict[str, str]:
    """The session's Spark settings, with the cluster's JVM options added for the
    Thrift Server (the driver) and its executors.

    By default (settings.spark_cluster_java_options) the client compiler only and
    the serial collector: four JVMs on one small machine, each with the optimizing
    compiler's and G1's background threads, took CPU from the statements, and a
    cold cluster paid its JIT warm-up on its first statements. The client compiler
    alone gets the JVM's small code cache (48 MiB), which a Thrift Server filled
    ("Out of space in CodeCache", failing statements): the options reserve the 240
    MiB the JVM gives both compilers. The in-process session is one JVM, and there
    the JVM's defaults were faster at scale 1 (its own options:
    settings.spark_session_java_options)."""
    return with_java_options(
        spark_conf(settings), settings.spark_cluster_java_options, executors=True
    )


def write_conf(settings: Settings, conf_dir: Path) -> None:
    """spark-defaults.conf (the cluster's settings and the pads, mode 600) and a
    quiet log4j2.properties: the SPARK_CONF_DIR of every cluster process."""
    write_conf_file(
        conf_dir / "spark-defaults.conf", {**cluster_conf(settings), **pads_conf(settings)}
    )
    write_private(conf_dir / "log4j2.properties", LOG4J2)


def read_state(settings: Settings) -> ClusterState | None:
    """The cluster recorded under the lake, if any."""
    path = cluster_dir(settings) / "cluster.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return ClusterState(
        master_url=data["master_url"],
        thrift_host=data["thrift_host"],
        thrift_port=data["thrift_port"],
        processes=tuple(ClusterProcess(**p) for p in data["processes"]),
    )


def _write_state(settings: Settings, state: ClusterState) -> None:
    path = cluster_dir(settings) / "cluster.json"
    path.write_text(json.dumps(asdict(state), indent=2) + "\n")


class _Launcher:
    """Starts the cluster's processes, each in its own process group, and records them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = spark_home()
        self.base = cluster_dir(settings)
        self.logs = self.base / "logs"
        self.started: list[ClusterProcess] = []
        self.env = {
            **os.environ,
            "SPARK_HOME": str(self.home),
            "SPARK_CONF_DIR": str(self.base / "conf"),
            "SPARK_LOG_DIR": str(self.logs),
            "SPARK_PID_DIR": str(self.base),
            "SPARK_LOCAL_IP": LOOPBACK,
            "SPARK_WORKER_DIR": str(self.base / "work"),
            "SPARK_LOCAL_DIRS": str(self.base / "tmp"),
            "SPARK_NO_DAEMONIZE": "1",
            # the master's, workers' and Thrift Server's JVMs (the driver's and the
            # executors' options are in spark-defaults.conf too); a value of the
            # caller's own comes first, ours after it
            "SPARK_DAEMON_JAVA_OPTS": " ".join(
                part
                for part in (
                    os.environ.get("SPARK_DAEMON_JAVA_OPTS", "").strip(),
                    settings.spark_cluster_java_options.strip(),
                )
                if part
            ),
        }

    def launch(self, role: str, argv: list[str]) -> ClusterProcess:
        """Start one process with its output in logs/<role>.log."""
        log = self.logs / f"{role}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                argv,
                cwd=self.base,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started = _start_time(proc.pid)
        if started is None:
            raise SparkClusterError(f"spark {role} exited at once; see {log}")
        record = ClusterProcess(role, proc.pid, started, str(log))
        self.started.append(record)
        return record

    def spark_class(self, role: str, cls: str, *args: str) -> ClusterProcess:
        """A master or worker through bin/spark-class."""
        return self.launch(role, [str(self.home / "bin" / "spark-class"), cls, *args])


def start_cluster(settings: Settings) -> ClusterState:
    """Start master, workers and Thrift Server on the loopback and wait until the
    Thrift port answers; a cluster already running under this lake is returned as is."""
    running = read_state(settings)
    if running is not None and all(_alive(p) for p in running.processes):
        return running
    if running is not None:
        stop_cluster(settings)
    s = settings
    for port, name in (
        (s.spark_master_port, "OLIST_SPARK_MASTER_PORT"),
        (s.spark_port, "OLIST_SPARK_PORT"),
    ):
        if port_answers(LOOPBACK, port):
            raise SparkClusterError(
                f"port {port} on {LOOPBACK} is taken by another program: set {name} to a free port"
            )
    base = cluster_dir(settings)
    for sub in ("logs", "work", "tmp"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    write_conf(settings, base / "conf")
    master_url = f"spark://{LOOPBACK}:{s.spark_master_port}"
    launcher = _Launcher(settings)
    try:
        launcher.spark_class(
            "master", MASTER_CLASS, "--host", LOOPBACK, "--port", str(s.spark_master_port),
            "--webui-port", "0",
        )  # fmt: skip
        _wait_for(launcher, LOOPBACK, s.spark_master_port, s.spark_start_seconds, "master")
        for n in range(s.spark_workers):
            launcher.spark_class(
                f"worker-{n + 1}", WORKER_CLASS, "--host", LOOPBACK, "--webui-port", "0",
                "--cores", str(s.spark_worker_cores), "--memory", s.spark_worker_memory,
                "--work-dir", str(base / "work"), master_url,
            )  # fmt: skip
        launcher.launch(
            "thrift",
            [
                str(launcher.home / "bin" / "spark-submit"),
                "--master", master_url,
                "--class", THRIFT_CLASS,
                "--name", "olist-elt-thrift",
                "--driver-memory", s.spark_driver_memory,
                "--executor-memory", s.spark_worker_memory,
                "--hiveconf", f"hive.server2.thrift.port={s.spark_port}",
                "--hiveconf", f"hive.server2.thrift.bind.host={LOOPBACK}",
                "spark-internal",
            ],
        )  # fmt: skip
        state = ClusterState(master_url, LOOPBACK, s.spark_port, tuple(launcher.started))
        _write_state(settings, state)
        _wait_for(launcher, LOOPBACK, s.spark_port, s.spark_start_seconds, "thrift")
    except BaseException:
        _write_state(
            settings, ClusterState(master_url, LOOPBACK, s.spark_port, tuple(launcher.started))
        )
        stop_cluster(settings)
        raise
    return state


def _wait_for(launcher: _Launcher, host: str, port: int, seconds: float, role: str) -> None:
    """Wait until host:port answers; fail early when a started process died."""
    deadline = time.monotonic() + seconds
    while not port_answers(host, port):
        dead = [p for p in launcher.started if not _alive(p)]
        if dead:
            raise SparkClusterError(
                f"spark {dead[0].role} stopped while the cluster started; see {dead[0].log}"
            )
        if time.monotonic() > deadline:
            raise SparkClusterError(
                f"spark {role} did not answer on {host}:{port} within {seconds:g}s; "
                f"see {launcher.logs} (or raise OLIST_SPARK_START_SECONDS)"
            )
        time.sleep(0.5)


def stop_cluster(settings: Settings, timeout: float = STOP_SECONDS) -> list[str]:
    """Stop the process groups this lake's cluster started (Thrift Server, workers with
    their executors, master); roles stopped. Nothing else is signalled."""
    state = read_state(settings)
    if state is None:
        return []
    stopped = []
    for proc in reversed(state.processes):
        if _alive(proc) or group_members(proc.pid):
            _stop_group(proc, timeout)
            stopped.append(proc.role)
    (cluster_dir(settings) / "cluster.json").unlink()
    return stopped


def _stop_group(proc: ClusterProcess, timeout: float) -> None:
    """SIGTERM the process group, then SIGKILL what is left after timeout."""
    with suppress(ProcessLookupError):  # the group ended on its own
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while group_members(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if group_members(proc.pid):
        with suppress(ProcessLookupError):  # the group ended on its own
            os.killpg(proc.pid, signal.SIGKILL)
        while group_members(proc.pid) and time.monotonic() < deadline + timeout:
            time.sleep(0.2)
    if group_members(proc.pid):
        raise SparkClusterError(f"spark {proc.role} (process group {proc.pid}) did not stop")


@dataclass(frozen=True)
class ClusterStatus:
    """Which recorded processes live and whether the Thrift port answers."""

    running: dict[str, bool]
    thrift_answers: bool
    thrift: str

    @property
    def up(self) -> bool:
        """Every process alive and the Thrift Server answering."""
        return bool(self.running) and all(self.running.values()) and self.thrift_answers


def cluster_status(settings: Settings) -> ClusterStatus:
    """The state of this lake's cluster."""
    state = read_state(settings)
    address = f"{settings.spark_host}:{settings.spark_port}"
    if state is None:
        return ClusterStatus({}, port_answers(settings.spark_host, settings.spark_port), address)
    address = f"{state.thrift_host}:{state.thrift_port}"
    return ClusterStatus(
        {p.role: _alive(p) for p in state.processes},
        port_answers(state.thrift_host, state.thrift_port),
        address,
    )
