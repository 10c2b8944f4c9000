"""seed the twelve Annex B principles

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 13:20:00

The texts are those of Annex B as published (with the S24/S31 redactions marked). They are
reference data: every proposal is scored against each of them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRINCIPLES = [
    (
        1,
        "threat-agnostic",
        "capability",
        "Develop threat agnostic capabilities and services",
        False,
        "Ensure that we have the agility and resilience to pivot towards to different emerging threats and "
        "manage a complex, changing environment. Use our unique breath and reach (across partners, the threat "
        "spectrum, in the UK and internationally) to develop network approaches to overcome challenges in "
        "national security and beyond. Develop tasking processes, training and skills to enable flexibility "
        "across different missions.",
    ),
    (
        2,
        "align-costs",
        "capability",
        "Align costs to strategic priorities and impact on the threat",
        False,
        "Identify the network's strategic priorities and the capabilities or services which directly enable "
        "these; consider seeking efficiencies or allocating less resource to services which do not directly "
        "support delivery against strategic priorities, or where CTP has a reduced impact and there is "
        "insufficient return on investment.",
    ),
    (
        3,
        "partnership",
        "capability",
        "Enhance partnership working",
        True,
        "[Text withheld in the published document: S24/S31]",
    ),
    (
        4,
        "enfranchise",
        "capability",
        "Enfranchise capability delivery",
        False,
        "Enable staff and officers to work more efficiently, to make decisions and reduce demand on specialist "
        "capabilities by empowering them to deliver a certain level of capability themselves. Within each "
        "capability, define the services that can be delivered by core staff for themselves and those that "
        "require specialist staff. Enable the effective and efficient delivery of core services at volume "
        "through training and professional development.",
    ),
    (
        5,
        "process-excellence",
        "capability",
        "Encourage process excellence",
        False,
        "Simplify work and minimise bureaucracy. Identify the true source of value in the delivery of a "
        "capability or service, determine which process create that value and simplify and/or eliminate other "
        "processes.",
    ),
    (
        6,
        "spans-layers",
        "capability",
        "Optimise spans and layers",
        False,
        "Reduce organisational layers and management overhead where applicable to simplify decision making, "
        "improve flexibility and enhance agility within the network. For example, identify and remove areas of "
        "duplication of skills/tasks across the 4Ps, and streamline governance processes to enable quick "
        "decision making.",
    ),
    (
        7,
        "digitise",
        "capability",
        "Digitise",
        False,
        "Use technology to automate manual processes. Reducing costs, improving quality, accelerating "
        "production, and replacing manual interventions, it applies to both internal processes (e.g. managing "
        "inventories) and interfaces with end users, suppliers and other outside parties (e.g. mobile apps).",
    ),
    (
        8,
        "consistency",
        "capability",
        "Establish greater consistency across the network",
        False,
        "Achieve consistent standards across: the core processes that we deliver to identify, manage and "
        "mitigate risk (for example, the receipt, assessment and recording of Intelligence); the skillset, "
        "levels of accreditation and training of our people and the processes that they use within "
        "capabilities; the core services that we deliver, and to what standard; and the technology platforms "
        "that we use on a day to day basis to enable the delivery of core processes and services.",
    ),
    (
        9,
        "cost-demand-risk",
        "capability",
        "Organise capabilities based on cost, demand and risk",
        False,
        "Take a 'networked' approach to organising capabilities at a national, regional and local level to "
        "ensure that they are delivered in the optimal way from an operational and an efficiencies perspective "
        "to meet demand. [Part withheld: S24/S31] Capabilities with high or volatile demand, where there are a "
        "limited number of specialist teams or assets available to manage this demand, should be delivered on "
        "a flexible basis with national coordination of this resource.",
    ),
    (
        10,
        "estate",
        "network",
        "Optimise estate footprint",
        False,
        "Improve the effectiveness of the estates portfolio e.g. through shared facilities or resources, "
        "ensuring the estate is configured with flexibility to respond to evolving requirements. Enable "
        "collaboration between teams to use our capabilities in the most effective way, e.g. create flexible "
        "spaces for specialist capabilities to come together with generalists as small communities. Increase "
        "mobility of technology. [Part withheld: S24/S31]",
    ),
    (
        11,
        "workforce",
        "network",
        "Create a mobile and agile workforce",
        False,
        "Enabled by enfranchised capability delivery, mobile technology, data-driven workforce planning and new "
        "HR practices, create an agile workforce with a mix of officer and staff - e.g. skills and experiences "
        "are matched to roles to ensure the most effective deployment of available people (blend of officers "
        "and staff), that allows for a flexible workforce, addresses key recruitment challenges and where "
        "there are options, to work flexibly across the network.",
    ),
    (
        12,
        "brigade",
        "network",
        "Brigade and rationalise functions and services",
        False,
        "Brigade and rationalise functions and services - where appropriate into a centralised services model. "
        "Set clear roles and responsibilities for capabilities - including HQ functions and services - to "
        "eliminate duplication and de-risk inconsistency. Ensure functions and services are appropriately "
        "resourced to support Network priorities and stop services being grown and delivered outside of their "
        "agreed natural home.",
    ),
]

principles = sa.table(
    "principles",
    sa.column("number", sa.Integer),
    sa.column("key", sa.String),
    sa.column("principle_group", sa.String),
    sa.column("title", sa.String),
    sa.column("text_withheld", sa.Boolean),
    sa.column("description", sa.Text),
)


def upgrade() -> None:
    op.bulk_insert(
        principles,
        [
            dict(number=n, key=k, principle_group=g, title=t, text_withheld=w, description=d)
            for n, k, g, t, w, d in PRINCIPLES
        ],
    )


def downgrade() -> None:
    op.execute(principles.delete())
