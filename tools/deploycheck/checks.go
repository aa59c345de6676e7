package deploycheck

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"golang.org/x/mod/semver"

	"threadsfunctions.dev/shared/config"
)

// Deployed is what one function's Go package says it needs from its deployment.
type Deployed struct {
	EntryPoint string
	Needs      config.Needs
	// Auth: the function verifies Firebase ID tokens (app.Options.Auth).
	Auth bool
	// ReadmeLabel is how the README's configuration table ("Used by") names it.
	ReadmeLabel string
}

// Repo is everything the checks compare.
type Repo struct {
	Root         string
	TerraformDir string
	TF           *Module
	GoFunctions  []GoFunction
	Readme       map[string]ReadmeVar
	Deployed     map[string]Deployed // by entry point
	FirebaseJSON string              // path
}

// LoadRepo reads the repository at root, with the Terraform module at
// terraformDir evaluated with its terraform.tfvars.example.
func LoadRepo(root, terraformDir string, deployed []Deployed) (*Repo, error) {
	tf, err := LoadModule(terraformDir, filepath.Join(terraformDir, "terraform.tfvars.example"))
	if err != nil {
		return nil, err
	}
	fns, err := FindGoFunctions(filepath.Join(root, "functions"))
	if err != nil {
		return nil, err
	}
	readme, err := ReadReadmeConfig(filepath.Join(root, "README.md"))
	if err != nil {
		return nil, err
	}
	r := &Repo{Root: root, TerraformDir: terraformDir, TF: tf, GoFunctions: fns, Readme: readme,
		Deployed: map[string]Deployed{}, FirebaseJSON: filepath.Join(root, "firebase.json")}
	for _, d := range deployed {
		r.Deployed[d.EntryPoint] = d
	}
	return r, nil
}

// Check is one named consistency check.
type Check struct {
	Name string
	Run  func(*Repo) []error
}

// Checks are every consistency check, in a stable order.
var Checks = []Check{
	{"FunctionsMatchTerraform", CheckFunctionsMatch},
	{"Runtime", CheckRuntime},
	{"Sources", CheckSources},
	{"Environment", CheckEnvironment},
	{"Secrets", CheckSecrets},
	{"IAM", CheckIAM},
	{"URLs", CheckURLs},
	{"TasksAndScheduler", CheckTasksAndScheduler},
	{"Firestore", CheckFirestore},
}

// tfFunction is a google_cloudfunctions2_function with what checks need.
type tfFunction struct {
	Block      *Block
	Name       string
	EntryPoint string
	Location   string
	Env        map[string]string
	SA         string // service_account_email
	Go         *GoFunction
	Deployed   Deployed
	known      bool // Deployed is set
}

func (f *tfFunction) String() string { return f.Block.Addr() }

// ownURLs are the URLs that reach the function: the predictable
// cloudfunctions.net one and its Cloud Run (run.app) one.
func (r *Repo) ownURLs(f *tfFunction) []string {
	urls := []string{r.functionBaseURL() + f.Name}
	if obj, err := r.TF.EvalString(traversal(f.Block.Addr() + ".url")); err == nil {
		urls = append(urls, obj)
	}
	return urls
}

func (r *Repo) functionBaseURL() string {
	return "https://" + r.varString("region") + "-" + r.varString("project") + ".cloudfunctions.net/"
}

func (r *Repo) varString(name string) string {
	s, _ := r.TF.EvalString(traversal("var." + name))
	return s
}

// functions evaluates every google_cloudfunctions2_function.
func (r *Repo) functions() ([]*tfFunction, []error) {
	var out []*tfFunction
	var errs []error
	for _, b := range r.TF.Resources("google_cloudfunctions2_function") {
		f := &tfFunction{Block: b, Env: map[string]string{}}
		var err error
		if f.Name, err = r.TF.StringAttr(b.Body, "name"); err != nil {
			errs = append(errs, fmt.Errorf("%s: name: %v", b.Addr(), err))
		}
		if f.Location, err = r.TF.StringAttr(b.Body, "location"); err != nil {
			errs = append(errs, fmt.Errorf("%s: location: %v", b.Addr(), err))
		}
		bc := b.Nested("build_config")
		if len(bc) != 1 {
			errs = append(errs, fmt.Errorf("%s: want one build_config block", b.Addr()))
		} else if f.EntryPoint, err = r.TF.StringAttr(bc[0], "entry_point"); err != nil || f.EntryPoint == "" {
			errs = append(errs, fmt.Errorf("%s: build_config.entry_point must be set literally (%v)", b.Addr(), err))
		}
		sc := b.Nested("service_config")
		if len(sc) != 1 {
			errs = append(errs, fmt.Errorf("%s: want one service_config block", b.Addr()))
		} else {
			if e := attrOf(sc[0], "environment_variables"); e != nil {
				if f.Env, err = r.TF.EvalStringMap(e); err != nil {
					errs = append(errs, fmt.Errorf("%s: environment_variables: %v", b.Addr(), err))
					f.Env = map[string]string{}
				}
			}
			if f.SA, err = r.TF.StringAttr(sc[0], "service_account_email"); err != nil || f.SA == "" {
				errs = append(errs, fmt.Errorf("%s: service_config.service_account_email must name the function's own service account (%v)", b.Addr(), err))
			}
		}
		for i := range r.GoFunctions {
			if r.GoFunctions[i].EntryPoint == f.EntryPoint {
				f.Go = &r.GoFunctions[i]
			}
		}
		f.Deployed, f.known = r.Deployed[f.EntryPoint]
		out = append(out, f)
	}
	return out, errs
}

