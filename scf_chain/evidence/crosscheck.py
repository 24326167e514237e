"""Cross-document checks before a receivable is applied for: invoice ↔ order ↔ delivery."""

from __future__ import annotations

from scf_chain.errors import CrossDocumentMismatch
from scf_chain.evidence.models import Invoice, LogisticsEvent, PurchaseOrder


def check_trade(invoice: Invoice, order: PurchaseOrder, delivery: LogisticsEvent,
                face_value: int, debtor: str | None = None, creditor: str | None = None) -> None:
    """Raise CrossDocumentMismatch unless the three documents back a receivable of `face_value`.

    Rules: the invoice names the order; buyer and seller agree across all three (the consignee is
    the buyer, the shipper the seller); the same currency; the invoice does not exceed the order;
    the goods were delivered (and signed for) no later than the invoice date; the face value is
    within the invoice's amount including tax; debtor and creditor, when given, are the buyer and
    the seller.
    """
    def fail(code: str, message: str) -> None:
        raise CrossDocumentMismatch(code, message)

    if invoice.order_number != order.number:
        fail("order_mismatch", f"invoice {invoice.number} is for order {invoice.order_number}, "
                               f"not {order.number}")
    if invoice.buyer != order.buyer:
        fail("buyer_mismatch", f"invoice buyer {invoice.buyer} is not order buyer {order.buyer}")
    if invoice.seller != order.seller:
        fail("seller_mismatch", f"invoice seller {invoice.seller} is not order seller "
                                f"{order.seller}")
    if invoice.currency != order.currency:
        fail("currency_mismatch", f"invoice in {invoice.currency}, order in {order.currency}")
    if invoice.amount > order.amount:
        fail("invoice_exceeds_order", f"invoice amount {invoice.amount} exceeds order amount "
                                      f"{order.amount}")
    if delivery.order_number != order.number:
        fail("delivery_order_mismatch", f"waybill {delivery.waybill} is for order "
                                        f"{delivery.order_number}, not {order.number}")
    if delivery.event != "delivered":
        fail("no_delivery", f"waybill {delivery.waybill} shows {delivery.event}, not delivered")
    if delivery.consignee != order.buyer:
        fail("buyer_mismatch", f"goods were delivered to {delivery.consignee}, not the buyer "
                               f"{order.buyer}")
    if delivery.shipper != order.seller:
        fail("seller_mismatch", f"goods were shipped by {delivery.shipper}, not the seller "
                                f"{order.seller}")
    if delivery.timestamp.date() > invoice.issue_date:
        fail("delivered_after_invoice", f"delivered on {delivery.timestamp.date()}, after the "
                                        f"invoice date {invoice.issue_date}")
    if face_value > invoice.amount + invoice.tax:
        fail("face_value_exceeds_invoice", f"face value {face_value} exceeds the invoice total "
                                           f"{invoice.amount + invoice.tax}")
    if debtor is not None and debtor != invoice.buyer:
        fail("debtor_not_buyer", f"the debtor {debtor} is not the invoice's buyer {invoice.buyer}")
    if creditor is not None and creditor != invoice.seller:
        fail("creditor_not_seller", f"the applicant {creditor} is not the invoice's seller "
                                    f"{invoice.seller}")
