"""Checkpoint repository: take a checkpoint of the chain heads, and load a key's checkpoints.

A checkpoint signs only heads that extend the key's previous checkpoint of the account:
the entries added since are re-linked from the checkpointed hash first. Otherwise someone
who rewrote an account's history and recomputed its chain would have the next checkpoint
vouch for the forgery.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import RowMapping, insert, text
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.domain.chain import link
from ledger.domain.checkpoint import Checkpoint, CheckpointKey, Head, seal
from ledger.domain.model import Bucket, Entry, Side
from ledger.storage.tables import checkpoint_heads, checkpoints

log = logging.getLogger(__name__)

# Checkpoint takers (one per replica) queue here; a fixed key of this application's choosing.
_LOCK_KEY = 0x6B65656C_6C6564  # "keelled"

_LATEST = """
SELECT sequence, mac FROM checkpoints WHERE key_id = :key_id ORDER BY sequence DESC LIMIT 1
"""

# Accounts whose chain grew since the key's last checkpoint of them, with where it was then.
_MOVED = """
SELECT b.account_id::text AS account_id, b.entry_count, b.head_hash,
       coalesce(p.entry_count, 0) AS after, coalesce(p.head_hash, ''::bytea) AS after_hash
FROM balances b
LEFT JOIN LATERAL (
    SELECT h.entry_count, h.head_hash FROM checkpoint_heads h
    WHERE h.key_id = :key_id AND h.account_id = b.account_id
    ORDER BY h.sequence DESC LIMIT 1
) p ON true
WHERE b.entry_count > coalesce(p.entry_count, 0)
ORDER BY b.account_id
"""

# Entries are immutable, so reading them in a later statement than the balances is safe as
# long as it stops at the counts those balances had.
_NEW_ENTRIES = """
SELECT e.account_id::text AS account_id, e.account_seq, e.transaction_id::text AS transaction_id,
       e.asset_code, e.side, e.bucket, e.amount, e.created_at, e.hash
FROM jsonb_to_recordset(CAST(:ranges AS jsonb)) AS r(account_id uuid, after bigint, upto bigint)
JOIN entries e ON e.account_id = r.account_id AND e.account_seq > r.after
              AND e.account_seq <= r.upto
ORDER BY e.account_id, e.account_seq
"""

_LOAD = """
SELECT c.sequence, c.key_id, c.taken_at, c.previous_mac, c.mac,
       coalesce(jsonb_agg(jsonb_build_array(h.account_id, h.entry_count,
                                            encode(h.head_hash, 'hex')))
                FILTER (WHERE h.account_id IS NOT NULL), '[]'::jsonb) AS heads
FROM checkpoints c
LEFT JOIN checkpoint_heads h ON h.key_id = c.key_id AND h.sequence = c.sequence
WHERE c.key_id = :key_id
GROUP BY c.key_id, c.sequence
ORDER BY c.sequence
"""


class SqlCheckpoints:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def take(self, key: CheckpointKey, now: datetime) -> Checkpoint | None:
        """Record a checkpoint of every head that moved since the key's last one; None when
        none did. Checkpoint takers queue on a transaction-scoped advisory lock."""
        await self._conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        params = {"key_id": key.key_id}
        last = (await self._conn.execute(text(_LATEST), params)).first()
        moved = (await self._conn.execute(text(_MOVED), params)).mappings().all()
        if not moved:
            return None
        heads = await self._extending_heads(moved)
        if not heads:
            return None
        checkpoint = seal(
            key,
            (last.sequence if last else 0) + 1,
            now,
            heads,
            bytes(last.mac) if last else b"",
        )
        await self._conn.execute(
            insert(checkpoints).values(
                key_id=checkpoint.key_id,
                sequence=checkpoint.sequence,
                taken_at=checkpoint.taken_at,
                account_count=len(checkpoint.heads),
                heads_digest=checkpoint.heads_digest,
                previous_mac=checkpoint.previous_mac,
                mac=checkpoint.mac,
            )
        )
        await self._conn.execute(
            insert(checkpoint_heads),
            [
                {
                    "key_id": checkpoint.key_id,
                    "sequence": checkpoint.sequence,
                    "account_id": h.account_id,
                    "entry_count": h.entry_count,
                    "head_hash": h.head_hash,
                }
                for h in checkpoint.heads
            ],
        )
        return checkpoint

    async def _extending_heads(self, moved: Sequence[RowMapping]) -> list[Head]:
        """The moved heads whose new entries link onto the previously checkpointed head."""
        start = {m["account_id"]: (m["after"], bytes(m["after_hash"])) for m in moved}
        wanted = {m["account_id"]: (m["entry_count"], bytes(m["head_hash"])) for m in moved}
        ranges = json.dumps(
            [{"account_id": a, "after": start[a][0], "upto": wanted[a][0]} for a in wanted]
        )
        ends = dict(start)
        broken: set[str] = set()
        result = await self._conn.stream(text(_NEW_ENTRIES), {"ranges": ranges})
        async for e in result:
            count, prev = ends[e.account_id]
            entry = Entry(e.account_id, e.asset_code, Side(e.side), Bucket(e.bucket), e.amount)
            digest = link(prev, count + 1, e.transaction_id, entry, e.created_at)
            if e.account_seq != count + 1 or bytes(e.hash) != digest:
                broken.add(e.account_id)
            ends[e.account_id] = (e.account_seq, digest)
        heads = []
        for account_id, (count, head_hash) in wanted.items():
            if account_id in broken or ends[account_id] != (count, head_hash):
                # Isolated: the other accounts are still checkpointed; VerifyLedger reports it.
                log.error(
                    "account %s: its chain does not extend its last checkpoint; not signed",
                    account_id,
                )
                continue
            heads.append(Head(account_id, count, head_hash))
        return heads

    async def load(self, key_id: str) -> list[Checkpoint]:
        """Every checkpoint taken under the key, in order."""
        rows = (await self._conn.execute(text(_LOAD), {"key_id": key_id})).all()
        return [
            Checkpoint(
                sequence=row.sequence,
                key_id=row.key_id,
                taken_at=row.taken_at,
                heads=tuple(
                    sorted(
                        (Head(str(a), int(n), bytes.fromhex(h)) for a, n, h in row.heads),
                        key=lambda head: head.account_id,
                    )
                ),
                previous_mac=bytes(row.previous_mac),
                mac=bytes(row.mac),
            )
            for row in rows
        ]