// forEach runs fn for each evaluated function that has source and a
// Deployed entry (CheckFunctionsMatch reports the others).
func (r *Repo) forEach(fn func(f *tfFunction) []error) []error {
	fns, errs := r.functions()
	for _, f := range fns {
		if f.Go == nil || !f.known {
			continue
		}
		errs = append(errs, fn(f)...)
	}
	return errs
}

// CheckFunctionsMatch: every Terraform function runs an entry point that a
// functions/<dir> registers, named as it (the URLs use the name); every
// function directory is deployed exactly once; the checks know each
// function's needs.
func CheckFunctionsMatch(r *Repo) []error {
	fns, errs := r.functions()
	byEntry := map[string][]*tfFunction{}
	for _, f := range fns {
		byEntry[f.EntryPoint] = append(byEntry[f.EntryPoint], f)
		if f.Go == nil {
			errs = append(errs, fmt.Errorf("%s: entry point %q is registered by no functions/*/ package", f, f.EntryPoint))
		}
		if f.Name != f.EntryPoint {
			errs = append(errs, fmt.Errorf("%s: name %q differs from its entry point %q (URLs are built from the name)", f, f.Name, f.EntryPoint))
		}
	}
	for _, g := range r.GoFunctions {
		switch n := len(byEntry[g.EntryPoint]); {
		case n == 0:
			errs = append(errs, fmt.Errorf("functions/%s (entry point %s) has no google_cloudfunctions2_function in terraform/", g.DirName, g.EntryPoint))
		case n > 1:
			errs = append(errs, fmt.Errorf("functions/%s (entry point %s) is deployed %d times", g.DirName, g.EntryPoint, n))
		}
		if _, ok := r.Deployed[g.EntryPoint]; !ok {
			errs = append(errs, fmt.Errorf("functions/%s (entry point %s) is missing from deploycheck's table of functions (deploycheck_test.go)", g.DirName, g.EntryPoint))
		}
	}
	for name := range r.Deployed {
		found := false
		for _, g := range r.GoFunctions {
			found = found || g.EntryPoint == name
		}
		if !found {
			errs = append(errs, fmt.Errorf("deploycheck's table lists %s, which no functions/*/ registers", name))
		}
	}
	return errs
}

var runtimeRE = regexp.MustCompile(`^go(\d)(\d+)$`)

// CheckRuntime: the Go runtime is at least the go directive of the
// function's go.mod (go 1.26.x needs go126 or later).
func CheckRuntime(r *Repo) []error {
	return r.forEach(func(f *tfFunction) []error {
		rt, err := r.TF.StringAttr(f.Block.Nested("build_config")[0], "runtime")
		if err != nil {
			return []error{fmt.Errorf("%s: runtime: %v", f, err)}
		}
		m := runtimeRE.FindStringSubmatch(rt)
		if m == nil {
			return []error{fmt.Errorf("%s: runtime %q is not a Go runtime (goNNN)", f, rt)}
		}
		have := "v" + m[1] + "." + m[2]
		want := "v" + f.Go.GoVersion
		if semver.Compare(semver.MajorMinor(have), semver.MajorMinor(want)) < 0 {
			return []error{fmt.Errorf("%s: runtime %s is older than go %s in functions/%s/go.mod", f, rt, f.Go.GoVersion, f.Go.DirName)}
		}
		return nil
	})
}

// CheckSources: each function is built from its own bundle
// (<bundle_dir>/<dir>.zip) through an object whose name carries that zip's
// md5, so a new bundle redeploys.
func CheckSources(r *Repo) []error {
	objects := map[string]*Block{}
	for _, b := range r.TF.Resources("google_storage_bucket_object") {
		if name, err := r.TF.StringAttr(b.Body, "name"); err == nil {
			objects[name] = b
		}
	}
	return r.forEach(func(f *tfFunction) []error {
		ss := f.Block.Nested("build_config", "source", "storage_source")
		if len(ss) != 1 {
			return []error{fmt.Errorf("%s: want build_config.source.storage_source", f)}
		}
		objName, err := r.TF.StringAttr(ss[0], "object")
		if err != nil {
			return []error{fmt.Errorf("%s: storage_source.object: %v", f, err)}
		}
		obj := objects[objName]
		if obj == nil {
			return []error{fmt.Errorf("%s: storage_source.object %q is no google_storage_bucket_object", f, objName)}
		}
		src, err := r.TF.StringAttr(obj.Body, "source")
		if err != nil || src == "" {
			return []error{fmt.Errorf("%s: source must be the bundle zip (%v)", obj.Addr(), err)}
		}
		var errs []error
		if filepath.Base(src) != f.Go.DirName+".zip" {
			errs = append(errs, fmt.Errorf("%s: %s uploads %s, want the bundle %s.zip of functions/%s", f, obj.Addr(), filepath.Base(src), f.Go.DirName, f.Go.DirName))
		}
		abs := src
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(r.TF.Dir, abs)
		}
		if !strings.Contains(objName, FileMD5Placeholder(abs)) {
			errs = append(errs, fmt.Errorf("%s: object name %q must include filemd5() of its source %s, so that a new bundle redeploys", obj.Addr(), objName, src))
		}
		bucket, _ := r.TF.StringAttr(obj.Body, "bucket")
		if fb, _ := r.TF.StringAttr(ss[0], "bucket"); fb != bucket {
			errs = append(errs, fmt.Errorf("%s: storage_source.bucket %q is not the object's bucket %q", f, fb, bucket))
		}
		return errs
	})
}

