"""Every workflow of the platform. A new workflow adds its class here, in its slot."""

from __future__ import annotations

from ledgerflow.workflow import Workflow


def workflow_classes() -> list[type[Workflow]]:
    from ledgerflow.workflows.sms import SmsWorkflow

    classes: list[type[Workflow]] = [SmsWorkflow]
    from ledgerflow.workflows.orders import OrdersWorkflow

    classes.append(OrdersWorkflow)
    from ledgerflow.workflows.billing import BillingWorkflow

    classes.append(BillingWorkflow)
    from ledgerflow.workflows.lending import LendingWorkflow

    classes.append(LendingWorkflow)
    from ledgerflow.workflows.reimbursements import ReimbursementsWorkflow

    classes.append(ReimbursementsWorkflow)
    return classes
