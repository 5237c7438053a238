# Databricks notebook source
# MAGIC %md
# MAGIC # pinpipe: mount the lake bucket with an access key (fallback only)
# MAGIC
# MAGIC **Prefer not to use this.** The `transform` notebook reads `s3://<bucket>` directly when the
# MAGIC cluster can, through a Unity Catalog external location: `deno task deploy` creates the
# MAGIC role for it (the lake stack's `LakeReaderRoleArn`, saved as `lakeReaderRoleArn` in
# MAGIC `.pinpipe/aws.json`; it may only list the bucket and read objects). Make a storage
# MAGIC credential with that role, put the external id Databricks shows into the role with
# MAGIC `deno task deploy --only lake --param lake.DatabricksExternalId=<id>`, then an external
# MAGIC location on `s3://<bucket>/` (the README's "Databricks reads the lake" has every step).
# MAGIC Databricks no longer recommends mounts, and a mount made with a key gives every user of
# MAGIC the workspace the key's access.
# MAGIC
# MAGIC Where neither is possible (a shared workspace you do not administer, as in the original
# MAGIC course), this notebook mounts the bucket the old way: with an IAM user's access key read from
# MAGIC a **Databricks secret scope** (never pasted into a notebook, never printed; Databricks also
# MAGIC redacts secret values in output). Create the scope and keys once with the Databricks CLI:
# MAGIC
# MAGIC ```
# MAGIC databricks secrets create-scope pinpipe
# MAGIC databricks secrets put-secret pinpipe aws_access_key_id
# MAGIC databricks secrets put-secret pinpipe aws_secret_access_key
# MAGIC ```
# MAGIC
# MAGIC Then run this notebook with `bucket` set, and run `transform` with `lake` set to
# MAGIC `dbfs:<mount_point>` (for example `dbfs:/mnt/pinpipe-lake`). Running it again is safe: an
# MAGIC existing mount of the same bucket is kept; one of another bucket is replaced.

# COMMAND ----------

dbutils.widgets.text("bucket", "", "Bucket (name only)")
dbutils.widgets.text("secret_scope", "pinpipe", "Secret scope holding the access key")
dbutils.widgets.text("mount_point", "/mnt/pinpipe-lake", "Mount point")

# COMMAND ----------

import re
import urllib.parse

bucket = dbutils.widgets.get("bucket").strip()
scope = dbutils.widgets.get("secret_scope").strip()
mount_point = dbutils.widgets.get("mount_point").strip().rstrip("/")
if not re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", bucket):
    raise ValueError('Invalid bucket "%s": set the bucket widget to an S3 bucket name' % bucket)
if not mount_point.startswith("/mnt/"):
    raise ValueError('Invalid mount point "%s": it must be under /mnt/' % mount_point)

access_key = dbutils.secrets.get(scope=scope, key="aws_access_key_id")
# The secret key goes into a URL: slashes and plus signs must be encoded.
secret_key = urllib.parse.quote(dbutils.secrets.get(scope=scope, key="aws_secret_access_key"), safe="")
source = "s3a://%s:%s@%s" % (access_key, secret_key, bucket)

current = {m.mountPoint: m.source for m in dbutils.fs.mounts()}
if mount_point in current and re.search(r"[/@]%s/?$" % re.escape(bucket), current[mount_point]):
    print("%s already mounts s3://%s: kept" % (mount_point, bucket))
else:
    if mount_point in current:
        dbutils.fs.unmount(mount_point)
    dbutils.fs.mount(source, mount_point)
    print("mounted s3://%s at %s" % (bucket, mount_point))
print("run the transform notebook with lake = dbfs:%s" % mount_point)