// CheckEnvironment: a function's environment holds only variables the
// configuration reads and the README lists for it, never a plaintext secret
// or an emulator host, and everything its Needs require: config.Load, with
// placeholders for values known after apply, accepts it. It also holds the Go
// runtime's settings, with exactly the values of config.DeployedRuntimeEnv
// (which the benchmark measures).
func CheckEnvironment(r *Repo) []error {
	known := map[string]bool{}
	for _, n := range config.EnvNames() {
		known[n] = true
	}
	runtimeEnv := config.DeployedRuntimeEnv()
	for n := range runtimeEnv {
		known[n] = true
	}
	localOnly := map[string]bool{}
	for _, n := range config.LocalOnlyEnvNames() {
		localOnly[n] = true
	}
	return r.forEach(func(f *tfFunction) []error {
		var errs []error
		label := f.Deployed.ReadmeLabel
		for _, k := range sortedKeys(f.Env) {
			switch {
			case localOnly[k] || strings.HasSuffix(k, "_EMULATOR_HOST"):
				errs = append(errs, fmt.Errorf("%s sets %s, which is for local runs only (plaintext secret or emulator)", f, k))
			case !known[k]:
				errs = append(errs, fmt.Errorf("%s sets %s, which the configuration never reads (shared/config)", f, k))
			case !r.Readme[k].UsedByFunction(label):
				errs = append(errs, fmt.Errorf("%s sets %s, which README's configuration table does not list for %q", f, k, label))
			}
			if strings.TrimSpace(f.Env[k]) == "" {
				errs = append(errs, fmt.Errorf("%s sets %s to an empty value", f, k))
			}
		}
		for _, k := range sortedKeys(r.Readme) {
			v := r.Readme[k]
			if v.UsedByFunction(label) && !v.HasDefault && !localOnly[k] && !strings.HasSuffix(k, "_EMULATOR_HOST") {
				if _, ok := f.Env[k]; !ok {
					errs = append(errs, fmt.Errorf("%s does not set %s, which README lists for %q without a default", f, k, label))
				}
			}
		}
		for _, k := range sortedKeys(runtimeEnv) {
			if got, ok := f.Env[k]; !ok || got != runtimeEnv[k] {
				errs = append(errs, fmt.Errorf("%s: Go runtime setting %s = %q, want %q (config.DeployedRuntimeEnv, what the benchmark measures)", f, k, got, runtimeEnv[k]))
			}
		}
		if _, err := config.Load(config.MapLookuper(f.Env), f.Deployed.Needs); err != nil {
			errs = append(errs, fmt.Errorf("%s: config.Load refuses its environment: %v", f, err))
		}
		return errs
	})
}

var secretVersionRE = regexp.MustCompile(`^projects/([^/]+)/secrets/([^/]+)/versions/([^/]+)$`)

// CheckSecrets: secrets are created empty (no version in Terraform, so no
// value in its state); every secret a function names exists in Terraform.
func CheckSecrets(r *Repo) []error {
	var errs []error
	for _, b := range r.TF.Blocks {
		if strings.HasPrefix(b.Type, "google_secret_manager_secret_version") || strings.HasPrefix(b.Type, "google_secret_manager_regional_secret_version") {
			errs = append(errs, fmt.Errorf("%s: secret values are added out of band, never through Terraform (they would land in its state)", b.Addr()))
		}
	}
	secrets := r.secretIDs()
	errs = append(errs, r.forEach(func(f *tfFunction) []error {
		var errs []error
		for _, k := range sortedKeys(f.Env) {
			m := secretVersionRE.FindStringSubmatch(f.Env[k])
			if m == nil {
				if strings.HasSuffix(k, "_SECRET_NAME") || strings.HasSuffix(k, "_KEY_NAME") {
					errs = append(errs, fmt.Errorf("%s: %s = %q is not a Secret Manager version name", f, k, f.Env[k]))
				}
				continue
			}
			if !secrets[m[2]] {
				errs = append(errs, fmt.Errorf("%s: %s names secret %q, which Terraform does not create", f, k, m[2]))
			}
			if m[1] != r.varString("project") {
				errs = append(errs, fmt.Errorf("%s: %s names a secret of project %q", f, k, m[1]))
			}
		}
		for _, sc := range f.Block.Nested("service_config") {
			for _, sev := range sc.Blocks {
				if sev.Type != "secret_environment_variables" && sev.Type != "secret_volumes" {
					continue
				}
				key, _ := r.TF.StringAttr(sev.Body, "key")
				secret, err := r.TF.StringAttr(sev.Body, "secret")
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %s: %v", f, sev.Type, err))
					continue
				}
				if id := lastSegment(secret); !secrets[id] {
					errs = append(errs, fmt.Errorf("%s: %s %s names secret %q, which Terraform does not create", f, sev.Type, key, id))
				}
				if sev.Type == "secret_environment_variables" {
					errs = append(errs, fmt.Errorf("%s: secret_environment_variables puts the secret's value in %s; give the function the *_NAME variable instead", f, key))
				}
			}
		}
		return errs
	})...)
	return errs
}

