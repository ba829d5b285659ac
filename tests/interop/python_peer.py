"""A peer process for the interop tests: drives the official Python Stash client.

Reads one JSON command per line on stdin and writes one JSON answer per line on stdout, so a
Deno test can run the real `stash-client` package (module `stash`) against the embedded
server. Nothing else is written to stdout; diagnostics go to stderr.

First line written: {"ready": true, "version": "<stash-client version>", "python": "..."}
(or {"ready": false, "error": "..."} and exit status 3 when `stash` cannot be imported).

Command:  {"id": 1, "op": "set", "client": {"url": "...", "zk_key": "...", "token": "..."},
           "key": "app/x", "value": "text", "fmt": "json"}
Answer:   {"id": 1, "ok": true, "result": ...}
      or  {"id": 1, "ok": false, "error": {"type": "NotFoundError", "message": "...",
                                          "status": 404}}

Operations: ping, set, get, get_bytes (result in base64), get_or_default, delete, list, info,
subscribe (starts a subscription in a thread; result is its id), events (waits for `count`
events of a subscription, at most `timeout` seconds), unsubscribe, exit.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import traceback
from typing import Any

try:
    from importlib.metadata import version as package_version

    import stash
    from stash import Client

    STASH_VERSION = package_version("stash-client")
except Exception as import_error:  # noqa: BLE001 - reported to the driver, then exit
    sys.stdout.write(json.dumps({"ready": False, "error": repr(import_error)}) + "\n")
    sys.stdout.flush()
    sys.exit(3)


class Peer:
    """The state of one peer process: its clients and subscriptions."""

    def __init__(self) -> None:
        self.clients: dict[str, Client] = {}
        self.subscriptions: dict[int, dict[str, Any]] = {}
        self.next_subscription = 1

    def client(self, spec: dict[str, Any]) -> Client:
        """One cached client per distinct (url, zk_key, token, timeout, retries)."""
        cache_key = json.dumps(spec, sort_keys=True)
        found = self.clients.get(cache_key)
        if found is None:
            options: dict[str, Any] = {"token": spec.get("token"), "zk_key": spec.get("zk_key")}
            if "timeout" in spec:
                options["timeout"] = float(spec["timeout"])
            if "retries" in spec:
                options["retries"] = int(spec["retries"])
            found = Client(spec["url"], **options)
            self.clients[cache_key] = found
        return found

    def run(self, command: dict[str, Any]) -> Any:
        op = command["op"]
        client = self.client(command["client"]) if "client" in command else None
        if op == "ping":
            client.ping()
            return None
        if op == "set":
            if "fmt" in command:
                client.set(command["key"], command["value"], fmt=command["fmt"])
            else:
                client.set(command["key"], command["value"])
            return None
        if op == "get":
            return client.get(command["key"])
        if op == "get_bytes":
            return base64.b64encode(client.get_bytes(command["key"])).decode("ascii")
        if op == "get_or_default":
            return client.get_or_default(command["key"], command["default"])
        if op == "delete":
            client.delete(command["key"])
            return None
        if op == "list":
            return [key_info(item) for item in client.list(command.get("prefix", ""))]
        if op == "info":
            return key_info(client.info(command["key"]))
        if op == "subscribe":
            return self.subscribe(client, command)
        if op == "events":
            return self.events(command["subscription"], command["count"], command["timeout"])
        if op == "unsubscribe":
            entry = self.subscriptions.pop(command["subscription"], None)
            if entry is not None:
                entry["subscription"].close()
            return None
        raise ValueError(f"unknown op {op!r}")

    def subscribe(self, client: Client, command: dict[str, Any]) -> int:
        kind = command["kind"]
        if kind == "key":
            subscription = client.subscribe(command["target"])
        elif kind == "prefix":
            subscription = client.subscribe_prefix(command["target"])
        else:
            subscription = client.subscribe_all()
        entry: dict[str, Any] = {
            "subscription": subscription,
            "events": [],
            "changed": threading.Condition(),
        }

        def pump() -> None:
            # Blocks in the HTTP read until an event arrives; the thread is a daemon, so it
            # ends with the process even while the server still holds the stream open.
            for event in subscription:
                with entry["changed"]:
                    entry["events"].append(
                        {"key": event.key, "action": event.action, "timestamp": event.timestamp}
                    )
                    entry["changed"].notify_all()

        threading.Thread(target=pump, daemon=True).start()
        number = self.next_subscription
        self.next_subscription += 1
        self.subscriptions[number] = entry
        return number

    def events(self, number: int, count: int, timeout: float) -> list[dict[str, str]]:
        entry = self.subscriptions[number]
        with entry["changed"]:
            entry["changed"].wait_for(lambda: len(entry["events"]) >= count, timeout=timeout)
            return list(entry["events"])


def key_info(info: stash.KeyInfo) -> dict[str, Any]:
    return {
        "key": info.key,
        "size": info.size,
        "format": info.format,
        "secret": info.secret,
        "zk_encrypted": info.zk_encrypted,
        "created_at": info.created_at.isoformat(),
        "updated_at": info.updated_at.isoformat(),
    }


def describe_error(error: BaseException) -> dict[str, Any]:
    described: dict[str, Any] = {
        "type": type(error).__name__,
        "module": type(error).__module__,
        "message": str(error),
    }
    status = getattr(error, "status_code", None)
    if status is not None:
        described["status"] = status
    return described


def write(answer: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(answer, ensure_ascii=True) + "\n")
    sys.stdout.flush()


def main() -> int:
    write({"ready": True, "version": STASH_VERSION, "python": sys.version.split()[0]})
    peer = Peer()
    for line in sys.stdin:
        if not line.strip():
            continue
        command_id = None
        try:
            command = json.loads(line)
            command_id = command.get("id")
            if command.get("op") == "exit":
                write({"id": command_id, "ok": True, "result": None})
                return 0
            write({"id": command_id, "ok": True, "result": peer.run(command)})
        except Exception as error:  # noqa: BLE001 - every failure is an answer
            if not isinstance(error, stash.StashError):
                traceback.print_exc(file=sys.stderr)
            write({"id": command_id, "ok": False, "error": describe_error(error)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
