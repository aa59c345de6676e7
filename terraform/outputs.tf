output "function_urls" {
  description = "Each function's URL (run.app). Each is also served at https://REGION-PROJECT.cloudfunctions.net/NAME."
  value = {
    thAuthStart    = google_cloudfunctions2_function.thauthstart.url
    thAuthCallback = google_cloudfunctions2_function.thauthcallback.url
    thPublish      = google_cloudfunctions2_function.thpublish.url
    thDisconnect   = google_cloudfunctions2_function.thdisconnect.url
    thDeauthorize  = google_cloudfunctions2_function.thdeauthorize.url
    thDataDeletion = google_cloudfunctions2_function.thdatadeletion.url
    thRefresh      = google_cloudfunctions2_function.threfresh.url
  }
}

output "threads_redirect_uri" {
  description = "Register this exactly as a Redirect Callback URL in the Meta app (it is THREADS_REDIRECT_URI)."
  value       = local.redirect_uri
}

output "meta_uninstall_callback_url" {
  description = "The Meta app's Uninstall callback URL (thDeauthorize)."
  value       = "${local.function_base_url}/thDeauthorize"
}

output "meta_delete_callback_url" {
  description = "The Meta app's Delete callback URL (thDataDeletion)."
  value       = local.data_deletion_url
}

output "secrets" {
  description = "Secrets whose values you add out of band (gcloud secrets versions add NAME --data-file=-)."
  value = {
    threads_app_secret   = google_secret_manager_secret.threads_app_secret.secret_id
    token_encryption_key = google_secret_manager_secret.token_encryption_key.secret_id
  }
}

output "tasks_queue" {
  description = "The Cloud Tasks queue thPublish retries through (TASKS_QUEUE)."
  value       = google_cloud_tasks_queue.publish.id
}