func (r *Repo) secretIDs() map[string]bool {
	out := map[string]bool{}
	for _, b := range r.TF.Resources("google_secret_manager_secret") {
		if id, err := r.TF.StringAttr(b.Body, "secret_id"); err == nil {
			out[id] = true
		}
	}
	return out
}

// grant is one IAM member binding.
type grant struct {
	Addr      string
	Resource  string // "project:P", "secret:S", "queue:…/queues/Q", "sa:EMAIL", "run:SERVICE"
	Role      string
	Member    string
	Condition string
}

func (g grant) key() string { return g.Role + " on " + g.Resource }

// grants collects every IAM member resource. Authoritative bindings and
// policies are refused: they would silently remove grants made elsewhere.
func (r *Repo) grants() ([]grant, []error) {
	var out []grant
	var errs []error
	project := r.varString("project")
	for _, b := range r.TF.Blocks {
		if b.Kind != "resource" || !strings.Contains(b.Type, "_iam_") {
			continue
		}
		if !strings.HasSuffix(b.Type, "_iam_member") {
			errs = append(errs, fmt.Errorf("%s: use *_iam_member (bindings and policies are authoritative)", b.Addr()))
			continue
		}
		g := grant{Addr: b.Addr()}
		var err error
		str := func(name string) string {
			s, e := r.TF.StringAttr(b.Body, name)
			if e != nil && err == nil {
				err = e
			}
			return s
		}
		g.Role, g.Member = str("role"), str("member")
		p := str("project")
		if p == "" {
			p = project
		}
		switch b.Type {
		case "google_project_iam_member":
			g.Resource = "project:" + p
			for _, c := range b.Nested("condition") {
				g.Condition, _ = r.TF.StringAttr(c, "expression")
			}
		case "google_secret_manager_secret_iam_member":
			g.Resource = "secret:" + lastSegment(str("secret_id"))
		case "google_cloud_tasks_queue_iam_member":
			loc := str("location")
			if loc == "" {
				loc = r.varString("region")
			}
			g.Resource = "queue:projects/" + p + "/locations/" + loc + "/queues/" + lastSegment(str("name"))
		case "google_service_account_iam_member":
			g.Resource = "sa:" + lastSegment(str("service_account_id"))
		case "google_cloud_run_service_iam_member":
			g.Resource = "run:" + lastSegment(str("service"))
		case "google_cloud_run_v2_service_iam_member":
			g.Resource = "run:" + lastSegment(str("name"))
		default:
			errs = append(errs, fmt.Errorf("%s: deploycheck does not know this IAM resource type; teach CheckIAM", b.Addr()))
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %v", b.Addr(), err))
			continue
		}
		out = append(out, g)
	}
	return out, errs
}

