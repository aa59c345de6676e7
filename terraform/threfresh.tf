# thRefresh: the scheduled sweep that refreshes long-lived Threads tokens
# before they expire.
# Caller: Cloud Scheduler only, with an OIDC token of the refresh-scheduler
# service account. Not public: only that account may invoke the Cloud Run
# service, and the function checks the token again (issuer, audience, email).

resource "google_service_account" "threfresh" {
  account_id   = "fn-threfresh"
  display_name = "thRefresh Cloud Function"
}

resource "google_storage_bucket_object" "threfresh" {
  bucket = google_storage_bucket.sources.name
  name   = "threfresh-${filemd5("${var.bundle_dir}/threfresh.zip")}.zip"
  source = "${var.bundle_dir}/threfresh.zip"
}

resource "google_cloudfunctions2_function" "threfresh" {
  name        = "thRefresh"
  location    = var.region
  description = "Refreshes Threads tokens before they expire (functions/threfresh)."

  build_config {
    runtime         = var.go_runtime
    entry_point     = "thRefresh"
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.threfresh.name
      }
    }
  }

  service_config {
    available_memory = "128Mi"
    # A sweep pages through every account expiring soon, 8 refreshes at a
    # time, taking up new ones for 240 s (threfresh.DefaultBudget, kept
    # below this timeout); the next sweep continues where one stopped.
    timeout_seconds                = 300
    max_instance_count             = var.max_instances["thRefresh"]
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.threfresh.email

    environment_variables = merge(local.go_runtime_env, {
      GOOGLE_CLOUD_PROJECT      = var.project
      TOKEN_ENCRYPTION_KEY_NAME = "${google_secret_manager_secret.token_encryption_key.id}/versions/latest"
      SCHEDULER_SERVICE_ACCOUNT = google_service_account.refresh_scheduler.email
      SCHEDULER_AUDIENCE        = local.refresh_url
    })
  }
}

# Only the scheduler's identity may invoke it.
resource "google_cloud_run_service_iam_member" "threfresh_invoker" {
  location = google_cloudfunctions2_function.threfresh.location
  service  = google_cloudfunctions2_function.threfresh.service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.refresh_scheduler.email}"
}

# Firestore: finds expiring accounts (collection-group query), claims and updates them.
resource "google_project_iam_member" "threfresh_firestore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.threfresh.email}"

  condition {
    title      = "default-firestore-database"
    expression = local.firestore_condition
  }
}

# The keyring, to open and re-seal refreshed tokens.
resource "google_secret_manager_secret_iam_member" "threfresh_token_key" {
  secret_id = google_secret_manager_secret.token_encryption_key.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.threfresh.email}"
}

# --- The schedule ----------------------------------------------------------------

# The identity Cloud Scheduler calls thRefresh with (SCHEDULER_SERVICE_ACCOUNT).
# Its only grant is run.invoker on thRefresh (above).
resource "google_service_account" "refresh_scheduler" {
  account_id   = "refresh-scheduler"
  display_name = "Cloud Scheduler calls to thRefresh (OIDC identity only)"
}

resource "google_cloud_scheduler_job" "threfresh" {
  name             = "threads-token-refresh"
  region           = var.region
  description      = "Daily sweep of Threads tokens close to expiry (thRefresh)."
  schedule         = var.refresh_schedule
  time_zone        = var.refresh_time_zone
  attempt_deadline = "320s"

  # One more try after a failure; the next day's sweep catches up anyway.
  retry_config {
    retry_count = 1
  }

  http_target {
    http_method = "POST"
    uri         = local.refresh_url

    oidc_token {
      service_account_email = google_service_account.refresh_scheduler.email
      audience              = local.refresh_url
    }
  }

  depends_on = [google_cloud_run_service_iam_member.threfresh_invoker]
}
