# thDataDeletion: Meta's data-deletion callback, and the status page Meta
# links the user to.
# Callers: Meta's servers (POST form field signed_request), authenticated by
# the signed_request's HMAC-SHA256 signature with the Threads app secret; and
# the user's browser (GET ?code=), which only learns the status of the request
# that unguessable code names. Public.

resource "google_service_account" "thdatadeletion" {
  account_id   = "fn-thdatadeletion"
  display_name = "thDataDeletion Cloud Function"
}

resource "google_storage_bucket_object" "thdatadeletion" {
  bucket = google_storage_bucket.sources.name
  name   = "thdatadeletion-${filemd5("${var.bundle_dir}/thdatadeletion.zip")}.zip"
  source = "${var.bundle_dir}/thdatadeletion.zip"
}

resource "google_cloudfunctions2_function" "thdatadeletion" {
  name        = "thDataDeletion"
  location    = var.region
  description = "Meta's data-deletion callback and its status page (functions/thdatadeletion)."

  build_config {
    runtime         = var.go_runtime
    entry_point     = "thDataDeletion"
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.thdatadeletion.name
      }
    }
  }

  service_config {
    available_memory               = "128Mi"
    timeout_seconds                = 60
    max_instance_count             = var.max_instances["thDataDeletion"]
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.thdatadeletion.email

    environment_variables = merge(local.go_runtime_env, {
      GOOGLE_CLOUD_PROJECT    = var.project
      THREADS_APP_SECRET_NAME = "${google_secret_manager_secret.threads_app_secret.id}/versions/latest"
      # The status link given to Meta: this function's public URL, stated
      # rather than guessed from the request's Host behind Google's front end.
      DATA_DELETION_STATUS_URL = local.data_deletion_url
    })
  }
}

# Meta's servers and browsers call it: anyone may invoke.
resource "google_cloud_run_service_iam_member" "thdatadeletion_invoker" {
  location = google_cloudfunctions2_function.thdatadeletion.location
  service  = google_cloudfunctions2_function.thdatadeletion.service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Firestore: deletes the user's accounts and jobs, records the request.
resource "google_project_iam_member" "thdatadeletion_firestore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.thdatadeletion.email}"

  condition {
    title      = "default-firestore-database"
    expression = local.firestore_condition
  }
}

# The app secret, to check signed_request.
resource "google_secret_manager_secret_iam_member" "thdatadeletion_app_secret" {
  secret_id = google_secret_manager_secret.threads_app_secret.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.thdatadeletion.email}"
}