// CheckIAM: each function has its own service account, granted exactly what
// its code uses, on single resources wherever IAM allows: Firestore (project
// role limited to the database by a condition), the Identity Toolkit for
// ID-token revocation checks (project level: it has no per-resource IAM),
// the secrets it names, the queue and the task invoker it enqueues with.
// Browsers or Meta call every function except scheduled ones, which only
// their scheduler's service account may invoke. Invoker identities have no
// other role.
func CheckIAM(r *Repo) []error {
	grants, errs := r.grants()
	fns, _ := r.functions()
	project := r.varString("project")
	firestoreCond := `resource.name == "projects/` + project + `/databases/(default)"`

	bySA := map[string][]string{}
	for _, f := range fns {
		bySA[f.SA] = append(bySA[f.SA], f.String())
	}
	for sa, users := range bySA {
		if len(users) > 1 {
			errs = append(errs, fmt.Errorf("service account %s is shared by %s: give each function its own", sa, strings.Join(users, ", ")))
		}
	}
	serviceAccounts := map[string]bool{}
	for _, b := range r.TF.Resources("google_service_account") {
		if e, err := r.TF.EvalString(traversal(b.Addr() + ".email")); err == nil {
			serviceAccounts[e] = true
		}
	}
	for _, g := range grants {
		if (g.Member == "allUsers" || g.Member == "allAuthenticatedUsers") && !(strings.HasPrefix(g.Resource, "run:") && g.Role == "roles/run.invoker") {
			errs = append(errs, fmt.Errorf("%s grants %s to %s: only invoking a function may be public", g.Addr, g.Role, g.Member))
		}
	}

	explained := map[string]bool{} // grant addresses some function accounts for
	errs = append(errs, r.forEach(func(f *tfFunction) []error {
		var errs []error
		if !serviceAccounts[f.SA] {
			errs = append(errs, fmt.Errorf("%s runs as %s, which is no google_service_account of this configuration", f, f.SA))
		}
		member := "serviceAccount:" + f.SA
		want := map[string]string{ // key → why
			"roles/datastore.user on project:" + project: "Firestore",
		}
		if f.Deployed.Auth {
			want["roles/firebaseauth.viewer on project:"+project] = "ID-token revocation checks"
		}
		for _, v := range f.Env {
			if m := secretVersionRE.FindStringSubmatch(v); m != nil {
				want["roles/secretmanager.secretAccessor on secret:"+m[2]] = "the secrets it names"
			}
		}
		if f.Deployed.Needs.Tasks {
			want["roles/cloudtasks.enqueuer on queue:"+f.Env["TASKS_QUEUE"]] = "enqueuing retries"
			want["roles/iam.serviceAccountUser on sa:"+f.Env["TASKS_SERVICE_ACCOUNT"]] = "attaching the invoker's OIDC token to tasks"
		}
		have := map[string]grant{}
		for _, g := range grants {
			if g.Member != member {
				continue
			}
			explained[g.Addr] = true
			if _, dup := have[g.key()]; dup {
				errs = append(errs, fmt.Errorf("%s: %s granted twice", f, g.key()))
			}
			have[g.key()] = g
			if _, ok := want[g.key()]; !ok {
				errs = append(errs, fmt.Errorf("%s: %s grants %s, which the function does not need", f, g.Addr, g.key()))
			}
			if g.Role == "roles/datastore.user" && g.Condition != firestoreCond {
				errs = append(errs, fmt.Errorf("%s: %s must carry the condition %s (the one database it uses), has %q", f, g.Addr, firestoreCond, g.Condition))
			}
		}
		for _, k := range sortedKeys(want) {
			if _, ok := have[k]; !ok {
				errs = append(errs, fmt.Errorf("%s lacks %s (%s)", f, k, want[k]))
			}
		}

		// Who may invoke it.
		service := "run:" + strings.ToLower(f.Name)
		var invokers []string
		for _, g := range grants {
			if g.Resource == service {
				explained[g.Addr] = true
				if g.Role != "roles/run.invoker" {
					errs = append(errs, fmt.Errorf("%s: %s grants %s on the function's service", f, g.Addr, g.Role))
				}
				invokers = append(invokers, g.Member)
			}
		}
		sort.Strings(invokers)
		wantInvoker := "allUsers"
		if f.Deployed.Needs.Scheduler {
			wantInvoker = "serviceAccount:" + f.Env["SCHEDULER_SERVICE_ACCOUNT"]
		}
		if len(invokers) != 1 || invokers[0] != wantInvoker {
			errs = append(errs, fmt.Errorf("%s: invokers %v, want exactly [%s]", f, invokers, wantInvoker))
		}
		return errs
	})...)

	for _, g := range grants {
		if !explained[g.Addr] {
			errs = append(errs, fmt.Errorf("%s grants %s to %s, which no function needs", g.Addr, g.key(), g.Member))
		}
	}
	return errs
}

// CheckURLs: variables holding a function's URL point at that function.
func CheckURLs(r *Repo) []error {
	fns, errs := r.functions()
	var callback *tfFunction
	for _, f := range fns {
		if f.known && f.Deployed.Needs.OAuthCallback {
			callback = f
		}
	}
	own := map[string]bool{"TASKS_TARGET_URL": true, "DATA_DELETION_STATUS_URL": true, "SCHEDULER_AUDIENCE": true}
	redirect := ""
	for _, f := range fns {
		if !f.known || f.Go == nil {
			continue
		}
		for _, k := range sortedKeys(f.Env) {
			v := f.Env[k]
			switch {
			case own[k]:
				if !slices.Contains(r.ownURLs(f), v) {
					errs = append(errs, fmt.Errorf("%s: %s = %q, want its own URL (one of %v)", f, k, v, r.ownURLs(f)))
				}
			case k == "THREADS_REDIRECT_URI":
				if callback == nil {
					errs = append(errs, fmt.Errorf("%s sets THREADS_REDIRECT_URI but no function handles the OAuth callback", f))
				} else if !slices.Contains(r.ownURLs(callback), v) {
					errs = append(errs, fmt.Errorf("%s: THREADS_REDIRECT_URI = %q, want %s's URL (one of %v)", f, v, callback, r.ownURLs(callback)))
				}
				if redirect != "" && v != redirect {
					errs = append(errs, fmt.Errorf("%s: THREADS_REDIRECT_URI = %q differs from another function's %q", f, v, redirect))
				}
				redirect = v
			}
		}
	}
	return errs
}

