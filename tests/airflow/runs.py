"""Running a DAG in this process with `dag.test()` and reading what it left in Airflow's
metadata database: task states and tries, XComs, asset events."""

from __future__ import annotations

import copy
from dataclasses import dataclass


@dataclass
class Run:
    dag_id: str
    run_id: str
    state: str
    tasks: dict[str, tuple[str, int]]  # task_id -> (state, try_number)
    xcom: dict[str, object]  # task_id -> its return value
    assets: dict[str, dict]  # asset name -> the extra of the event this run recorded


def run_dag(dagbag, dag_id: str, conf: dict | None = None, **task_overrides) -> Run:
    """One run of a copy of `dag_id` (a run's conf and these overrides must not leak into the
    next test); `task_overrides` (e.g. retries=1) are set on each of its tasks."""
    dag = copy.deepcopy(dagbag.dags[dag_id])
    for task in dag.tasks:
        for name, value in task_overrides.items():
            setattr(task, name, value)
    # Every Param at its default (None in these DAGs) unless given: in one process, a run's
    # Param values outlive it, where Airflow's task processes would start afresh.
    dag_run = dag.test(run_conf={name: None for name in dag.params} | (conf or {}))
    return read_run(dag_id, dag_run.run_id)


def read_run(dag_id: str, run_id: str) -> Run:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        dag_run = session.scalars(
            select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
        ).one()
        tis = session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
        ).all()
        xcoms = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == dag_id,
                XComModel.run_id == run_id,
                XComModel.key == "return_value",
            )
        ).all()
        events = session.execute(
            select(AssetModel.name, AssetEvent.extra)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetEvent.source_dag_id == dag_id, AssetEvent.source_run_id == run_id)
        ).all()
        return Run(
            dag_id,
            run_id,
            str(dag_run.state),
            {ti.task_id: (str(ti.state), ti.try_number) for ti in tis},
            {x.task_id: XComModel.deserialize_value(x) for x in xcoms},
            {name: extra for name, extra in events},
        )
