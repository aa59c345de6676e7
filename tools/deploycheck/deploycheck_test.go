package deploycheck_test

import (
	"os"
	"path/filepath"
	"testing"

	"threadsfunctions.dev/functions/thauthcallback"
	"threadsfunctions.dev/functions/thauthstart"
	"threadsfunctions.dev/functions/thdatadeletion"
	"threadsfunctions.dev/functions/thdeauthorize"
	"threadsfunctions.dev/functions/thdisconnect"
	"threadsfunctions.dev/functions/thpublish"
	"threadsfunctions.dev/functions/threfresh"
	"threadsfunctions.dev/shared/app"
	"threadsfunctions.dev/tools/deploycheck"
)

// deployed lists every function with what its package says it needs, and
// the name the README's configuration table ("Used by") gives it. A new
// function needs a line here (TestConsistency says so).
var deployed = []deploycheck.Deployed{
	entry(thauthstart.Name, thauthstart.Options, "start"),
	entry(thauthcallback.Name, thauthcallback.Options, "callback"),
	entry(thpublish.Name, thpublish.Options, "publish"),
	entry(thdisconnect.Name, thdisconnect.Options, "disconnect"),
	entry(thdeauthorize.Name, thdeauthorize.Options, "deauthorize"),
	entry(thdatadeletion.Name, thdatadeletion.Options, "data deletion"),
	entry(threfresh.Name, threfresh.Options, "refresh"),
}

func entry(name string, o app.Options, readmeLabel string) deploycheck.Deployed {
	return deploycheck.Deployed{EntryPoint: name, Needs: o.Needs, Auth: o.Auth, ReadmeLabel: readmeLabel}
}

// repoRoot is the repository root: two levels up from this module.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.work")); err != nil {
		t.Fatalf("repository root not found at %s: %v", root, err)
	}
	return root
}

// TestTerraformFormatting fails on any Terraform file that does not parse
// or is not laid out as `tofu fmt` would (hclwrite.Format), with a diff.
func TestTerraformFormatting(t *testing.T) {
	problems, err := deploycheck.FormatProblems(filepath.Join(repoRoot(t), "terraform"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// TestConsistency runs every check of the Terraform against the code, the
// README and firebase.json.
func TestConsistency(t *testing.T) {
	root := repoRoot(t)
	repo, err := deploycheck.LoadRepo(root, filepath.Join(root, "terraform"), deployed)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range deploycheck.Checks {
		t.Run(c.Name, func(t *testing.T) {
			for _, err := range c.Run(repo) {
				t.Error(err)
			}
		})
	}
}
