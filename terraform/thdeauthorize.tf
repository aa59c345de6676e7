# thDeauthorize: Meta's uninstall callback; revokes every connection of the
# Threads user who removed the app.
# Caller: Meta's servers (POST form field signed_request). Public; each call
# is authenticated by the signed_request's HMAC-SHA256 signature with the
# Threads app secret (and its age).

resource "google_service_account" "thdeauthorize" {
  account_id   = "fn-thdeauthorize"
  display_name = "thDeauthorize Cloud Function"
}

resource "google_storage_bucket_object" "thdeauthorize" {
  bucket = google_storage_bucket.sources.name
  name   = "thdeauthorize-${filemd5("${var.bundle_dir}/thdeauthorize.zip")}.zip"
  source = "${var.bundle_dir}/thdeauthorize.zip"
}

resource "google_cloudfunctions2_function" "thdeauthorize" {
  name        = "thDeauthorize"
  location    = var.region
  description = "Meta's uninstall callback (functions/thdeauthorize)."

  build_config {
    runtime         = var.go_runtime
    entry_point     = "thDeauthorize"
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.thdeauthorize.name
      }
    }
  }

  service_config {
    available_memory               = "128Mi"
    timeout_seconds                = 60
    max_instance_count             = var.max_instances["thDeauthorize"]
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.thdeauthorize.email

    environment_variables = merge(local.go_runtime_env, {
      GOOGLE_CLOUD_PROJECT    = var.project
      THREADS_APP_SECRET_NAME = "${google_secret_manager_secret.threads_app_secret.id}/versions/latest"
    })
  }
}

# Meta's servers call it: anyone may invoke; the signature authenticates.
resource "google_cloud_run_service_iam_member" "thdeauthorize_invoker" {
  location = google_cloudfunctions2_function.thdeauthorize.location
  service  = google_cloudfunctions2_function.thdeauthorize.service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Firestore: finds the user's accounts (collection-group query), revokes them.
resource "google_project_iam_member" "thdeauthorize_firestore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.thdeauthorize.email}"

  condition {
    title      = "default-firestore-database"
    expression = local.firestore_condition
  }
}

# The app secret, to check signed_request.
resource "google_secret_manager_secret_iam_member" "thdeauthorize_app_secret" {
  secret_id = google_secret_manager_secret.threads_app_secret.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.thdeauthorize.email}"
}
