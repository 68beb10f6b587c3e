"""Which accounts a caller may open and debit: customers can never create money."""

from __future__ import annotations

from ledger.domain import errors
from ledger.domain.model import Account, AccountKind, BalanceBound

# Kinds a customer (user or API key) may open. An allow-list, so that a kind added to the
# contract later is one of the platform's books until someone decides otherwise.
CUSTOMER_KINDS: frozenset[AccountKind] = frozenset({AccountKind.WALLET})
SYSTEM_KINDS: frozenset[AccountKind] = frozenset(AccountKind) - CUSTOMER_KINDS

# The one bound under which an account's debits are backed by credits it received.
SPENDABLE_BOUND = BalanceBound.DEBITS_MUST_NOT_EXCEED_CREDITS


def check_may_open(
    kind: AccountKind, bound: BalanceBound, overdraft_limit: int, *, by_platform: bool
) -> None:
    """A customer opens only accounts it cannot spend below zero.

    Any other account (no bound, credit-bounded, an overdraft, a platform kind) could be the
    debit side of a transfer into the customer's wallet with nothing behind it. The platform
    (``by_platform``: Keel services such as billing, the operator) keeps the platform's books.
    """
    if by_platform:
        return
    if kind not in CUSTOMER_KINDS:
        raise errors.SystemAccountRequiresService(
            f"{kind} accounts are the platform's and are opened by internal services only",
            kind=kind.value,
        )
    if bound is not SPENDABLE_BOUND:
        raise errors.UnboundedAccountRequiresService(
            f"accounts opened by members need the {SPENDABLE_BOUND} balance bound",
            bound=bound.value,
        )
    if overdraft_limit:
        raise errors.OverdraftRequiresService(
            "an overdraft limit is granted by internal services only",
            overdraft_limit=str(overdraft_limit),
        )


def check_may_debit(account: Account, *, by_platform: bool) -> None:
    """A customer moves money only out of accounts whose debits are bounded by their credits.

    Checked on every entry that grows an account's debits (a transfer, a hold, posting a hold,
    a reversal), so accounts opened before this rule, or by a service in the customer's
    organization, cannot be drained into a wallet either.
    """
    if by_platform or account.bound is SPENDABLE_BOUND:
        return
    raise errors.UnboundedDebitRequiresService(
        f"account {account.id} is not bounded by its credits; only internal services debit it",
        account_id=account.id,
    )
