package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// loadRepoSpec loads api/openapi.yaml of this repository.
func loadRepoSpec(t *testing.T) (*Spec, string) {
	t.Helper()
	root, err := RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadSpec(t.Context(), filepath.Join(root, SpecPath))
	if err != nil {
		t.Fatal(err)
	}
	return s, root
}

// TestSpecIsValidOpenAPI31 lints the spec: OpenAPI 3.1, every $ref resolves
// within the file, every example valid against its schema.
func TestSpecIsValidOpenAPI31(t *testing.T) {
	s, _ := loadRepoSpec(t)
	if err := s.Validate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Operations()); n < 13 {
		t.Errorf("the spec has %d operations; every function's are expected", n)
	}
}

// TestLintCatchesBrokenSpecs breaks copies of the spec in each way the lint
// exists to catch, and expects each reported.
func TestLintCatchesBrokenSpecs(t *testing.T) {
	root, err := RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(root, SpecPath))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, old, new string
	}{
		{"not 3.1", "openapi: 3.1.0", "openapi: 3.0.3"},
		{"dangling $ref", "$ref: '#/components/schemas/AuthStartAnswer'", "$ref: '#/components/schemas/NoSuchSchema'"},
		{"example invalid against its schema", "value: {ok: true}", "value: {ok: yes-please}"},
		{"response example with an unknown code", "value: {ok: false, error: {code: empty_post,", "value: {ok: false, error: {code: not_a_code,"},
		{"bad pattern", `pattern: '^[kr][0-9a-f]{32}$'`, `pattern: '^[kr][0-9a-f]{32$('`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(good), tc.old) {
				t.Fatalf("the spec no longer contains %q: update the test", tc.old)
			}
			bad := strings.Replace(string(good), tc.old, tc.new, 1)
			path := filepath.Join(t.TempDir(), "openapi.yaml")
			if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := LoadSpec(context.Background(), path)
			if err == nil {
				err = s.Validate(t.Context())
			}
			if err == nil {
				t.Fatal("the broken spec passed the lint")
			}
			t.Logf("reported: %.300s", err)
		})
	}
}

// TestErrorCatalogueMatchesOperations: every code an operation names is in
// the ErrorCode catalogue with that status, every catalogue entry is
// carried by some operation's answer of that status, and every error
// answer names its codes.
func TestErrorCatalogueMatchesOperations(t *testing.T) {
	s, _ := loadRepoSpec(t)
	cat, err := s.Catalogue()
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		code   string
		status int
	}
	inCatalogue := map[key]bool{}
	for _, e := range cat {
		if inCatalogue[key{e.Code, e.Status}] {
			t.Errorf("ErrorCode lists %s with %d twice", e.Code, e.Status)
		}
		inCatalogue[key{e.Code, e.Status}] = true
	}
	used := map[key]bool{}
	for _, op := range s.Operations() {
		codes := op.Codes()
		for _, status := range op.Statuses() {
			resp := op.Op.Responses.Status(status).Value
			if status >= 400 && resp.Content.Get("application/json") != nil && len(codes[status]) == 0 {
				t.Errorf("%s: the %d answer names no error codes (an enum of error.code, or x-error-codes)", op, status)
			}
			for _, c := range codes[status] {
				used[key{c, status}] = true
				if !inCatalogue[key{c, status}] {
					t.Errorf("%s: %d %s is not in the ErrorCode catalogue", op, status, c)
				}
			}
		}
	}
	for _, e := range cat {
		if !used[key{e.Code, e.Status}] {
			t.Errorf("ErrorCode lists %d %s, but no operation answers it", e.Status, e.Code)
		}
	}
}

// TestEveryOperationIsDocumented: each operation has an id, a summary, a
// tag naming its function, and documents 500 and 503 (which any request may
// get while an instance starts).
func TestEveryOperationIsDocumented(t *testing.T) {
	s, _ := loadRepoSpec(t)
	ids := map[string]bool{}
	for _, op := range s.Operations() {
		if op.Op.OperationID == "" || ids[op.Op.OperationID] {
			t.Errorf("%s: operationId %q missing or repeated", op, op.Op.OperationID)
		}
		ids[op.Op.OperationID] = true
		if op.Op.Summary == "" {
			t.Errorf("%s: no summary", op)
		}
		if !slices.Contains(op.Op.Tags, op.Function()) {
			t.Errorf("%s: not tagged %s", op, op.Function())
		}
		for _, status := range []int{500, 503} {
			if !slices.Contains(op.Statuses(), status) {
				t.Errorf("%s: no %d answer", op, status)
			}
		}
	}
}
