# thDisconnect: a user removes a connected account; its pending jobs end
# cancelled.
# Caller: the web app in a browser (POST, CORS preflight). Public at the Cloud
# Run layer; the function authenticates each call with the user's Firebase ID
# token and only ever touches that user's accounts.

resource "google_service_account" "thdisconnect" {
  account_id   = "fn-thdisconnect"
  display_name = "thDisconnect Cloud Function"
}

resource "google_storage_bucket_object" "thdisconnect" {
  bucket = google_storage_bucket.sources.name
  name   = "thdisconnect-${filemd5("${var.bundle_dir}/thdisconnect.zip")}.zip"
  source = "${var.bundle_dir}/thdisconnect.zip"
}

resource "google_cloudfunctions2_function" "thdisconnect" {
  name        = "thDisconnect"
  location    = var.region
  description = "Removes a connected Threads account (functions/thdisconnect)."

  build_config {
    runtime         = var.go_runtime
    entry_point     = "thDisconnect"
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.thdisconnect.name
      }
    }
  }

  service_config {
    available_memory               = "128Mi"
    timeout_seconds                = 60
    max_instance_count             = var.max_instances["thDisconnect"]
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.thdisconnect.email

    environment_variables = merge(local.go_runtime_env, {
      GOOGLE_CLOUD_PROJECT = var.project
      CORS_ALLOWED_ORIGINS = join(",", var.cors_allowed_origins)
    })
  }
}

# Browsers call it: anyone may invoke; the code checks the ID token.
resource "google_cloud_run_service_iam_member" "thdisconnect_invoker" {
  location = google_cloudfunctions2_function.thdisconnect.location
  service  = google_cloudfunctions2_function.thdisconnect.service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Firestore: cancels jobs, deletes the account, writes a tombstone.
resource "google_project_iam_member" "thdisconnect_firestore" {
  project = var.project
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.thdisconnect.email}"

  condition {
    title      = "default-firestore-database"
    expression = local.firestore_condition
  }
}

# Revocation check of ID tokens (Identity Toolkit; no per-resource IAM):
# see thauthstart.tf.
resource "google_project_iam_member" "thdisconnect_auth" {
  project = var.project
  role    = "roles/firebaseauth.viewer"
  member  = "serviceAccount:${google_service_account.thdisconnect.email}"
}
