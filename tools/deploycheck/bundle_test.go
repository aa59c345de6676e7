package deploycheck_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"threadsfunctions.dev/tools/deploycheck"
)

// buildEnv is the environment of the offline bundle builds: no workspace,
// vendored dependencies only, no module proxy, checksum database or
// toolchain download. Whatever the caller's GOFLAGS or go env say, nothing
// is fetched: a bundle that needs the network fails.
func buildEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "GOWORK", "GOFLAGS", "GOPROXY", "GOSUMDB", "GONOSUMDB", "GONOSUMCHECK", "GOPRIVATE", "GONOPROXY", "GOTOOLCHAIN", "GOINSECURE", "GOVCS":
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"GOWORK=off",
		"GOFLAGS=-mod=vendor",
		"GOPROXY=off",
		"GOSUMDB=off",
		"GOTOOLCHAIN=local",
	)
}

// gcfMain is what Cloud Functions' Go buildpack compiles around a function:
// a main package importing it and the vendored Functions Framework.
const gcfMain = `package main

import (
	"log"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	_ %q
)

func main() {
	if err := funcframework.Start(os.Getenv("PORT")); err != nil {
		log.Fatal(err)
	}
}
`

// TestBundlesBuildAlone runs scripts/bundle into a temporary directory, then
// unzips each function's bundle into an empty directory outside the
// repository and builds and vets it there, offline, from vendor/ alone, as
// Cloud Functions would (plus the buildpack's main package).
func TestBundlesBuildAlone(t *testing.T) {
	root := repoRoot(t)
	fns, err := deploycheck.FindGoFunctions(filepath.Join(root, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	if len(fns) == 0 {
		t.Fatal("no functions found")
	}

	out := t.TempDir()
	start := time.Now()
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "bundle"), out)
	cmd.Dir = root
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Run(); err != nil {
		t.Fatalf("scripts/bundle %s: %v\n%s", out, err, log.String())
	}
	t.Logf("scripts/bundle: %s", time.Since(start).Round(time.Millisecond))

	// The first build fills the build cache with the vendored dependencies
	// (cold, it takes minutes); the others then mostly hit it and run in
	// parallel.
	t.Run(fns[0].DirName, func(t *testing.T) { buildBundle(t, root, out, fns[0]) })
	t.Run("others", func(t *testing.T) {
		for _, fn := range fns[1:] {
			t.Run(fn.DirName, func(t *testing.T) {
				t.Parallel()
				buildBundle(t, root, out, fn)
			})
		}
	})
}

// buildBundle unzips fn's bundle from out into an empty directory, checks
// its contents, adds the buildpack's main package, then builds and vets it
// offline.
func buildBundle(t *testing.T, root, out string, fn deploycheck.GoFunction) {
	zipPath := filepath.Join(out, fn.DirName+".zip")
	dir := t.TempDir()
	if rel, err := filepath.Rel(root, dir); err == nil && !strings.HasPrefix(rel, "..") {
		t.Fatalf("%s is inside the repository: the build could see go.work", dir)
	}
	names := unzip(t, zipPath, dir)
	checkBundleContents(t, fn, dir, names)

	mainDir := filepath.Join(dir, "gcfmain")
	if err := os.MkdirAll(mainDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mainDir, "main.go"), fmt.Appendf(nil, gcfMain, fn.Module), 0o644); err != nil {
		t.Fatal(err)
	}
	// -trimpath keeps the bundle's directory out of the build cache keys:
	// every run, and every function, unzips into a new one.
	for _, args := range [][]string{
		{"build", "-trimpath", "-o", os.DevNull, "./..."},
		{"vet", "-trimpath", "./..."},
	} {
		start := time.Now()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = buildEnv()
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s in the unzipped bundle: %v\n%s", strings.Join(args, " "), err, b)
		}
		t.Logf("go %s: %s", args[0], time.Since(start).Round(time.Millisecond))
	}
}

// checkBundleContents: the bundle is the function's module with the shared
// module beside it and everything vendored, and nothing else.
func checkBundleContents(t *testing.T, fn deploycheck.GoFunction, dir string, names []string) {
	t.Helper()
	has := map[string]bool{}
	for _, n := range names {
		has[n] = true
		base := filepath.Base(n)
		switch {
		case strings.HasSuffix(n, "_test.go"), strings.Contains("/"+n, "/testdata/"):
			t.Errorf("bundle holds test file %s", n)
		case strings.HasPrefix(base, ".") && !strings.HasPrefix(n, "vendor/"):
			t.Errorf("bundle holds hidden file %s", n)
		case n == "go.work" || n == "go.work.sum" || n == "_shared/go.work":
			t.Errorf("bundle holds %s: the build must not depend on the workspace", n)
		case strings.HasSuffix(base, ".tfvars") || strings.HasSuffix(base, ".tfstate") || strings.HasSuffix(base, ".pem") || strings.HasSuffix(base, ".key"):
			t.Errorf("bundle holds %s, which may carry secrets", n)
		}
	}
	for _, want := range []string{"go.mod", "go.sum", "function.go", "vendor/modules.txt", "_shared/go.mod"} {
		if !has[want] {
			t.Errorf("bundle lacks %s", want)
		}
	}
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(gomod), "threadsfunctions.dev/shared => ./_shared") {
		t.Errorf("go.mod does not replace the shared module with ./_shared:\n%s", gomod)
	}
	modules, err := os.ReadFile(filepath.Join(dir, "vendor", "modules.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range []string{"github.com/GoogleCloudPlatform/functions-framework-go/funcframework", "threadsfunctions.dev/shared/app"} {
		if !bytes.Contains(modules, []byte("\n"+pkg+"\n")) {
			t.Errorf("vendor/modules.txt does not vendor %s", pkg)
		}
	}
}

// unzip extracts zipPath into dir and returns the entries' names.
func unzip(t *testing.T, zipPath, dir string) []string {
	t.Helper()
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatalf("open bundle: %v", err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		name := filepath.ToSlash(filepath.Clean(f.Name))
		if filepath.IsAbs(name) || strings.HasPrefix(name, "../") {
			t.Fatalf("bundle entry %q escapes the bundle", f.Name)
		}
		if !f.Modified.IsZero() && f.Modified.Year() != 1980 {
			t.Errorf("bundle entry %s has time %s: bundles must be reproducible (fixed times)", f.Name, f.Modified)
		}
		names = append(names, name)
		dst := filepath.Join(dir, name)
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		w, err := os.Create(dst)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(w, rc)
		rc.Close()
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return names
}
