"""Every workflow of the platform. A new workflow adds its class here, in its slot."""

from __future__ import annotations

from ledgerflow.workflow import Workflow


def workflow_classes() -> list[type[Workflow]]:
    from ledgerflow.workflows.sms import SmsWorkflow

    classes: list[type[Workflow]] = [SmsWorkflow]
    # orders (stock orders at the exchange)
    # billing (monthly invoices)
    # lending (loan applications)
    # reimbursements
    return classes


def workflow_names() -> list[str]:
    return [cls.name for cls in workflow_classes()]
