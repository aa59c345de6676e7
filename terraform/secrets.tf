# The two secrets, created EMPTY: their values are added out of band
#
#   gcloud secrets versions add threads-app-secret   --data-file=- <<<"$SECRET"
#   gcloud secrets versions add token-encryption-key --data-file=- <<<"k1:$(openssl rand -base64 32)"
#
# so they never pass through Terraform state. There is deliberately no
# google_secret_manager_secret_version here (tools/deploycheck fails if one
# appears). Functions get "<secret>/versions/latest" and read it once per
# instance; each function's service account may read only the secrets it uses
# (see the function's file).

# The Threads app secret: code exchange (thAuthCallback) and signed_request
# checks (thDeauthorize, thDataDeletion).
resource "google_secret_manager_secret" "threads_app_secret" {
  secret_id = "threads-app-secret"

  replication {
    auto {}
  }
}

# The token keyring, keyId:base64(32 bytes)[,older…]: seals and opens the
# stored Threads access tokens (thAuthCallback, thPublish, thRefresh).
resource "google_secret_manager_secret" "token_encryption_key" {
  secret_id = "token-encryption-key"

  replication {
    auto {}
  }
}
