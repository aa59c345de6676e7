package main

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"threadsfunctions.dev/shared/publish"
)

// neverSent are error-code constants that no answer carries, each with why.
// A constant listed here that some code starts using fails the test.
var neverSent = map[string]string{
	// httpx.CodeNotFound: declared with the shared codes, used by no
	// function (an unknown path is the platform's 404, not a function's).
	"CodeNotFound": "not_found",
}

// codeDirs are where the functions' error codes are declared.
var codeDirs = []string{"shared", "functions"}

// specCodes is every code some operation of the spec names.
func specCodes(s *Spec) map[string]bool {
	out := map[string]bool{}
	for _, op := range s.Operations() {
		for _, codes := range op.Codes() {
			for _, c := range codes {
				out[c] = true
			}
		}
	}
	return out
}

// missingCodes lists the constants whose value no operation names.
func missingCodes(consts []GoConst, inSpec map[string]bool) []string {
	var out []string
	for _, c := range consts {
		if _, ok := neverSent[c.Name]; ok {
			continue
		}
		if !inSpec[c.Value] {
			out = append(out, c.Pos+": "+c.Name+" = "+c.Value)
		}
	}
	return out
}

// TestEveryErrorCodeIsInTheSpec parses the Go sources of shared/ and
// functions/ for the error-code constants (Code*: httpx's, auth's,
// signedrequest's, publish's and each function's) and fails when one is in
// no operation's enum of codes.
func TestEveryErrorCodeIsInTheSpec(t *testing.T) {
	s, root := loadRepoSpec(t)
	consts, err := FindStringConsts(root, codeDirs, "Code")
	if err != nil {
		t.Fatal(err)
	}
	if len(consts) < 50 {
		t.Fatalf("found only %d Code* constants: the scan is broken", len(consts))
	}
	for _, m := range missingCodes(consts, specCodes(s)) {
		t.Errorf("error code not in any operation of %s: %s", SpecPath, m)
	}
	for name, value := range neverSent {
		found := false
		for _, c := range consts {
			if c.Name == name && c.Value == value {
				found = true
			}
		}
		if !found {
			t.Errorf("neverSent lists %s = %q, which is no longer declared: remove it", name, value)
		}
		uses, err := IdentUses(root, codeDirs, name)
		if err != nil {
			t.Fatal(err)
		}
		if uses > 0 {
			t.Errorf("%s is listed as never sent but is used %d times: put %q in the spec and remove it from neverSent", name, uses, value)
		}
	}
}

// TestCodeScanFindsWhatIsMissing proves the check can fail: a source tree
// with a code the spec does not know is reported, an excluded one is not.
func TestCodeScanFindsWhatIsMissing(t *testing.T) {
	s, _ := loadRepoSpec(t)
	root := t.TempDir()
	src := `package x

const (
	CodeKnown       = "invalid_json"
	CodeBrandNew    = "brand_new_code"
	CodeNotFound    = "not_found"
	NotACode        = "whatever"
	CodeNotAString  = 3
)
`
	if err := os.MkdirAll(filepath.Join(root, "functions", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "functions", "x", "x.go"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	// Test files are not scanned.
	if err := os.WriteFile(filepath.Join(root, "functions", "x", "x_test.go"), []byte("package x\n\nconst CodeInTest = \"test_only\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	consts, err := FindStringConsts(root, []string{"functions"}, "Code")
	if err != nil {
		t.Fatal(err)
	}
	got := missingCodes(consts, specCodes(s))
	want := []string{"functions/x/x.go:5: CodeBrandNew = brand_new_code"}
	if !slices.Equal(got, want) {
		t.Errorf("missing = %q, want %q", got, want)
	}
}

// TestCallbackReasonsMatchTheSpec: the reasons thAuthCallback redirects
// with (Reason* in functions/thauthcallback) are exactly CallbackReason's.
func TestCallbackReasonsMatchTheSpec(t *testing.T) {
	s, root := loadRepoSpec(t)
	consts, err := FindStringConsts(root, []string{"functions/thauthcallback"}, "Reason")
	if err != nil {
		t.Fatal(err)
	}
	var code []string
	for _, c := range consts {
		code = append(code, c.Value)
	}
	var spec []string
	for _, e := range s.Doc.Components.Schemas["CallbackReason"].Value.OneOf {
		spec = append(spec, e.Value.Const.(string))
	}
	sort.Strings(code)
	sort.Strings(spec)
	if len(code) == 0 || !slices.Equal(code, spec) {
		t.Errorf("thAuthCallback's reasons %q, the spec's CallbackReason %q", code, spec)
	}
}

// TestCountryCodesMatchTheCode: CountryCode's enum is exactly the codes
// publish.IsCountryCode accepts.
func TestCountryCodesMatchTheCode(t *testing.T) {
	s, _ := loadRepoSpec(t)
	var spec []string
	for _, v := range s.Doc.Components.Schemas["CountryCode"].Value.Enum {
		spec = append(spec, v.(string))
	}
	var code []string
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			if c := string([]rune{a, b}); publish.IsCountryCode(c) {
				code = append(code, c)
			}
		}
	}
	sort.Strings(spec)
	if !slices.Equal(spec, code) {
		t.Errorf("CountryCode has %d codes, publish.IsCountryCode accepts %d; they differ", len(spec), len(code))
	}
}
