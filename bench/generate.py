"""Deterministic STIX 2.1 test corpus shaped like MITRE ATT&CK plus an indicator feed.

Every object is a pure function of ``(seed, kind, index)``: its identifier can be computed
without building it, which lets relationships and later versions point at objects that are
emitted elsewhere in the stream, and lets the generator stream millions of objects in
constant memory.

Contents, for a requested total ``n`` (every version counts as one object):

* the five TLP 2.0 marking definitions;
* identities, attack-patterns (kill chain phases, ATT&CK external references,
  ``x_mitre_*`` properties, some sub-techniques), intrusion-sets, malware, tools;
* indicators (``pattern_type`` stix) with varied patterns: IPv4 / CIDR, domains, URLs, file
  hashes, AND / OR / FOLLOWEDBY, IN / LIKE / MATCHES, WITHIN / REPEATS / START-STOP;
* SCOs (ipv4-addr, domain-name, url, file with hashes) with deterministic UUIDv5 ids;
* relationships (uses, targets, indicates, subtechnique-of) between those objects;
* later versions of some SDOs (same id, later ``modified``).

Output is one bundle, one object per line, so it is also easy to stream by line.

    python -m bench.generate --size 25000 --seed 7      # prints the cached file's path
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

GENERATOR_VERSION = 2  # bump when the output changes: it is part of every cache key
DEFAULT_SEED = 20240229
CACHE_DIR = Path(__file__).resolve().parent / ".cache"

SCO_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")  # STIX 2.1 spec, 2.9
TLP_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP_MARKINGS = {  # TLP 2.0 marking definitions, fixed ids
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
TLP_WEIGHTS = [("clear", 30), ("green", 40), ("amber", 20), ("amber+strict", 5), ("red", 5)]

# Shares of the total (after the five markings); relationships take the remainder.
SHARES = {
    "identity": 0.004,
    "attack-pattern": 0.03,
    "intrusion-set": 0.006,
    "malware": 0.02,
    "tool": 0.005,
    "indicator": 0.38,
    "ipv4-addr": 0.09,
    "domain-name": 0.07,
    "url": 0.04,
    "file": 0.05,
    "version": 0.04,  # extra versions of SDOs emitted earlier
}
SDO_KINDS = ("attack-pattern", "intrusion-set", "malware", "tool", "indicator")
SCO_KINDS = ("ipv4-addr", "domain-name", "url", "file")
MIN_SIZE = 100

TACTICS = [
    "reconnaissance", "resource-development", "initial-access", "execution", "persistence",
    "privilege-escalation", "defense-evasion", "credential-access", "discovery",
    "lateral-movement", "collection", "command-and-control", "exfiltration", "impact",
]  # fmt: skip
PLATFORMS = ["Windows", "Linux", "macOS", "Network", "Containers", "IaaS", "SaaS", "Office 365"]
MALWARE_TYPES = [
    "backdoor", "bot", "downloader", "dropper", "keylogger", "ransomware",
    "remote-access-trojan", "spyware", "trojan", "worm", "rootkit", "wiper",
]  # fmt: skip
TOOL_TYPES = [
    "denial-of-service", "exploitation", "information-gathering", "network-capture",
    "credential-exploitation", "remote-access", "vulnerability-scanning",
]  # fmt: skip
INDICATOR_TYPES = [
    "malicious-activity", "anomalous-activity", "attribution", "compromised", "benign",
]  # fmt: skip
SECTORS = [
    "financial-services", "government-national", "healthcare", "energy", "technology",
    "telecommunications", "defense", "education", "manufacturing", "retail",
]  # fmt: skip
TLDS = ["com", "net", "org", "info", "ru", "cn", "xyz", "top", "io", "biz", "co", "online"]
SYLLABLES = [
    "ka", "zo", "mi", "tech", "net", "sec", "cloud", "up", "da", "te", "lo", "vi",
    "ra", "no", "web", "mail", "cdn", "api", "go", "in", "sys", "pro", "data", "link",
]  # fmt: skip
WORDS = [
    "adversary",
    "actor",
    "payload",
    "loader",
    "beacon",
    "persistence",
    "registry",
    "credential",
    "lateral",
    "movement",
    "exfiltration",
    "command",
    "control",
    "server",
    "implant",
    "dropper",
    "phishing",
    "attachment",
    "macro",
    "script",
    "powershell",
    "process",
    "injection",
    "memory",
    "service",
    "scheduled",
    "task",
    "token",
    "privilege",
    "escalation",
    "discovery",
    "network",
    "share",
    "archive",
    "encryption",
    "obfuscated",
    "encoded",
    "staging",
    "host",
    "domain",
    "campaign",
    "infrastructure",
    "victim",
    "sector",
    "espionage",
    "financially",
    "motivated",
    "targets",
    "uses",
    "observed",
    "reported",
    "variant",
    "module",
    "plugin",
    "configuration",
    "update",
    "backdoor",
    "access",
    "remote",
]  # noqa: SIM905
EXTENSIONS = ["exe", "dll", "ps1", "js", "vbs", "doc", "xlsm", "zip", "lnk", "iso", "bin", "sh"]
HASH_ORDER = ("MD5", "SHA-1", "SHA-256")

BASE_TIME = datetime(2019, 1, 1, tzinfo=UTC)
SPAN_SECONDS = 5 * 365 * 86400


# --------------------------------------------------------------------------- helpers


def ts(dt: datetime) -> str:
    """STIX timestamp with millisecond precision."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _digest(*parts: object) -> bytes:
    return hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=32).digest()


