terraform {
  # OpenTofu 1.6+ or Terraform 1.6+.
  required_version = ">= 1.6"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.14, < 8.0"
    }
    # Declared on the same range so that a resource needing a beta-only field
    # can opt in with `provider = google-beta`; nothing needs it today.
    google-beta = {
      source  = "hashicorp/google-beta"
      version = ">= 6.14, < 8.0"
    }
  }
}

provider "google" {
  project = var.project
  region  = var.region
}

provider "google-beta" {
  project = var.project
  region  = var.region
}
