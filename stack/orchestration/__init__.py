"""Airflow around the stack: where its env is, the environment its processes get, the local
processes of the local backend, and a client of its REST API (`stack airflow ...`).

The DAGs themselves live in `airflow/dags/` at the project root; their tasks call
`stack.orchestration.tasks`, which calls `stack.jobs`. Nothing here imports Airflow except
`tasks` (which only runs inside an Airflow task).
"""
