# thAuthCallback: Threads redirects the user's browser here after consent; it
# finishes the OAuth flow and stores the account.
# Caller: the user's browser (GET, a top-level navigation, no CORS). Public;
# a call is authenticated by the single-use `state` thAuthStart created
# (CSRF protection), never by an ID token.

resource "google_service_account" "thauthcallback" {
  account_id   = "fn-thauthcallback"
  display_name = "thAuthCallback Cloud Function"
}

resource "google_storage_bucket_object" "thauthcallback" {
  bucket = google_storage_bucket.sources.name
  name   = "thauthcallback-${filemd5("${var.bundle_dir}/thauthcallback.zip")}.zip"
  source = "${var.bundle_dir}/thauthcallback.zip"
}

resource "google_cloudfunctions2_function" "thauthcallback" {
  name        = "thAuthCallback"
  location    = var.region
  description = "Finishes the Threads OAuth flow (functions/thauthcallback)."

  build_config {
    runtime         = var.go_runtime
    entry_point     = "thAuthCallback"
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.thauthcallback.name
      }
    }
  }

  service_config {
    available_memory               = "128Mi"
    timeout_seconds                = 60
    max_instance_count             = var.max_instances["thAuthCallback"]
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.thauthcallback.email

    environment_variables = merge(local.go_runtime_env, {
      GOOGLE_CLOUD_PROJECT      = var.project
      THREADS_APP_ID            = var.threads_app_id
      THREADS_APP_SECRET_NAME   = "${google_secret_manager_secret.threads_app_secret.id}/versions/latest"
      THREADS_REDIRECT_URI      = local.redirect_uri
      ALLOWED_RETURN_ORIGINS    = join(",", var.allowed_return_origins)
      DEFAULT_RETURN_TO         = var.default_return_to
      TOKEN_ENCRYPTION_KEY_NAME = "${google_secret_manager_secret.token_encryption_key.id}/versions/latest"
    })
  }
}

# Browsers are redirected to it: anyone may invoke; the state authenticates.
resource "google_cloud_run_service_iam_member" "thauthcallback_invoker" {
  location = google_cloudfunctions2_function.thauthcallback.location
  service  = google_cloudfunctions2_function.thauthcallback.service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Firestore: consumes oauthStates/{state}, writes the account.
resource "google_project_iam_member" "thauthcallback_firestore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.thauthcallback.email}"

  condition {
    title      = "default-firestore-database"
    expression = local.firestore_condition
  }
}

# The app secret (code exchange) and the keyring (sealing the token).
resource "google_secret_manager_secret_iam_member" "thauthcallback_app_secret" {
  secret_id = google_secret_manager_secret.threads_app_secret.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.thauthcallback.email}"
}

resource "google_secret_manager_secret_iam_member" "thauthcallback_token_key" {
  secret_id = google_secret_manager_secret.token_encryption_key.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.thauthcallback.email}"
}
