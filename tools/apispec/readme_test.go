package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestREADMEIsUpToDate fails when the README's generated sections differ
// from what api/openapi.yaml says (run: go run ./tools/apispec gen-readme).
func TestREADMEIsUpToDate(t *testing.T) {
	_, root := loadRepoSpec(t)
	var out bytes.Buffer
	if err := run(t.Context(), []string{"-root", root, "gen-readme", "-check"}, &out); err != nil {
		t.Fatal(err)
	}
}

// TestStaleSectionsAreReported breaks copies of the README and expects the
// check to name each stale section, and gen-readme to repair it.
func TestStaleSectionsAreReported(t *testing.T) {
	s, root := loadRepoSpec(t)
	good, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, old, new string
		stale          []string
		broken         bool // markers broken: an error, not a repair
	}{
		{name: "field rule edited by hand", old: "| `ghost` | boolean | a ghost post", new: "| `ghost` | boolean | a spooky post", stale: []string{"publish-fields"}},
		{name: "error row removed", old: "| 422 | `media_failed` |", new: "| 422 | `gone` |", stale: []string{"errors"}},
		{name: "type edited by hand", old: "| `thread` | `[string]` |", new: "| `thread` | list |", stale: []string{"publish-fields"}},
		{name: "marker missing", old: "<!-- END GENERATED: errors -->", new: "", broken: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(good), tc.old) {
				t.Fatalf("README no longer contains %q: update the test", tc.old)
			}
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "api"), 0o755); err != nil {
				t.Fatal(err)
			}
			spec, err := os.ReadFile(filepath.Join(root, SpecPath))
			if err != nil {
				t.Fatal(err)
			}
			for name, data := range map[string][]byte{
				"README.md": []byte(strings.Replace(string(good), tc.old, tc.new, 1)),
				SpecPath:    spec,
				"go.work":   []byte("go 1.26\n"),
			} {
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var out bytes.Buffer
			err = run(t.Context(), []string{"-root", dir, "gen-readme", "-check"}, &out)
			if tc.broken {
				if err == nil || errors.Is(err, ErrStale) {
					t.Fatalf("broken markers: err = %v, want a marker error", err)
				}
				return
			}
			if !errors.Is(err, ErrStale) {
				t.Fatalf("check: err = %v, want ErrStale", err)
			}
			for _, name := range tc.stale {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("check does not name %s: %v", name, err)
				}
			}
			if err := run(t.Context(), []string{"-root", dir, "gen-readme"}, &out); err != nil {
				t.Fatal(err)
			}
			fixed, _ := os.ReadFile(filepath.Join(dir, "README.md"))
			if !bytes.Equal(fixed, good) {
				t.Error("gen-readme did not restore the README")
			}
		})
	}
	// The sections are what the spec renders.
	sections, err := s.Sections()
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(sections))
	for n := range sections {
		names = append(names, n)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"errors", "publish-fields"}) {
		t.Errorf("sections %q", names)
	}
}
