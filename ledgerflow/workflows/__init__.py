"""Every workflow of the platform. A new workflow adds its class here, in its slot."""

from __future__ import annotations

from ledgerflow.workflow import Workflow
from ledgerflow.workflows.billing import BillingWorkflow
from ledgerflow.workflows.lending import LendingWorkflow
from ledgerflow.workflows.orders import OrdersWorkflow
from ledgerflow.workflows.reimbursements import ReimbursementsWorkflow
from ledgerflow.workflows.sms import SmsWorkflow

WORKFLOWS: list[type[Workflow]] = [
    SmsWorkflow,
    OrdersWorkflow,
    BillingWorkflow,
    LendingWorkflow,
    ReimbursementsWorkflow,
]
