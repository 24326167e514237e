"""Consistent trade documents (order, delivery, invoice) between two parties, for tests and demos."""

from __future__ import annotations

from datetime import UTC, date, datetime

from scf_chain.evidence.models import Invoice, LogisticsEvent, OrderLine, PurchaseOrder


def trade(buyer: str, seller: str, amount: int = 1_000_000_00, tag: str = "1"
          ) -> tuple[PurchaseOrder, LogisticsEvent, Invoice]:
    order = PurchaseOrder(number=f"PO-{tag}", buyer=buyer, seller=seller, issue_date=date(2026, 9, 1),
                          lines=[OrderLine(sku="STEEL-01", description="coil", quantity=100,
                                           unit_price=amount // 100)],
                          amount=(amount // 100) * 100)
    delivery = LogisticsEvent(waybill=f"SF-{tag}", carrier="SF Express", order_number=order.number,
                              event="delivered", timestamp=datetime(2026, 9, 20, 8, tzinfo=UTC),
                              location="Shanghai", shipper=seller, consignee=buyer,
                              signed_by="Warehouse 3")
    invoice = Invoice(number=f"INV-{tag}", seller=seller, buyer=buyer, order_number=order.number,
                      amount=order.amount, tax=order.amount * 13 // 100, issue_date=date(2026, 9, 25))
    return order, delivery, invoice
