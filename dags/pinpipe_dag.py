"""pinpipe: the daily Databricks run that cleans the lake and answers the eight questions.

One task submits the transform notebook (notebooks/, a Databricks source notebook) as a
one-time run on a Databricks cluster and waits for it. `deno task dags` renders this file
for another prefix (only PREFIX changes) and uploads it to the MWAA DAG bucket.

Settings, as Airflow Variables (Admin > Variables, or Secrets Manager secrets named
<prefix>/airflow/variables/<name>, which MWAA reads first); a manual run may override
them in its conf ({"notebook_path": ..., "cluster_id": ..., "lake": ...}):
  <prefix>_notebook_path  workspace path of the notebook (default /Shared/<prefix>/transform)
  <prefix>_cluster_id     id of the cluster to run on (required; no cluster id is built in)
  <prefix>_lake           the lake the notebook reads, e.g. s3://<bucket> (default: the
                          notebook's own default)
The connection databricks_default (workspace host and token) comes from Secrets Manager,
where `deno task deploy` stores it; no token is written here or in the Airflow UI.

The notebook reads the shared SQL files from `../sql` or `sql` beside itself, so the
workspace needs them next to it. Either check the repository out as a Databricks Git folder
and point <prefix>_notebook_path at its notebooks/transform (../sql is then beside it), or,
for the default path, import both once with the Databricks CLI:
  databricks workspace import /Shared/<prefix>/transform --file notebooks/transform.py \
    --format SOURCE --language PYTHON --overwrite
  databricks workspace import-dir sql /Shared/<prefix>/sql --overwrite
"""
from datetime import datetime, timedelta

from airflow import DAG
from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator

PREFIX = "pinpipe"


def setting(name, default=None):
    """A Jinja expression: the run's conf value, else the Variable <prefix>_<name>.

    Rendered when the task runs, so parsing the DAG never calls Secrets Manager.
    """
    conf = "(dag_run.conf or {}).get('%s')" % name
    # var.value.get('<name>') and not var.value.<name>: a prefix may hold dashes (my-pipe),
    # which Jinja would read as a subtraction. Without a default, a missing Variable fails.
    if default is None:
        return "{{ %s or var.value.get('%s_%s') }}" % (conf, PREFIX, name)
    return "{{ %s or var.value.get('%s_%s', '%s') }}" % (conf, PREFIX, name, default)


default_args = {
    "owner": PREFIX,
    "depends_on_past": False,
    "email_on_failure": False,
    "email_on_retry": False,
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
}

with DAG(
    dag_id="%s_dag" % PREFIX,
    description="Clean the lake and answer the eight questions on Databricks",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    tags=["pinpipe"],
) as dag:
    run_transform = DatabricksSubmitRunOperator(
        task_id="run_transform_notebook",
        databricks_conn_id="databricks_default",
        existing_cluster_id=setting("cluster_id"),
        notebook_task={
            "notebook_path": setting("notebook_path", "/Shared/%s/transform" % PREFIX),
            "base_parameters": {
                "prefix": PREFIX,
                "lake": setting("lake", ""),
                "run_date": "{{ ds }}",
            },
        },
        run_name="%s transform {{ ds }}" % PREFIX,
        timeout_seconds=3 * 60 * 60,
        polling_period_seconds=30,
        databricks_retry_limit=3,
        databricks_retry_delay=10,
    )
