package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestCoverageCommand: an operation no recorded exchange exercised fails the
// command; a documented status never produced is only reported.
func TestCoverageCommand(t *testing.T) {
	s, root := loadRepoSpec(t)
	var all []string
	for _, op := range s.Operations() {
		all = append(all, op.Method+"\t"+op.Path+"\t"+itoa(op.Statuses()[0]))
	}
	cases := []struct {
		name        string
		files       map[string]string
		wantErr     string
		wantMissing []string
	}{
		{name: "every operation", files: map[string]string{"a.tsv": strings.Join(all[:5], "\n") + "\n", "b.tsv": strings.Join(all[5:], "\n") + "\n"}},
		{name: "one missing", files: map[string]string{"a.tsv": strings.Join(all[1:], "\n")}, wantErr: "exercised by no test", wantMissing: []string{s.Operations()[0].String()}},
		{name: "nothing recorded", files: map[string]string{}, wantErr: "no exchanges recorded"},
		{name: "malformed record", files: map[string]string{"a.tsv": "POST /thPublish two-hundred\n"}, wantErr: "want METHOD<tab>PATH<tab>STATUS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var out bytes.Buffer
			err := run(t.Context(), []string{"-root", root, "coverage", dir}, &out)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v\n%s", err, out.String())
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			for _, m := range tc.wantMissing {
				if !strings.Contains(out.String(), "MISSING   "+m) {
					t.Errorf("report does not name %s:\n%s", m, out.String())
				}
			}
			if tc.name == "every operation" && !strings.Contains(out.String(), "untested") {
				t.Errorf("statuses never produced are not reported:\n%s", out.String())
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
