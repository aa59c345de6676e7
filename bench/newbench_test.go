package main

import (
	"io"
	"strings"
	"testing"
)

// A function that does not build is reported as the error it is (and what
// was started is stopped), not lost in a panic of the clean-up.
func TestNewBenchReportsABuildFailure(t *testing.T) {
	var log strings.Builder
	cfg := Config{
		Repo:      t.TempDir(), // no functions in it: the first build fails
		WorkDir:   t.TempDir(),
		Emulators: emulators{FirestoreHost: "127.0.0.1:1", AuthHost: "127.0.0.1:1"},
		Log:       &log,
		Table:     io.Discard,
	}
	b, err := newBench(t.Context(), cfg)
	if err == nil {
		b.close()
		t.Fatal("newBench succeeded without the functions' sources")
	}
	if b != nil {
		t.Errorf("newBench returned a bench with its error %v", err)
	}
	if !strings.Contains(err.Error(), "go.mod") {
		t.Errorf("error = %v, want the build's (a missing go.mod)", err)
	}
}
