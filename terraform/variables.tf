variable "project" {
  description = "The Google Cloud (and Firebase) project id."
  type        = string
}

variable "region" {
  description = "Region of the functions, the Cloud Tasks queue and the scheduler jobs."
  type        = string
  default     = "europe-west1"
}

variable "firestore_location" {
  description = "Location of the (default) Firestore database, e.g. eur3, nam5 or a region. Fixed once created."
  type        = string
}

variable "threads_app_id" {
  description = "The Threads app id (the Threads use case's own id in the Meta app, not the Facebook app's)."
  type        = string
}

variable "allowed_return_origins" {
  description = "Origins (https://app.example.com) the OAuth flow may send the user back to (ALLOWED_RETURN_ORIGINS)."
  type        = list(string)

  validation {
    condition     = length(var.allowed_return_origins) > 0
    error_message = "List at least one origin."
  }
}

variable "default_return_to" {
  description = "Where the OAuth flow sends the user when the app gives no returnTo (DEFAULT_RETURN_TO); its origin must be in allowed_return_origins."
  type        = string
}

variable "cors_allowed_origins" {
  description = "Origins browsers may call thAuthStart, thPublish and thDisconnect from (CORS_ALLOWED_ORIGINS)."
  type        = list(string)

  validation {
    condition     = length(var.cors_allowed_origins) > 0 && !contains(var.cors_allowed_origins, "*")
    error_message = "List the app's origins; \"*\" is refused by the functions."
  }
}

variable "bundle_dir" {
  description = "Directory holding the zips written by ../scripts/bundle, relative to where terraform runs."
  type        = string
  default     = "../dist/bundles"
}

variable "go_runtime" {
  description = "Cloud Functions Go runtime. It must be at least the go directive of the functions' go.mod (go 1.26 needs go126)."
  type        = string
  default     = "go126"
}

variable "build_service_account" {
  description = "Service account Cloud Build uses to build the functions (projects/P/serviceAccounts/EMAIL); null: the project's default build account."
  type        = string
  default     = null
}

variable "max_instances" {
  description = "Maximum instances per function: caps cost and the load on Firestore and Threads."
  type        = map(number)
  default = {
    thAuthStart    = 10
    thAuthCallback = 10
    thPublish      = 20
    thDisconnect   = 5
    thDeauthorize  = 5
    thDataDeletion = 5
    thRefresh      = 1
  }
}

variable "refresh_schedule" {
  description = "When Cloud Scheduler calls thRefresh (cron syntax, refresh_time_zone)."
  type        = string
  default     = "17 3 * * *"
}

variable "refresh_time_zone" {
  description = "Time zone of refresh_schedule."
  type        = string
  default     = "Etc/UTC"
}

variable "tasks_queue_name" {
  description = "Name of the Cloud Tasks queue thPublish retries through."
  type        = string
  default     = "threads-publish"
}

variable "publish_sweep_schedule" {
  description = "When Cloud Scheduler calls thPublish's sweep of overdue publish jobs (cron syntax, Etc/UTC)."
  type        = string
  default     = "* * * * *"
}
