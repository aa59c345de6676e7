# Shared pieces: the project's number, the functions' public URLs and the
# bucket their source bundles are uploaded to. Each function lives in its own
# file (th*.tf) with its service account and the IAM it is granted.

data "google_project" "this" {
  project_id = var.project
}

locals {
  # Every 2nd-gen function is also served at
  # https://REGION-PROJECT.cloudfunctions.net/NAME. That URL is known before
  # the function exists, so environment variables holding a function's own
  # URL (or a sibling's) use it: referencing the function's `url` attribute
  # from its own configuration would be a dependency cycle.
  function_base_url = "https://${var.region}-${var.project}.cloudfunctions.net"

  # thAuthCallback's URL: THREADS_REDIRECT_URI, registered in the Meta app.
  redirect_uri = "${local.function_base_url}/thAuthCallback"
  # thPublish's own URL: where Cloud Tasks delivers retries (and Cloud
  # Scheduler the sweep, ?sweep=1), and the OIDC audience of both.
  publish_url = "${local.function_base_url}/thPublish"
  # thDataDeletion's URL: the status page link Meta shows the user.
  data_deletion_url = "${local.function_base_url}/thDataDeletion"
  # thRefresh admits only Cloud Scheduler's service account, and Cloud Run
  # itself checks the OIDC token's audience against the service's own URLs:
  # use its deterministic run.app URL (the service is the function's name in
  # lower case), as the scheduler's target, the audience it asks for and the
  # audience the function checks.
  refresh_url = "https://threfresh-${data.google_project.this.number}.${var.region}.run.app"

  # roles/datastore.user is a project role; this IAM condition limits it to
  # the (default) Firestore database, the only one the functions use.
  firestore_condition = "resource.name == \"projects/${var.project}/databases/(default)\""

  # The Go runtime's settings, merged into every function's environment
  # (shared/config.DeployedRuntimeEnv says why; deploycheck keeps the two
  # equal). GOMAXPROCS=1: a 128 MiB instance has 0.083 vCPU and serves one
  # request at a time; a second scheduler thread only costs CPU there
  # (docs/performance.md, finding 7).
  go_runtime_env = {
    GOMAXPROCS = "1"
  }
}

# Source bundles (scripts/bundle): build inputs only, never configuration or
# secrets. Object names carry the zip's md5, so a changed bundle is a new
# object and the function using it is rebuilt; an unchanged one is left alone.
resource "google_storage_bucket" "sources" {
  name                        = "${var.project}-function-sources"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true
}