// schedulerJob is a google_cloud_scheduler_job's target and OIDC token.
type schedulerJob struct {
	addr, uri, audience, sa string
}

// sweepQuery is what a scheduler job appends to a Cloud Tasks function's own
// URL to have it sweep its overdue jobs.
const sweepQuery = "?sweep=1"

// CheckTasksAndScheduler: the queue and the invoker identities the
// functions name exist; a scheduled function has a job calling it with the
// identity and audience it checks (SCHEDULER_*); a function with Cloud Tasks
// has exactly one job calling its sweep (its own URL + "?sweep=1") with the
// identity and audience it checks for tasks (TASKS_*); every job calls one
// of these.
func CheckTasksAndScheduler(r *Repo) []error {
	queues := map[string]*Block{}
	for _, b := range r.TF.Resources("google_cloud_tasks_queue") {
		if id, err := r.TF.EvalString(traversal(b.Addr() + ".id")); err == nil {
			queues[id] = b
		}
	}
	serviceAccounts := map[string]bool{}
	for _, b := range r.TF.Resources("google_service_account") {
		if e, err := r.TF.EvalString(traversal(b.Addr() + ".email")); err == nil {
			serviceAccounts[e] = true
		}
	}
	var jobs []schedulerJob
	var errs []error
	for _, b := range r.TF.Resources("google_cloud_scheduler_job") {
		j := schedulerJob{addr: b.Addr()}
		for _, ht := range b.Nested("http_target") {
			j.uri, _ = r.TF.StringAttr(ht, "uri")
			for _, o := range ht.Blocks {
				if o.Type == "oidc_token" {
					j.sa, _ = r.TF.StringAttr(o.Body, "service_account_email")
					j.audience, _ = r.TF.StringAttr(o.Body, "audience")
				}
			}
		}
		if j.audience == "" {
			j.audience = j.uri // Cloud Scheduler's default audience
		}
		jobs = append(jobs, j)
	}
	fns, _ := r.functions() // CheckFunctionsMatch reports their errors
	for _, j := range jobs {
		calls := false
		for _, f := range fns {
			own := r.ownURLs(f)
			calls = calls || slices.Contains(own, j.uri) || slices.Contains(own, strings.TrimSuffix(j.uri, sweepQuery))
		}
		if !calls {
			errs = append(errs, fmt.Errorf("%s calls %q, which is no function's URL (nor its URL + %q)", j.addr, j.uri, sweepQuery))
		}
	}
	errs = append(errs, r.forEach(func(f *tfFunction) []error {
		var errs []error
		if f.Deployed.Needs.Tasks {
			if q := queues[f.Env["TASKS_QUEUE"]]; q == nil {
				errs = append(errs, fmt.Errorf("%s: TASKS_QUEUE %q is no google_cloud_tasks_queue here", f, f.Env["TASKS_QUEUE"]))
			} else if len(q.Nested("retry_config")) != 1 {
				errs = append(errs, fmt.Errorf("%s: give the queue a retry_config matched to Threads", q.Addr()))
			}
			if !serviceAccounts[f.Env["TASKS_SERVICE_ACCOUNT"]] {
				errs = append(errs, fmt.Errorf("%s: TASKS_SERVICE_ACCOUNT %q is no google_service_account here", f, f.Env["TASKS_SERVICE_ACCOUNT"]))
			}
		}
		var mine, sweeps []schedulerJob
		own := r.ownURLs(f)
		var sweepURLs []string
		for _, u := range own {
			sweepURLs = append(sweepURLs, u+sweepQuery)
		}
		for _, j := range jobs {
			switch {
			case slices.Contains(own, j.uri):
				mine = append(mine, j)
			case slices.Contains(sweepURLs, j.uri):
				sweeps = append(sweeps, j)
			}
		}
		errs = append(errs, r.checkSweep(f, sweeps, sweepURLs)...)
		if !f.Deployed.Needs.Scheduler {
			for _, j := range mine {
				errs = append(errs, fmt.Errorf("%s calls %s, which is not a scheduled function", j.addr, f))
			}
			return errs
		}
		if !serviceAccounts[f.Env["SCHEDULER_SERVICE_ACCOUNT"]] {
			errs = append(errs, fmt.Errorf("%s: SCHEDULER_SERVICE_ACCOUNT %q is no google_service_account here", f, f.Env["SCHEDULER_SERVICE_ACCOUNT"]))
		}
		if len(mine) == 0 {
			errs = append(errs, fmt.Errorf("%s needs a google_cloud_scheduler_job calling it (no job's uri is one of %v)", f, own))
		}
		for _, j := range mine {
			errs = append(errs, j.checkCaller(f, f.String(), "SCHEDULER_SERVICE_ACCOUNT", "SCHEDULER_AUDIENCE")...)
		}
		return errs
	})...)
	return errs
}

