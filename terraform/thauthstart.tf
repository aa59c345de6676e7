# thAuthStart: starts the Threads OAuth flow for a signed-in user.
# Caller: the web app in a browser (POST, CORS preflight). Public at the Cloud
# Run layer; the function authenticates each call with the user's Firebase ID
# token (revocation and disabled users checked).

resource "google_service_account" "thauthstart" {
  account_id   = "fn-thauthstart"
  display_name = "thAuthStart Cloud Function"
}

resource "google_storage_bucket_object" "thauthstart" {
  bucket = google_storage_bucket.sources.name
  name   = "thauthstart-${filemd5("${var.bundle_dir}/thauthstart.zip")}.zip"
  source = "${var.bundle_dir}/thauthstart.zip"
}

resource "google_cloudfunctions2_function" "thauthstart" {
  name        = "thAuthStart"
  location    = var.region
  description = "Starts the Threads OAuth flow (functions/thauthstart)."

  build_config {
    runtime         = var.go_runtime
    entry_point     = "thAuthStart"
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.thauthstart.name
      }
    }
  }

  service_config {
    available_memory               = "128Mi"
    timeout_seconds                = 60
    max_instance_count             = var.max_instances["thAuthStart"]
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.thauthstart.email

    environment_variables = merge(local.go_runtime_env, {
      GOOGLE_CLOUD_PROJECT   = var.project
      THREADS_APP_ID         = var.threads_app_id
      THREADS_REDIRECT_URI   = local.redirect_uri
      ALLOWED_RETURN_ORIGINS = join(",", var.allowed_return_origins)
      DEFAULT_RETURN_TO      = var.default_return_to
      CORS_ALLOWED_ORIGINS   = join(",", var.cors_allowed_origins)
    })
  }
}

# Browsers call it: anyone may invoke; the code checks the ID token.
resource "google_cloud_run_service_iam_member" "thauthstart_invoker" {
  location = google_cloudfunctions2_function.thauthstart.location
  service  = google_cloudfunctions2_function.thauthstart.service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Firestore: writes oauthStates/{state}.
resource "google_project_iam_member" "thauthstart_firestore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.thauthstart.email}"

  condition {
    title      = "default-firestore-database"
    expression = local.firestore_condition
  }
}

# Verifying an ID token needs no role, but checking it was not revoked (and
# that the user is not disabled) reads the user through the Identity Toolkit
# API, which has no per-resource IAM: a project-level read-only role.
resource "google_project_iam_member" "thauthstart_auth" {
  project = var.project
  role    = "roles/firebaseauth.viewer"
  member  = "serviceAccount:${google_service_account.thauthstart.email}"
}