def _base36(k: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        k, r = divmod(k, 36)
        out = digits[r] + out
        if not k:
            return out


def sco_id(kind: str, contributing: dict[str, Any]) -> str:
    """Deterministic SCO identifier: UUIDv5 over the canonical JSON of its ID properties."""
    data = json.dumps(contributing, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{kind}--{uuid.uuid5(SCO_NAMESPACE, data)}"


class Plan:
    """How many objects of each kind a corpus of ``size`` objects has, and their ids."""

    def __init__(self, size: int, seed: int) -> None:
        if size < MIN_SIZE:
            raise ValueError(f"size must be at least {MIN_SIZE}")
        self.size = size
        self.seed = seed
        rest = size - len(TLP_MARKINGS)
        counts = {k: max(1, int(rest * share)) for k, share in SHARES.items()}
        counts["relationship"] = rest - sum(counts.values())
        if counts["relationship"] < 1:
            raise ValueError("size too small for the corpus plan")
        self.counts = counts
        self._sdo_ids: dict[tuple[str, int], str] = {}

    # ids ---------------------------------------------------------------------------

    def sdo_id(self, kind: str, index: int) -> str:
        d = bytearray(_digest(self.seed, kind, index)[:16])
        d[6] = (d[6] & 0x0F) | 0x40  # version 4
        d[8] = (d[8] & 0x3F) | 0x80  # RFC 4122 variant
        return f"{kind}--{uuid.UUID(bytes=bytes(d))}"

    def identity_id(self, index: int) -> str:
        return self.sdo_id("identity", index)

    # SCO values (index may exceed the SCO counts: indicators also name unseen values) -----

    def ipv4(self, k: int) -> str:
        v = (k * 2654435761 + self.seed * 40503 + 0x0B000000) & 0xFFFFFFFF
        a = 1 + (v >> 24) % 223  # 1..223, no multicast / reserved first octet
        return f"{a}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}"

    def domain(self, k: int) -> str:
        d = _digest(self.seed, "domain", k)
        left = "".join(SYLLABLES[b % len(SYLLABLES)] for b in d[: 2 + d[30] % 3])
        return f"{left}{_base36(k)}.{TLDS[d[31] % len(TLDS)]}"  # unique per k

    def url(self, k: int) -> str:
        d = _digest(self.seed, "url", k)
        path = "/".join(WORDS[b % len(WORDS)] for b in d[: 1 + d[29] % 3])
        scheme = "https" if d[28] & 1 else "http"
        return f"{scheme}://{self.domain(k * 7 + 3)}/{path}/{d[27]:02x}{k}.{EXTENSIONS[d[26] % 12]}"

    def file_hashes(self, k: int) -> dict[str, str]:
        d = hashlib.sha512(f"{self.seed}:file:{k}".encode()).digest()
        return {
            "MD5": hashlib.md5(d).hexdigest(),
            "SHA-1": hashlib.sha1(d).hexdigest(),
            "SHA-256": hashlib.sha256(d).hexdigest(),
        }

    def file_name(self, k: int) -> str:
        d = _digest(self.seed, "fname", k)
        stem = WORDS[d[0] % len(WORDS)] + WORDS[d[1] % len(WORDS)]
        return f"{stem}{d[2]}.{EXTENSIONS[d[3] % len(EXTENSIONS)]}"

    def sco(self, kind: str, k: int) -> dict[str, Any]:
        if kind == "file":
            hashes = self.file_hashes(k)
            name = self.file_name(k)
            obj_id = sco_id("file", {"hashes": {"MD5": hashes["MD5"]}, "name": name})
            size = 1024 + _digest(self.seed, "fsize", k)[0] * 4096
            return {
                "type": "file",
                "spec_version": "2.1",
                "id": obj_id,
                "hashes": hashes,
                "name": name,
                "size": size,
            }
        value = {"ipv4-addr": self.ipv4, "domain-name": self.domain, "url": self.url}[kind](k)
        return {
            "type": kind,
            "spec_version": "2.1",
            "id": sco_id(kind, {"value": value}),
            "value": value,
        }


# --------------------------------------------------------------------------- object builders


class Builder:
    def __init__(self, plan: Plan) -> None:
        self.p = plan
        self.seed = plan.seed
        self.c = plan.counts
        self.mitre = plan.identity_id(0)

    def rng(self, kind: str, index: int) -> random.Random:
        return random.Random(f"{self.seed}:{kind}:{index}")

    @staticmethod
    def when(r: random.Random) -> datetime:
        return BASE_TIME + timedelta(
            seconds=r.randrange(SPAN_SECONDS), milliseconds=r.randrange(1000)
        )

    @staticmethod
    def tlp(r: random.Random) -> list[str]:
        x = r.randrange(100)
        for name, weight in TLP_WEIGHTS:
            if x < weight:
                return [TLP_MARKINGS[name]]
            x -= weight
        return [TLP_MARKINGS["clear"]]

    @staticmethod
    def text(r: random.Random, lo: int, hi: int) -> str:
        words = [r.choice(WORDS) for _ in range(r.randint(lo, hi))]
        return " ".join(words).capitalize() + "."

    def creator(self, r: random.Random) -> str:
        return self.p.identity_id(r.randrange(self.c["identity"]))

    def common(self, kind: str, index: int, r: random.Random, version: int) -> dict[str, Any]:
        created = self.when(r)
        modified = created + timedelta(days=r.randrange(0, 60), seconds=r.randrange(86400))
        if version:
            modified += timedelta(days=30 * version, milliseconds=version)
        return {
            "type": kind,
            "spec_version": "2.1",
            "id": self.p.sdo_id(kind, index),
            "created": ts(created),
            "modified": ts(modified),
        }

    # ATT&CK-shaped ------------------------------------------------------------------

    def attack_ref(self, prefix: str, number: int, sub: int | None = None) -> dict[str, str]:
        ext = f"{prefix}{number:04d}" + (f".{sub:03d}" if sub is not None else "")
        path = {"T": "techniques", "G": "groups", "S": "software"}[prefix]
        url = f"https://attack.mitre.org/{path}/{prefix}{number:04d}"
        if sub is not None:
            url += f"/{sub:03d}"
        return {"source_name": "mitre-attack", "url": url, "external_id": ext}

    def citation(self, r: random.Random) -> dict[str, str]:
        name = f"{r.choice(WORDS).capitalize()} {2015 + r.randrange(10)}"
        return {
            "source_name": name,
            "description": self.text(r, 6, 14),
            "url": f"https://{self.p.domain(r.randrange(5000))}/blog/{r.choice(WORDS)}-{r.randrange(10**6)}",
        }

    def mitre_extras(self, r: random.Random, version: int) -> dict[str, Any]:
        return {
            "x_mitre_version": f"{1 + version}.{r.randrange(4)}",
            "x_mitre_domains": ["enterprise-attack"],
            "x_mitre_attack_spec_version": "3.1.0",
            "x_mitre_modified_by_ref": self.mitre,
        }

    def attack_pattern(self, i: int, version: int = 0) -> dict[str, Any]:
        r = self.rng("attack-pattern", i)
        o = self.common("attack-pattern", i, r, version)
        sub = i % 3 != 0  # two thirds are sub-techniques, like ATT&CK
        number = 1000 + i // 3
        name = " ".join(r.choice(WORDS) for _ in range(r.randint(2, 4))).title()
        phases = r.sample(TACTICS, r.randint(1, 3))
        refs = [self.attack_ref("T", number, (i % 3) if sub else None)]
        refs += [self.citation(r) for _ in range(r.randint(0, 3))]
        o.update(
            created_by_ref=self.mitre,
            name=name,
            description=self.text(r, 25, 80),
            kill_chain_phases=[
                {"kill_chain_name": "mitre-attack", "phase_name": p} for p in phases
            ],
            external_references=refs,
            object_marking_refs=[TLP_MARKINGS["clear"]],
            x_mitre_platforms=r.sample(PLATFORMS, r.randint(1, 3)),
            x_mitre_is_subtechnique=sub,
            x_mitre_detection=self.text(r, 8, 30),
        )
        o.update(self.mitre_extras(r, version))
        return o

    def intrusion_set(self, i: int, version: int = 0) -> dict[str, Any]:
        r = self.rng("intrusion-set", i)
        o = self.common("intrusion-set", i, r, version)
        name = f"{r.choice(WORDS).capitalize()} {r.choice(['Panda', 'Bear', 'Kitten', 'Spider', 'Chollima', 'Typhoon'])} {i}"
        o.update(
            created_by_ref=self.mitre,
            name=name,
            description=self.text(r, 20, 60),
            aliases=[name, f"APT{100 + i}", f"TA{400 + i}"],
            first_seen=o["created"],
            goals=r.sample(
                ["espionage", "financial gain", "disruption", "intellectual property"], 2
            ),
            resource_level=r.choice(["individual", "club", "organization", "government"]),
            primary_motivation=r.choice(
                ["ideology", "organizational-gain", "personal-gain", "dominance"]
            ),
            external_references=[self.attack_ref("G", i)]
            + [self.citation(r) for _ in range(r.randint(1, 4))],
            object_marking_refs=[TLP_MARKINGS["clear"]],
        )
        o.update(self.mitre_extras(r, version))
        return o

    def malware(self, i: int, version: int = 0) -> dict[str, Any]:
        r = self.rng("malware", i)
        o = self.common("malware", i, r, version)
        name = f"{r.choice(WORDS).capitalize()}{r.choice(['Rat', 'Loader', 'Bot', 'Stealer', 'Locker', 'Agent'])}{i}"
        o.update(
            created_by_ref=self.mitre,
            name=name,
            description=self.text(r, 15, 50),
            is_family=True,
            malware_types=r.sample(MALWARE_TYPES, r.randint(1, 3)),
            aliases=[name],
            kill_chain_phases=[
                {"kill_chain_name": "mitre-attack", "phase_name": p}
                for p in r.sample(TACTICS, r.randint(1, 2))
            ],
            external_references=[self.attack_ref("S", i)]
            + [self.citation(r) for _ in range(r.randint(0, 3))],
            object_marking_refs=[TLP_MARKINGS["clear"]],
            x_mitre_platforms=r.sample(PLATFORMS, r.randint(1, 3)),
        )
        o.update(self.mitre_extras(r, version))
        return o

    def tool(self, i: int, version: int = 0) -> dict[str, Any]:
        r = self.rng("tool", i)
        o = self.common("tool", i, r, version)
        name = f"{r.choice(WORDS)}{r.choice(['exec', 'dump', 'scan', 'cat', 'ctl', 'kit'])}{i}"
        o.update(
            created_by_ref=self.mitre,
            name=name,
            description=self.text(r, 10, 40),
            tool_types=r.sample(TOOL_TYPES, r.randint(1, 2)),
            external_references=[self.attack_ref("S", 5000 + i)],
            object_marking_refs=[TLP_MARKINGS["clear"]],
            x_mitre_platforms=r.sample(PLATFORMS, r.randint(1, 2)),
        )
        o.update(self.mitre_extras(r, version))
        return o

    def identity(self, i: int) -> dict[str, Any]:
        r = self.rng("identity", i)
        o = self.common("identity", i, r, 0)
        if i == 0:
            o.update(name="The MITRE Corporation", identity_class="organization")
        else:
            o.update(
                name=f"{r.choice(WORDS).capitalize()} {r.choice(['Bank', 'Ministry', 'Energy', 'Telecom', 'Health', 'Labs'])} {i}",
                identity_class=r.choice(["organization", "organization", "group", "class"]),
                sectors=r.sample(SECTORS, r.randint(1, 2)),
                contact_information=f"soc@{self.p.domain(i)}",
            )
        o["object_marking_refs"] = [TLP_MARKINGS["clear"]]
        return o

    # indicators ---------------------------------------------------------------------

    def pattern(self, r: random.Random) -> tuple[str, list[str]]:
        p = self.p
        c = self.c
        ip = lambda: p.ipv4(r.randrange(2 * c["ipv4-addr"]))  # noqa: E731
        dom = lambda: p.domain(r.randrange(2 * c["domain-name"]))  # noqa: E731
        url = lambda: p.url(r.randrange(2 * c["url"]))  # noqa: E731
        hashes = lambda: p.file_hashes(r.randrange(2 * c["file"]))  # noqa: E731
        x = r.randrange(100)
        if x < 18:
            return f"[ipv4-addr:value = '{ip()}']", ["malicious-activity"]
        if x < 22:
            net = ip().rsplit(".", 1)[0] + ".0/24"
            return f"[ipv4-addr:value ISSUBSET '{net}']", ["anomalous-activity"]
        if x < 36:
            return f"[domain-name:value = '{dom()}']", ["malicious-activity"]
        if x < 44:
            return f"[url:value = '{url()}']", ["malicious-activity"]
        if x < 60:
            return f"[file:hashes.'SHA-256' = '{hashes()['SHA-256']}']", ["malicious-activity"]
        if x < 66:
            h = hashes()
            return f"[file:hashes.MD5 = '{h['MD5']}' OR file:hashes.'SHA-1' = '{h['SHA-1']}']", [
                "malicious-activity"
            ]
        if x < 70:
            k = r.randrange(2 * c["file"])
            return f"[file:name = '{p.file_name(k)}' AND file:size > {1024 * r.randint(1, 900)}]", [
                "anomalous-activity"
            ]
        if x < 75:
            port = r.choice([443, 8443, 80, 8080, 4444, 53, 22, 3389])
            return (
                f"[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '{ip()}'"
                f" AND network-traffic:dst_port = {port}]",
                ["malicious-activity"],
            )
        if x < 80:
            return (
                f"([ipv4-addr:value = '{ip()}'] AND [domain-name:value = '{dom()}']) WITHIN {r.choice([60, 300, 3600])} SECONDS",
                ["malicious-activity", "attribution"],
            )
        if x < 84:
            doms = ", ".join(f"'{dom()}'" for _ in range(r.randint(2, 4)))
            return f"[domain-name:value IN ({doms})]", ["malicious-activity"]
        if x < 87:
            return f"[url:value LIKE '%{dom()}/%']", ["anomalous-activity"]
        if x < 89:
            return f"[process:name MATCHES '^{r.choice(WORDS)}[0-9]+[.]exe$']", [
                "anomalous-activity"
            ]
        if x < 92:
            return (
                f"[file:hashes.'SHA-256' = '{hashes()['SHA-256']}'] REPEATS {r.randint(2, 5)} TIMES WITHIN 600 SECONDS",
                ["malicious-activity"],
            )
        if x < 95:
            start = self.when(r)
            stop = start + timedelta(days=r.randint(1, 90))
            user = r.choice(WORDS)
            return (
                f"[email-addr:value = '{user}@{dom()}'] START t'{start:%Y-%m-%dT%H:%M:%SZ}' STOP t'{stop:%Y-%m-%dT%H:%M:%SZ}'",
                ["malicious-activity"],
            )
        if x < 98:
            return (
                f"[ipv4-addr:value = '{ip()}' OR ipv4-addr:value = '{ip()}'] FOLLOWEDBY [domain-name:value = '{dom()}']",
                ["malicious-activity"],
            )
        key = f"HKEY_LOCAL_MACHINE\\\\Software\\\\Microsoft\\\\Windows\\\\CurrentVersion\\\\Run\\\\{r.choice(WORDS)}"
        return f"[windows-registry-key:key = '{key}']", ["compromised"]

    def indicator(self, i: int, version: int = 0) -> dict[str, Any]:
        r = self.rng("indicator", i)
        o = self.common("indicator", i, r, version)
        pattern, types = self.pattern(r)
        o.update(created_by_ref=self.creator(r), name=f"IOC {i}")
        if r.random() < 0.5:
            o["description"] = self.text(r, 5, 25)
        o.update(
            indicator_types=types,
            pattern=pattern,
            pattern_type="stix",
            pattern_version="2.1",
            valid_from=o["created"],
        )
        if r.random() < 0.4:
            until = datetime.strptime(o["modified"], "%Y-%m-%dT%H:%M:%S.%f%z") + timedelta(
                days=r.randint(30, 365)
            )
            o["valid_until"] = ts(until)
        if r.random() < 0.3:
            o["kill_chain_phases"] = [
                {"kill_chain_name": "mitre-attack", "phase_name": r.choice(TACTICS)}
            ]
        if r.random() < 0.3:
            o["labels"] = r.sample(
                ["apt", "crimeware", "c2", "phishing", "botnet", "scanner"], r.randint(1, 2)
            )
        o["confidence"] = r.choice([15, 50, 75, 85, 100])
        if r.random() < 0.2:
            o["external_references"] = [self.citation(r)]
        o["object_marking_refs"] = self.tlp(r)
        if version:
            o["confidence"] = min(100, o["confidence"] + 5 * version)
        return o

    # relationships ------------------------------------------------------------------

    REL_MIX = [  # (weight, relationship_type, source kind, target kind)
        (30, "uses", "intrusion-set", "attack-pattern"),
        (10, "uses", "intrusion-set", "malware"),
        (5, "uses", "intrusion-set", "tool"),
        (14, "uses", "malware", "attack-pattern"),
        (3, "uses", "tool", "attack-pattern"),
        (3, "targets", "intrusion-set", "identity"),
        (2, "targets", "malware", "identity"),
        (20, "indicates", "indicator", "malware"),
        (10, "indicates", "indicator", "intrusion-set"),
        (3, "subtechnique-of", "attack-pattern", "attack-pattern"),
    ]

    def _pick_relationship(self, x: int) -> tuple[str, str, str]:
        for weight, rel, src, dst in self.REL_MIX:
            if x < weight:
                return rel, src, dst
            x -= weight
        return self.REL_MIX[-1][1:]

    def relationship(self, i: int) -> dict[str, Any]:
        r = self.rng("relationship", i)
        o = self.common("relationship", i, r, 0)
        rel, src, dst = self._pick_relationship(r.randrange(100))
        count = self.c
        src_i = r.randrange(count[src])
        dst_i = r.randrange(count[dst])
        if dst == "identity":
            dst_i = 1 + r.randrange(max(1, count["identity"] - 1)) if count["identity"] > 1 else 0
        o.update(
            created_by_ref=self.mitre if src != "indicator" else self.creator(r),
            relationship_type=rel,
            source_ref=self.p.sdo_id(src, src_i),
            target_ref=self.p.sdo_id(dst, dst_i),
        )
        if r.random() < 0.6:
            o["description"] = self.text(r, 6, 30)
        if src != "indicator" and r.random() < 0.5:
            o["external_references"] = [self.citation(r)]
        o["object_marking_refs"] = self.tlp(r) if src == "indicator" else [TLP_MARKINGS["clear"]]
        return o

    def build(self, kind: str, i: int, version: int = 0) -> dict[str, Any]:
        return {
            "attack-pattern": self.attack_pattern,
            "intrusion-set": self.intrusion_set,
            "malware": self.malware,
            "tool": self.tool,
            "indicator": self.indicator,
        }[kind](i, version)


def tlp_markings() -> Iterator[dict[str, Any]]:
    for name, marking_id in TLP_MARKINGS.items():
        yield {
            "type": "marking-definition",
            "spec_version": "2.1",
            "id": marking_id,
            "created": "2022-10-01T00:00:00.000Z",
            "name": f"TLP:{name.upper()}",
            "extensions": {
                TLP_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": name}
            },
        }


def iter_objects(size: int, seed: int = DEFAULT_SEED) -> Iterator[dict[str, Any]]:
    """Yield exactly ``size`` objects (deterministic for a given size and seed)."""
    plan = Plan(size, seed)
    b = Builder(plan)
    c = plan.counts
    yield from tlp_markings()
    for i in range(c["identity"]):
        yield b.identity(i)
    for kind in ("attack-pattern", "intrusion-set", "malware", "tool"):
        for i in range(c[kind]):
            yield b.build(kind, i)

    # The bulk (indicators, SCOs, relationships, later versions) is interleaved in a
    # deterministic shuffled order, as a feed would deliver it.
    order = random.Random(f"{seed}:order")
    remaining = {k: c[k] for k in ("indicator", *SCO_KINDS, "relationship", "version")}
    emitted = dict.fromkeys(remaining, 0)
    versions_of: dict[tuple[str, int], int] = {}
    total = sum(remaining.values())
    kinds = list(remaining)
    weights = [remaining[k] for k in kinds]
    for _ in range(total):
        kind = order.choices(kinds, weights)[0]
        while emitted[kind] >= remaining[kind]:  # exhausted: take the next kind with room
            kind = kinds[(kinds.index(kind) + 1) % len(kinds)]
        i = emitted[kind]
        emitted[kind] += 1
        if kind == "indicator":
            yield b.indicator(i)
        elif kind in SCO_KINDS:
            yield plan.sco(kind, i)
        elif kind == "relationship":
            yield b.relationship(i)
        else:  # a later version of an ATT&CK object or of an indicator already emitted
            if order.random() < 0.3 or emitted["indicator"] == 0:
                src = order.choice(("attack-pattern", "intrusion-set", "malware", "tool"))
                j = order.randrange(c[src])
            else:
                src, j = "indicator", order.randrange(emitted["indicator"])
            v = versions_of.get((src, j), 0) + 1
            versions_of[(src, j)] = v
            yield b.build(src, j, v)


# --------------------------------------------------------------------------- files


def bundle_path(size: int, seed: int = DEFAULT_SEED) -> Path:
    return CACHE_DIR / f"bundle-{size}-s{seed}-g{GENERATOR_VERSION}.json"


def write_bundle(path: Path, size: int, seed: int = DEFAULT_SEED) -> Counter[str]:
    counts: Counter[str] = Counter()
    bundle_id = f"bundle--{uuid.UUID(bytes=_digest(seed, 'bundle', size)[:16], version=4)}"
    tmp = path.with_suffix(".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tmp.open("wb") as fh:
        fh.write(b'{"type":"bundle","id":"' + bundle_id.encode() + b'","objects":[\n')
        first = True
        for obj in iter_objects(size, seed):
            if not first:
                fh.write(b",\n")
            first = False
            fh.write(orjson.dumps(obj))
            counts[obj["type"]] += 1
        fh.write(b"\n]}\n")
    os.replace(tmp, path)
    path.with_suffix(".counts.json").write_bytes(orjson.dumps(dict(sorted(counts.items()))))
    return counts


def ensure_bundle(size: int, seed: int = DEFAULT_SEED, log: Any = None) -> Path:
    """The cached bundle for (size, seed), generated on first use."""
    path = bundle_path(size, seed)
    if not path.exists():
        if log:
            log(f"generating {size:,} objects (seed {seed}) -> {path.name}")
        write_bundle(path, size, seed)
    return path


def type_counts(size: int, seed: int = DEFAULT_SEED) -> dict[str, int]:
    path = ensure_bundle(size, seed).with_suffix(".counts.json")
    return orjson.loads(path.read_bytes())


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--size", type=int, default=25_000)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--force", action="store_true", help="regenerate even if cached")
    args = ap.parse_args()
    path = bundle_path(args.size, args.seed)
    if args.force or not path.exists():
        counts = write_bundle(path, args.size, args.seed)
        print(json.dumps(dict(sorted(counts.items()))))
    print(path)


if __name__ == "__main__":
    main()