// checkSweep: a function with Cloud Tasks has exactly one job calling its
// sweep, which comes with the identity and audience it accepts from Cloud
// Tasks; a function without has none.
func (r *Repo) checkSweep(f *tfFunction, sweeps []schedulerJob, sweepURLs []string) []error {
	var errs []error
	if !f.Deployed.Needs.Tasks {
		for _, j := range sweeps {
			errs = append(errs, fmt.Errorf("%s calls %s's sweep (%s), but it has no Cloud Tasks jobs to sweep", j.addr, f, j.uri))
		}
		return errs
	}
	switch len(sweeps) {
	case 0:
		errs = append(errs, fmt.Errorf("%s needs a google_cloud_scheduler_job calling its sweep of overdue jobs (no job's uri is one of %v)", f, sweepURLs))
	case 1:
	default:
		var addrs []string
		for _, j := range sweeps {
			addrs = append(addrs, j.addr)
		}
		errs = append(errs, fmt.Errorf("%s: %d scheduler jobs call its sweep (%s), want exactly one", f, len(sweeps), strings.Join(addrs, ", ")))
	}
	for _, j := range sweeps {
		errs = append(errs, j.checkCaller(f, f.String()+"'s sweep", "TASKS_SERVICE_ACCOUNT", "TASKS_TARGET_URL")...)
	}
	return errs
}

// checkCaller: the job calls with the identity and audience that what (f,
// or its sweep) checks, the values of f's settings saKey and audienceKey.
func (j schedulerJob) checkCaller(f *tfFunction, what, saKey, audienceKey string) []error {
	var errs []error
	if j.sa != f.Env[saKey] {
		errs = append(errs, fmt.Errorf("%s: OIDC token of %q, but %s accepts only %q (%s)", j.addr, j.sa, what, f.Env[saKey], saKey))
	}
	if j.audience != f.Env[audienceKey] {
		errs = append(errs, fmt.Errorf("%s: audience %q, but %s checks %q (%s)", j.addr, j.audience, what, f.Env[audienceKey], audienceKey))
	}
	return errs
}

// CheckFirestore: the database, the TTL on oauthStates.expiresAt, the rules
// from the file firebase.json names, and the indexes of the file it names.
func CheckFirestore(r *Repo) []error {
	var errs []error
	var fb struct {
		Firestore struct {
			Rules   string `json:"rules"`
			Indexes string `json:"indexes"`
		} `json:"firestore"`
	}
	raw, err := os.ReadFile(r.FirebaseJSON)
	if err == nil {
		err = json.Unmarshal(raw, &fb)
	}
	if err != nil {
		return []error{fmt.Errorf("firebase.json: %v", err)}
	}

	dbs := r.TF.Resources("google_firestore_database")
	if len(dbs) != 1 {
		errs = append(errs, fmt.Errorf("want one google_firestore_database, have %d", len(dbs)))
	} else {
		name, _ := r.TF.StringAttr(dbs[0].Body, "name")
		typ, _ := r.TF.StringAttr(dbs[0].Body, "type")
		if name != "(default)" || typ != "FIRESTORE_NATIVE" {
			errs = append(errs, fmt.Errorf("%s: want name \"(default)\" and type FIRESTORE_NATIVE, have %q %q", dbs[0].Addr(), name, typ))
		}
	}

	// Rules: the ruleset's content is the file firebase.json names.
	rulesPath := filepath.Join(filepath.Dir(r.FirebaseJSON), fb.Firestore.Rules)
	rules, err := os.ReadFile(rulesPath)
	if fb.Firestore.Rules == "" || err != nil {
		errs = append(errs, fmt.Errorf("firebase.json: firestore.rules %q: %v", fb.Firestore.Rules, err))
	}
	rulesets := map[string]*Block{}
	for _, b := range r.TF.Resources("google_firebaserules_ruleset") {
		var contents []string
		for _, f := range b.Nested("source", "files") {
			c, err := r.TF.StringAttr(f, "content")
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %v", b.Addr(), err))
			}
			contents = append(contents, c)
		}
		if len(contents) != 1 || contents[0] != string(rules) {
			errs = append(errs, fmt.Errorf("%s: its content is not %s, the rules file firebase.json names", b.Addr(), fb.Firestore.Rules))
		}
		if n, err := r.TF.EvalString(traversal(b.Addr() + ".name")); err == nil {
			rulesets[n] = b
		}
	}
	released := false
	for _, b := range r.TF.Resources("google_firebaserules_release") {
		name, _ := r.TF.StringAttr(b.Body, "name")
		rs, _ := r.TF.StringAttr(b.Body, "ruleset_name")
		if name == "cloud.firestore" && rulesets[lastSegment(rs)] != nil {
			released = true
		}
	}
	if !released {
		errs = append(errs, fmt.Errorf("no google_firebaserules_release \"cloud.firestore\" releases the Firestore ruleset"))
	}

	// TTL policy on oauthStates.expiresAt.
	fields := map[string]*Block{}
	for _, b := range r.TF.Resources("google_firestore_field") {
		c, _ := r.TF.StringAttr(b.Body, "collection")
		f, _ := r.TF.StringAttr(b.Body, "field")
		fields[c+"."+f] = b
	}
	if b := fields["oauthStates.expiresAt"]; b == nil || len(b.Nested("ttl_config")) != 1 {
		errs = append(errs, fmt.Errorf("oauthStates.expiresAt needs a google_firestore_field with ttl_config (TTL policy)"))
	}

	// Indexes: Terraform declares exactly those of the indexes file.
	if fb.Firestore.Indexes != "" {
		errs = append(errs, r.checkIndexes(filepath.Join(filepath.Dir(r.FirebaseJSON), fb.Firestore.Indexes), fields)...)
	}
	return errs
}

