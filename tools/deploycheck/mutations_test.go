package deploycheck_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"threadsfunctions.dev/tools/deploycheck"
)

// edit changes one file of the copied tree: the first occurrence of Old
// becomes New (Old must occur). An empty Old appends New; Delete removes the
// file.
type edit struct {
	File     string // relative to the copy's root: terraform/x.tf, firebase.json…
	Old, New string
	Delete   bool
}

// TestChecksCatchMistakes breaks a copy of the deployment in the ways the
// checks exist to catch, and expects each break to be reported: a check
// that cannot fail checks nothing.
func TestChecksCatchMistakes(t *testing.T) {
	cases := []struct {
		name  string
		edits []edit
		check string // deploycheck.Checks name
		want  string // substring of one reported error
	}{
		{
			name:  "required variable missing",
			edits: []edit{{File: "terraform/thauthstart.tf", Old: "      CORS_ALLOWED_ORIGINS   = join(\",\", var.cors_allowed_origins)\n"}},
			check: "Environment", want: "does not set CORS_ALLOWED_ORIGINS",
		},
		{
			name:  "variable the config needs missing",
			edits: []edit{{File: "terraform/thpublish.tf", Old: "      TASKS_QUEUE               = google_cloud_tasks_queue.publish.id\n"}},
			check: "Environment", want: "TASKS_QUEUE is required",
		},
		{
			name:  "plaintext secret",
			edits: []edit{{File: "terraform/thauthcallback.tf", Old: "THREADS_APP_SECRET_NAME   =", New: "THREADS_APP_SECRET        ="}},
			check: "Environment", want: "sets THREADS_APP_SECRET, which is for local runs only",
		},
		{
			name:  "emulator host",
			edits: []edit{{File: "terraform/thpublish.tf", Old: "      GOOGLE_CLOUD_PROJECT      = var.project\n", New: "      GOOGLE_CLOUD_PROJECT      = var.project\n      FIRESTORE_EMULATOR_HOST   = \"127.0.0.1:8080\"\n"}},
			check: "Environment", want: "FIRESTORE_EMULATOR_HOST, which is for local runs only",
		},
		{
			name:  "variable nobody reads",
			edits: []edit{{File: "terraform/thdisconnect.tf", Old: "      GOOGLE_CLOUD_PROJECT = var.project\n", New: "      GOOGLE_CLOUD_PROJECT = var.project\n      THREADS_APP_NAME     = \"x\"\n"}},
			check: "Environment", want: "THREADS_APP_NAME, which the configuration never reads",
		},
		{
			name:  "variable another function uses",
			edits: []edit{{File: "terraform/thauthstart.tf", Old: "      GOOGLE_CLOUD_PROJECT   = var.project\n", New: "      GOOGLE_CLOUD_PROJECT   = var.project\n      TASKS_QUEUE            = google_cloud_tasks_queue.publish.id\n"}},
			check: "Environment", want: "does not list for \"start\"",
		},
		{
			name:  "Go runtime setting missing",
			edits: []edit{{File: "terraform/main.tf", Old: "    GOMAXPROCS = \"1\"\n"}},
			check: "Environment", want: "Go runtime setting GOMAXPROCS = \"\", want \"1\"",
		},
		{
			name:  "Go runtime setting overridden by a function",
			edits: []edit{{File: "terraform/thpublish.tf", Old: "      GOOGLE_CLOUD_PROJECT      = var.project\n", New: "      GOOGLE_CLOUD_PROJECT      = var.project\n      GOMAXPROCS                = \"2\"\n"}},
			check: "Environment", want: "thpublish: Go runtime setting GOMAXPROCS = \"2\", want \"1\"",
		},
		{
			name:  "wrong entry point",
			edits: []edit{{File: "terraform/thpublish.tf", Old: `entry_point     = "thPublish"`, New: `entry_point     = "thPublisher"`}},
			check: "FunctionsMatchTerraform", want: "registered by no functions",
		},
		{
			name:  "function not deployed",
			edits: []edit{{File: "terraform/thdisconnect.tf", Delete: true}},
			check: "FunctionsMatchTerraform", want: "functions/thdisconnect (entry point thDisconnect) has no google_cloudfunctions2_function",
		},
		{
			name:  "name differs from entry point",
			edits: []edit{{File: "terraform/thdeauthorize.tf", Old: `name        = "thDeauthorize"`, New: `name        = "deauthorize"`}},
			check: "FunctionsMatchTerraform", want: "differs from its entry point",
		},
		{
			name:  "runtime older than go.mod",
			edits: []edit{{File: "terraform/variables.tf", Old: `default     = "go126"`, New: `default     = "go124"`}},
			check: "Runtime", want: "is older than go",
		},
		{
			name:  "object name without md5",
			edits: []edit{{File: "terraform/thpublish.tf", Old: `name   = "thpublish-${filemd5("${var.bundle_dir}/thpublish.zip")}.zip"`, New: `name   = "thpublish.zip"`}},
			check: "Sources", want: "must include filemd5()",
		},
		{
			name:  "another function's bundle",
			edits: []edit{{File: "terraform/thpublish.tf", Old: `source = "${var.bundle_dir}/thpublish.zip"`, New: `source = "${var.bundle_dir}/thauthstart.zip"`}},
			check: "Sources", want: "want the bundle thpublish.zip",
		},
		{
			name:  "secret with a version in Terraform",
			edits: []edit{{File: "terraform/secrets.tf", New: "\nresource \"google_secret_manager_secret_version\" \"leak\" {\n  secret      = google_secret_manager_secret.threads_app_secret.id\n  secret_data = \"oops\"\n}\n"}},
			check: "Secrets", want: "added out of band",
		},
		{
			name:  "secret Terraform does not create",
			edits: []edit{{File: "terraform/thauthcallback.tf", Old: `THREADS_APP_SECRET_NAME   = "${google_secret_manager_secret.threads_app_secret.id}/versions/latest"`, New: `THREADS_APP_SECRET_NAME   = "projects/${var.project}/secrets/other/versions/latest"`}},
			check: "Secrets", want: "names secret \"other\", which Terraform does not create",
		},
		{
			name: "secret not readable",
			edits: []edit{{File: "terraform/thpublish.tf", Old: `resource "google_secret_manager_secret_iam_member" "thpublish_token_key" {`, New: `resource "google_secret_manager_secret_iam_member" "thpublish_token_key" {
  count     = 0`}},
			check: "IAM", want: "lacks roles/secretmanager.secretAccessor on secret:token-encryption-key",
		},
		{
			name:  "secret a function does not use",
			edits: []edit{{File: "terraform/thauthstart.tf", New: "\nresource \"google_secret_manager_secret_iam_member\" \"thauthstart_key\" {\n  secret_id = google_secret_manager_secret.token_encryption_key.secret_id\n  role      = \"roles/secretmanager.secretAccessor\"\n  member    = \"serviceAccount:${google_service_account.thauthstart.email}\"\n}\n"}},
			check: "IAM", want: "grants roles/secretmanager.secretAccessor on secret:token-encryption-key, which the function does not need",
		},
		{
			name:  "broader role",
			edits: []edit{{File: "terraform/thauthstart.tf", Old: `role    = "roles/firebaseauth.viewer"`, New: `role    = "roles/firebaseauth.admin"`}},
			check: "IAM", want: "which the function does not need",
		},
		{
			name:  "auth role for a function that verifies no token",
			edits: []edit{{File: "terraform/thdeauthorize.tf", New: "\nresource \"google_project_iam_member\" \"thdeauthorize_auth\" {\n  project = var.project\n  role    = \"roles/firebaseauth.viewer\"\n  member  = \"serviceAccount:${google_service_account.thdeauthorize.email}\"\n}\n"}},
			check: "IAM", want: "roles/firebaseauth.viewer on project:my-project, which the function does not need",
		},
		{
			name:  "Firestore role without the database condition",
			edits: []edit{{File: "terraform/main.tf", Old: `/databases/(default)\""`, New: `/databases/other\""`}},
			check: "IAM", want: "must carry the condition",
		},
		{
			name:  "shared service account",
			edits: []edit{{File: "terraform/thauthstart.tf", Old: "service_account_email          = google_service_account.thauthstart.email", New: "service_account_email          = google_service_account.thpublish.email"}},
			check: "IAM", want: "is shared by",
		},
		{
			name:  "scheduled function public",
			edits: []edit{{File: "terraform/threfresh.tf", Old: "  member   = \"serviceAccount:${google_service_account.refresh_scheduler.email}\"", New: "  member   = \"allUsers\""}},
			check: "IAM", want: "invokers [allUsers], want exactly [serviceAccount:refresh-scheduler@",
		},
		{
			name: "browser function not public",
			edits: []edit{{File: "terraform/thdisconnect.tf", Old: `resource "google_cloud_run_service_iam_member" "thdisconnect_invoker" {`, New: `resource "google_cloud_run_service_iam_member" "thdisconnect_invoker" {
  count    = 0`}},
			check: "IAM", want: "invokers [], want exactly [allUsers]",
		},
		{
			name:  "authoritative binding",
			edits: []edit{{File: "terraform/main.tf", New: "\nresource \"google_project_iam_binding\" \"x\" {\n  project = var.project\n  role    = \"roles/viewer\"\n  members = []\n}\n"}},
			check: "IAM", want: "use *_iam_member",
		},
		{
			name:  "public anything else",
			edits: []edit{{File: "terraform/main.tf", New: "\nresource \"google_secret_manager_secret_iam_member\" \"x\" {\n  secret_id = google_secret_manager_secret.threads_app_secret.secret_id\n  role      = \"roles/secretmanager.secretAccessor\"\n  member    = \"allUsers\"\n}\n"}},
			check: "IAM", want: "only invoking a function may be public",
		},
		{
			name:  "task invoker given a role",
			edits: []edit{{File: "terraform/thpublish.tf", New: "\nresource \"google_project_iam_member\" \"invoker_editor\" {\n  project = var.project\n  role    = \"roles/editor\"\n  member  = \"serviceAccount:${google_service_account.tasks_invoker.email}\"\n}\n"}},
			check: "IAM", want: "which no function needs",
		},
		{
			name:  "redirect URI of another function",
			edits: []edit{{File: "terraform/main.tf", Old: `redirect_uri = "${local.function_base_url}/thAuthCallback"`, New: `redirect_uri = "${local.function_base_url}/thAuthStart"`}},
			check: "URLs", want: "THREADS_REDIRECT_URI",
		},
		{
			name:  "tasks delivered elsewhere",
			edits: []edit{{File: "terraform/main.tf", Old: `publish_url = "${local.function_base_url}/thPublish"`, New: `publish_url = "${local.function_base_url}/thpublish"`}},
			check: "URLs", want: "TASKS_TARGET_URL",
		},
		{
			name:  "scheduler asks for another audience",
			edits: []edit{{File: "terraform/threfresh.tf", Old: "      audience              = local.refresh_url", New: "      audience              = local.publish_url"}},
			check: "TasksAndScheduler", want: "audience",
		},
		{
			name:  "no scheduler job",
			edits: []edit{{File: "terraform/threfresh.tf", Old: "    uri         = local.refresh_url", New: "    uri         = local.publish_url"}},
			check: "TasksAndScheduler", want: "calls google_cloudfunctions2_function.thpublish, which is not a scheduled function",
		},
		{
			name: "no sweep job",
			edits: []edit{{File: "terraform/thpublish.tf", Old: `resource "google_cloud_scheduler_job" "publish_sweep" {`, New: `resource "google_cloud_scheduler_job" "publish_sweep" {
  count            = 0`}},
			check: "TasksAndScheduler", want: "thpublish needs a google_cloud_scheduler_job calling its sweep of overdue jobs",
		},
		{
			name:  "sweep job calls another URL",
			edits: []edit{{File: "terraform/thpublish.tf", Old: `uri         = "${local.publish_url}?sweep=1"`, New: `uri         = "${local.publish_url}?sweep=true"`}},
			check: "TasksAndScheduler", want: "thPublish?sweep=true\", which is no function's URL",
		},
		{
			name:  "sweep job with another identity",
			edits: []edit{{File: "terraform/thpublish.tf", Old: "      service_account_email = google_service_account.tasks_invoker.email", New: "      service_account_email = google_service_account.refresh_scheduler.email"}},
			check: "TasksAndScheduler", want: "OIDC token of \"refresh-scheduler@my-project.iam.gserviceaccount.com\", but google_cloudfunctions2_function.thpublish's sweep accepts only \"tasks-invoker@",
		},
		{
			name:  "sweep job asks for another audience",
			edits: []edit{{File: "terraform/thpublish.tf", Old: "      audience              = local.publish_url", New: "      audience              = local.refresh_url"}},
			check: "TasksAndScheduler", want: "audience \"https://threfresh-123456789012.europe-west1.run.app\", but google_cloudfunctions2_function.thpublish's sweep checks",
		},
		{
			name:  "sweep job with the default audience",
			edits: []edit{{File: "terraform/thpublish.tf", Old: "      audience              = local.publish_url\n"}},
			check: "TasksAndScheduler", want: "audience \"https://europe-west1-my-project.cloudfunctions.net/thPublish?sweep=1\", but",
		},
		{
			name:  "sweep of a function without tasks",
			edits: []edit{{File: "terraform/threfresh.tf", Old: "    uri         = local.refresh_url", New: "    uri         = \"${local.refresh_url}?sweep=1\""}},
			check: "TasksAndScheduler", want: "calls google_cloudfunctions2_function.threfresh's sweep",
		},
		{
			name:  "rules file differs from firebase.json's",
			edits: []edit{{File: "firebase.json", Old: `"rules": "firestore.rules"`, New: `"rules": "other.rules"`}, {File: "other.rules", New: "rules_version = '2';\n"}},
			check: "Firestore", want: "its content is not other.rules",
		},
		{
			name:  "no TTL policy",
			edits: []edit{{File: "terraform/firestore.tf", Old: "  ttl_config {}\n"}},
			check: "Firestore", want: "ttl_config",
		},
		{
			name:  "index differs from firestore.indexes.json",
			edits: []edit{{File: "terraform/firestore.tf", Old: "    field_path = \"expiresAt\"\n    order      = \"ASCENDING\"", New: "    field_path = \"expiresAt\"\n    order      = \"DESCENDING\""}},
			check: "Firestore", want: "which Terraform does not create",
		},
		{
			name: "sweep index missing from firestore.indexes.json",
			edits: []edit{{File: "firestore.indexes.json", Old: `,
    {
      "collectionGroup": "jobs",
      "fieldPath": "dueBy",
      "indexes": [
        { "order": "ASCENDING", "queryScope": "COLLECTION" },
        { "order": "ASCENDING", "queryScope": "COLLECTION_GROUP" }
      ]
    }`}},
			check: "Firestore", want: "google_firestore_field.jobs_due_by overrides jobs.dueBy's indexes, which firestore.indexes.json does not declare",
		},
		{
			name: "sweep index missing from Terraform",
			edits: []edit{{File: "terraform/firestore.tf", Old: `resource "google_firestore_field" "jobs_due_by" {`, New: `resource "google_firestore_field" "jobs_due_by" {
  count      = 0`}},
			check: "Firestore", want: "firestore.indexes.json overrides jobs.dueBy, which has no google_firestore_field",
		},
		{
			name:  "sweep index for one collection only",
			edits: []edit{{File: "terraform/firestore.tf", Old: "  field      = \"dueBy\"\n\n  index_config {\n    indexes {\n      order       = \"ASCENDING\"\n      query_scope = \"COLLECTION\"\n    }\n", New: "  field      = \"dueBy\"\n\n  index_config {\n"}},
			check: "Firestore", want: "google_firestore_field.jobs_due_by: indexes [COLLECTION_GROUP:ASCENDING], but firestore.indexes.json declares",
		},
	}
	root := repoRoot(t)
	checks := map[string]func(*deploycheck.Repo) []error{}
	for _, c := range deploycheck.Checks {
		checks[c.Name] = c.Run
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			run := checks[tc.check]
			if run == nil {
				t.Fatalf("no check %q", tc.check)
			}
			copyRoot := copyDeployment(t, root)
			for _, e := range tc.edits {
				applyEdit(t, copyRoot, e)
			}
			repo, err := deploycheck.LoadRepo(root, filepath.Join(copyRoot, "terraform"), deployed)
			if err != nil {
				t.Fatal(err)
			}
			repo.FirebaseJSON = filepath.Join(copyRoot, "firebase.json")
			errs := run(repo)
			for _, err := range errs {
				if strings.Contains(err.Error(), tc.want) {
					return
				}
			}
			t.Errorf("check %s did not report %q; it reported %d error(s): %v", tc.check, tc.want, len(errs), errs)
		})
	}

	t.Run("unformatted file", func(t *testing.T) {
		copyRoot := copyDeployment(t, root)
		applyEdit(t, copyRoot, edit{File: "terraform/main.tf", Old: "  force_destroy               = true", New: "  force_destroy = true"})
		problems, err := deploycheck.FormatProblems(filepath.Join(copyRoot, "terraform"))
		if err != nil {
			t.Fatal(err)
		}
		if len(problems) != 1 || !strings.Contains(problems[0].Error(), "main.tf is not formatted") || !strings.Contains(problems[0].Error(), "+") {
			t.Errorf("want one problem naming main.tf with a diff, got %v", problems)
		}
	})
	t.Run("syntax error", func(t *testing.T) {
		copyRoot := copyDeployment(t, root)
		applyEdit(t, copyRoot, edit{File: "terraform/main.tf", New: "\nlocals {\n"})
		problems, err := deploycheck.FormatProblems(filepath.Join(copyRoot, "terraform"))
		if err != nil {
			t.Fatal(err)
		}
		if len(problems) != 1 || !strings.Contains(problems[0].Error(), "does not parse") {
			t.Errorf("want one parse problem, got %v", problems)
		}
	})
}

// copyDeployment copies terraform/ and the Firebase files it reads into a
// temporary directory laid out like the repository.
func copyDeployment(t *testing.T, root string) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dst, "terraform"), 0o755); err != nil {
		t.Fatal(err)
	}
	tfFiles, err := os.ReadDir(filepath.Join(root, "terraform"))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range tfFiles {
		if e.Type().IsRegular() {
			files = append(files, filepath.Join("terraform", e.Name()))
		}
	}
	files = append(files, "firebase.json", "firestore.rules", "firestore.indexes.json")
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if os.IsNotExist(err) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func applyEdit(t *testing.T, root string, e edit) {
	t.Helper()
	p := filepath.Join(root, e.File)
	if e.Delete {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(p)
	if err != nil && !(os.IsNotExist(err) && e.Old == "") {
		t.Fatal(err)
	}
	s := string(b)
	switch {
	case e.Old == "":
		s += e.New
	case !strings.Contains(s, e.Old):
		t.Fatalf("%s does not contain %q: the mutation is stale", e.File, e.Old)
	default:
		s = strings.Replace(s, e.Old, e.New, 1)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
