"""keel.billing.v1.InvoiceService servicer."""

from __future__ import annotations

from typing import Any

from keel.billing.v1 import invoice_service_pb2 as pb
from keel.billing.v1 import invoice_service_pb2_grpc

from billing import contract
from billing.app.invoices import InvoiceHandlers
from billing.transport import mapping
from keel_runtime.caller import current_caller


class InvoiceServicer(invoice_service_pb2_grpc.InvoiceServiceServicer):  # type: ignore[misc]
    def __init__(self, handlers: InvoiceHandlers) -> None:
        self._handlers = handlers

    async def CloseBillingPeriod(
        self, request: pb.CloseBillingPeriodRequest, context: Any
    ) -> pb.CloseBillingPeriodResponse:
        invoice = await self._handlers.close_period(
            mapping.close_billing_period(request, current_caller())
        )
        return pb.CloseBillingPeriodResponse(invoice=contract.invoice_to_proto(invoice))

    async def GetInvoice(
        self, request: pb.GetInvoiceRequest, context: Any
    ) -> pb.GetInvoiceResponse:
        invoice = await self._handlers.get(mapping.get_invoice(request, current_caller()))
        return pb.GetInvoiceResponse(invoice=contract.invoice_to_proto(invoice))

    async def ListInvoices(
        self, request: pb.ListInvoicesRequest, context: Any
    ) -> pb.ListInvoicesResponse:
        page = await self._handlers.list(mapping.list_invoices(request, current_caller()))
        return pb.ListInvoicesResponse(
            invoices=[contract.invoice_to_proto(i) for i in page.invoices],
            next_page_token=page.next_page_token,
        )

    async def PayInvoice(
        self, request: pb.PayInvoiceRequest, context: Any
    ) -> pb.PayInvoiceResponse:
        invoice = await self._handlers.pay(mapping.pay_invoice(request, current_caller()))
        return pb.PayInvoiceResponse(invoice=contract.invoice_to_proto(invoice))

    async def VoidInvoice(
        self, request: pb.VoidInvoiceRequest, context: Any
    ) -> pb.VoidInvoiceResponse:
        invoice = await self._handlers.void(mapping.void_invoice(request, current_caller()))
        return pb.VoidInvoiceResponse(invoice=contract.invoice_to_proto(invoice))