type indexFile struct {
	Indexes []struct {
		CollectionGroup string `json:"collectionGroup"`
		QueryScope      string `json:"queryScope"`
		Fields          []struct {
			FieldPath   string `json:"fieldPath"`
			Order       string `json:"order"`
			ArrayConfig string `json:"arrayConfig"`
		} `json:"fields"`
	} `json:"indexes"`
	FieldOverrides []struct {
		CollectionGroup string `json:"collectionGroup"`
		FieldPath       string `json:"fieldPath"`
		TTL             bool   `json:"ttl"`
		Indexes         []struct {
			Order       string `json:"order"`
			ArrayConfig string `json:"arrayConfig"`
			QueryScope  string `json:"queryScope"`
		} `json:"indexes"`
	} `json:"fieldOverrides"`
}

func (r *Repo) checkIndexes(path string, fields map[string]*Block) []error {
	var errs []error
	var ix indexFile
	raw, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(raw, &ix)
	}
	if err != nil {
		return []error{fmt.Errorf("%s: %v", filepath.Base(path), err)}
	}
	// Composite indexes, as "collection|scope|field:order,…".
	want := map[string]bool{}
	for _, i := range ix.Indexes {
		scope := i.QueryScope
		if scope == "" {
			scope = "COLLECTION"
		}
		var fs []string
		for _, f := range i.Fields {
			fs = append(fs, f.FieldPath+":"+f.Order+f.ArrayConfig)
		}
		want[i.CollectionGroup+"|"+scope+"|"+strings.Join(fs, ",")] = true
	}
	have := map[string]string{}
	for _, b := range r.TF.Resources("google_firestore_index") {
		c, _ := r.TF.StringAttr(b.Body, "collection")
		scope, _ := r.TF.StringAttr(b.Body, "query_scope")
		if scope == "" {
			scope = "COLLECTION"
		}
		var fs []string
		for _, f := range b.Nested("fields") {
			p, _ := r.TF.StringAttr(f, "field_path")
			o, _ := r.TF.StringAttr(f, "order")
			a, _ := r.TF.StringAttr(f, "array_config")
			fs = append(fs, p+":"+o+a)
		}
		have[c+"|"+scope+"|"+strings.Join(fs, ",")] = b.Addr()
	}
	for _, k := range sortedKeys(want) {
		if _, ok := have[k]; !ok {
			errs = append(errs, fmt.Errorf("%s declares index %s, which Terraform does not create", filepath.Base(path), k))
		}
	}
	for _, k := range sortedKeys(have) {
		if !want[k] {
			errs = append(errs, fmt.Errorf("%s creates index %s, which %s does not declare", have[k], k, filepath.Base(path)))
		}
	}
	// Field overrides: same single-field indexes (and TTL) per field.
	declared := map[string]bool{}
	for _, o := range ix.FieldOverrides {
		key := o.CollectionGroup + "." + o.FieldPath
		declared[key] = true
		b := fields[key]
		if b == nil {
			errs = append(errs, fmt.Errorf("%s overrides %s, which has no google_firestore_field", filepath.Base(path), key))
			continue
		}
		var w, h []string
		for _, i := range o.Indexes {
			w = append(w, i.QueryScope+":"+i.Order+i.ArrayConfig)
		}
		for _, ic := range b.Nested("index_config", "indexes") {
			s, _ := r.TF.StringAttr(ic, "query_scope")
			o, _ := r.TF.StringAttr(ic, "order")
			a, _ := r.TF.StringAttr(ic, "array_config")
			h = append(h, s+":"+o+a)
		}
		sort.Strings(w)
		sort.Strings(h)
		if strings.Join(w, " ") != strings.Join(h, " ") {
			errs = append(errs, fmt.Errorf("%s: indexes %v, but %s declares %v", b.Addr(), h, filepath.Base(path), w))
		}
		if o.TTL != (len(b.Nested("ttl_config")) == 1) {
			errs = append(errs, fmt.Errorf("%s: TTL differs from %s", b.Addr(), filepath.Base(path)))
		}
	}
	for key, b := range fields {
		// A TTL policy may stand alone: the indexes file need not mention it.
		if !declared[key] && len(b.Nested("ttl_config")) == 0 {
			errs = append(errs, fmt.Errorf("%s overrides %s's indexes, which %s does not declare", b.Addr(), key, filepath.Base(path)))
		}
	}
	return errs
}

func lastSegment(s string) string {
	if i := strings.LastIndex(s, "/"); i >= 0 {
		return s[i+1:]
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
