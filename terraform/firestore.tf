# The (default) Firestore database, its TTL policy, indexes and security rules.

resource "google_firestore_database" "default" {
  name        = "(default)"
  location_id = var.firestore_location
  type        = "FIRESTORE_NATIVE"

  delete_protection_state = "DELETE_PROTECTION_ENABLED"
  # `terraform destroy` leaves the data alone.
  deletion_policy = "ABANDON"
}

# OAuth states expire after 10 minutes; TTL deletes them eventually (it can
# lag by a day, so thAuthCallback checks expiresAt itself). Nothing queries
# the field, so its single-field indexes are turned off (index_config {}),
# as Firestore advises for TTL timestamps.
resource "google_firestore_field" "oauth_states_ttl" {
  database   = google_firestore_database.default.name
  collection = "oauthStates"
  field      = "expiresAt"

  ttl_config {}
  index_config {}
}

# The indexes of ../firestore.indexes.json (which the emulators and the
# Firebase CLI read); tools/deploycheck checks that both say the same.

# thRefresh: active accounts whose token expires soon, across all users.
resource "google_firestore_index" "accounts_status_expires_at" {
  database    = google_firestore_database.default.name
  collection  = "accounts"
  query_scope = "COLLECTION_GROUP"

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }
  fields {
    field_path = "expiresAt"
    order      = "ASCENDING"
  }
}

# thDeauthorize and thDataDeletion: every account of a Threads user, across
# all Firebase users.
resource "google_firestore_field" "accounts_threads_user_id" {
  database   = google_firestore_database.default.name
  collection = "accounts"
  field      = "extra.threadsUserId"

  index_config {
    indexes {
      order       = "ASCENDING"
      query_scope = "COLLECTION"
    }
    indexes {
      order       = "ASCENDING"
      query_scope = "COLLECTION_GROUP"
    }
  }
}

# thDataDeletion: the tombstones of a Threads user's disconnected accounts,
# across all Firebase users (their jobs outlive the account document). By
# threadsUserId; tombstones written before they recorded it, by accountId.
resource "google_firestore_field" "disconnected_threads_user_id" {
  database   = google_firestore_database.default.name
  collection = "disconnected"
  field      = "threadsUserId"

  index_config {
    indexes {
      order       = "ASCENDING"
      query_scope = "COLLECTION"
    }
    indexes {
      order       = "ASCENDING"
      query_scope = "COLLECTION_GROUP"
    }
  }
}

resource "google_firestore_field" "disconnected_account_id" {
  database   = google_firestore_database.default.name
  collection = "disconnected"
  field      = "accountId"

  index_config {
    indexes {
      order       = "ASCENDING"
      query_scope = "COLLECTION"
    }
    indexes {
      order       = "ASCENDING"
      query_scope = "COLLECTION_GROUP"
    }
  }
}

# thPublish's sweep: jobs overdue, across all users.
resource "google_firestore_field" "jobs_due_by" {
  database   = google_firestore_database.default.name
  collection = "jobs"
  field      = "dueBy"

  index_config {
    indexes {
      order       = "ASCENDING"
      query_scope = "COLLECTION"
    }
    indexes {
      order       = "ASCENDING"
      query_scope = "COLLECTION_GROUP"
    }
  }
}

# Security rules for client SDKs, from the same file the emulators and the
# rules tests use (firebase.json names it too).
resource "google_firebaserules_ruleset" "firestore" {
  source {
    files {
      name    = "firestore.rules"
      content = file("${path.module}/../firestore.rules")
    }
  }

  depends_on = [google_firestore_database.default]
}

resource "google_firebaserules_release" "firestore" {
  name         = "cloud.firestore"
  ruleset_name = "projects/${var.project}/rulesets/${google_firebaserules_ruleset.firestore.name}"

  lifecycle {
    replace_triggered_by = [google_firebaserules_ruleset.firestore]
  }
}
