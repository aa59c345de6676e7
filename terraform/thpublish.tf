# thPublish: publishes posts to a connected Threads account, exactly once.
# Callers: the web app in a browser (POST, CORS preflight), authenticated in
# code with a Firebase ID token; Cloud Tasks (retries) and Cloud Scheduler
# (the sweep, ?sweep=1), both with an OIDC token of the task-invoker service
# account with thPublish's URL as audience, verified in code against Google's
# keys. Public at the Cloud Run layer, since browsers call it.

resource "google_service_account" "thpublish" {
  account_id   = "fn-thpublish"
  display_name = "thPublish Cloud Function"
}

resource "google_storage_bucket_object" "thpublish" {
  bucket = google_storage_bucket.sources.name
  name   = "thpublish-${filemd5("${var.bundle_dir}/thpublish.zip")}.zip"
  source = "${var.bundle_dir}/thpublish.zip"
}

resource "google_cloudfunctions2_function" "thpublish" {
  name        = "thPublish"
  location    = var.region
  description = "Publishes posts to Threads, retried through Cloud Tasks (functions/thpublish)."

  build_config {
    runtime         = var.go_runtime
    entry_point     = "thPublish"
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.thpublish.name
      }
    }
  }

  service_config {
    available_memory = "128Mi"
    # A user's request polls media status for up to 20 s, a task's for 60 s,
    # around container creation and publishing: 120 s leaves room for both.
    timeout_seconds                = 120
    max_instance_count             = var.max_instances["thPublish"]
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.thpublish.email

    environment_variables = merge(local.go_runtime_env, {
      GOOGLE_CLOUD_PROJECT      = var.project
      CORS_ALLOWED_ORIGINS      = join(",", var.cors_allowed_origins)
      TOKEN_ENCRYPTION_KEY_NAME = "${google_secret_manager_secret.token_encryption_key.id}/versions/latest"
      TASKS_QUEUE               = google_cloud_tasks_queue.publish.id
      TASKS_TARGET_URL          = local.publish_url
      TASKS_SERVICE_ACCOUNT     = google_service_account.tasks_invoker.email
    })
  }
}

# Browsers call it: anyone may invoke; the code checks the ID token, or the
# OIDC token of a task or of the sweep (issuer, audience, service account).
resource "google_cloud_run_service_iam_member" "thpublish_invoker" {
  location = google_cloudfunctions2_function.thpublish.location
  service  = google_cloudfunctions2_function.thpublish.service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Firestore: reads accounts, writes publish jobs.
resource "google_project_iam_member" "thpublish_firestore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.thpublish.email}"

  condition {
    title      = "default-firestore-database"
    expression = local.firestore_condition
  }
}

# Revocation check of ID tokens (Identity Toolkit; no per-resource IAM):
# see thauthstart.tf.
resource "google_project_iam_member" "thpublish_auth" {
  project = var.project
  role    = "roles/firebaseauth.viewer"
  member  = "serviceAccount:${google_service_account.thpublish.email}"
}

# The keyring, to open (and, after a refresh, seal) access tokens.
resource "google_secret_manager_secret_iam_member" "thpublish_token_key" {
  secret_id = google_secret_manager_secret.token_encryption_key.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.thpublish.email}"
}

# --- Retries through Cloud Tasks ----------------------------------------------

# Cloud Tasks retries every non-2xx answer. thPublish answers 503 with
# Retry-After for transient failures (Threads rate limits, 5xx, media still
# processing) and 200 once a job is done or failed for good, so:
# - backoff from 15 s, doubling 5 times (15, 30 … 480 s), then growing
#   linearly to at most 10 minutes: Threads' rate limits and media processing
#   clear in minutes, and a slower retry costs nothing;
# - at most 20 attempts and 24 hours (both must be reached before a task is
#   dropped): an unpublished Threads container expires after 24 hours, so a
#   later retry could only fail;
# - modest dispatch rates: every delivery calls the Threads API, whose app
#   and per-user limits (250 posts a day) are far below what a queue can send.
resource "google_cloud_tasks_queue" "publish" {
  name     = var.tasks_queue_name
  location = var.region

  rate_limits {
    max_dispatches_per_second = 5
    max_concurrent_dispatches = 10
  }

  retry_config {
    max_attempts       = 20
    min_backoff        = "15s"
    max_backoff        = "600s"
    max_doublings      = 5
    max_retry_duration = "86400s"
  }
}

# The identity whose OIDC token Cloud Tasks attaches to deliveries, and Cloud
# Scheduler to the sweep's calls (TASKS_SERVICE_ACCOUNT). It has no role of
# its own: thPublish checks the token's email, and thPublish's service account
# may attach it (below).
resource "google_service_account" "tasks_invoker" {
  account_id   = "tasks-invoker"
  display_name = "Cloud Tasks deliveries and sweeps to thPublish (OIDC identity only)"
}

# thPublish creates tasks on this queue only.
resource "google_cloud_tasks_queue_iam_member" "thpublish_enqueuer" {
  location = google_cloud_tasks_queue.publish.location
  name     = google_cloud_tasks_queue.publish.name
  role     = "roles/cloudtasks.enqueuer"
  member   = "serviceAccount:${google_service_account.thpublish.email}"
}

# Creating a task with an OIDC token for the invoker needs actAs on it.
resource "google_service_account_iam_member" "thpublish_acts_as_tasks_invoker" {
  service_account_id = google_service_account.tasks_invoker.name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.thpublish.email}"
}

# --- The sweep ----------------------------------------------------------------

# Every job carries dueBy, the time by which something must touch it again.
# Some jobs nobody will finish: an instance that died mid-attempt leaves a
# claimed job whose lease runs out; a follow-up task could not be created, or
# Cloud Tasks dropped it after its retries. Every minute
# (publish_sweep_schedule) thPublish finds the jobs overdue (collection-group
# query on dueBy, see firestore.tf) and enqueues them again.
# It calls with the task invoker's identity and audience: thPublish already
# accepts exactly those for Cloud Tasks deliveries, so no new service account
# or configuration.
resource "google_cloud_scheduler_job" "publish_sweep" {
  name             = "threads-publish-sweep"
  region           = var.region
  description      = "Re-enqueues overdue publish jobs (thPublish ?sweep=1)."
  schedule         = var.publish_sweep_schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "60s"

  # No retry: the next minute's sweep catches up.
  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = "${local.publish_url}?sweep=1"

    oidc_token {
      service_account_email = google_service_account.tasks_invoker.email
      audience              = local.publish_url
    }
  }

  depends_on = [google_cloud_run_service_iam_member.thpublish_invoker]
}
